// Deeper nets on the engine against PyTorch CPU, side by side, alternating (part of `npm run bench`;
// alone: node bench/deep.js [--repeats N] [--presets fast,best-mlp] [--skip-presets] [--torch-threads 1,2]).
//   presets   whole-process time of `mnist-train --config configs/<preset>.json --seed 0` against
//             bench/torch_beyond.py on the same recipe (PyTorch at 1 and 2 threads: its best counts)
//   dense     one training iteration of a 784-1024-1024-10 relu net with Adam (batch 100)
//   eval      evaluating a 784-800-10 net on all 70,000 images
// Prints a markdown table (also returned by deepBench() for bench/run.js).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { argValue } from "./args.js";
import { dataDir, f, median, PY, tableHead, timed, torchEnv, torchThreads } from "./peer.js";


export function deepBench({ repeats = 1, presets = ["fast", "best-mlp"], threads = [1, 2], log = (s) => process.stderr.write(s + "\n") } = {}) {
  const haveTorch = existsSync(PY) && spawnSync(PY, ["-c", "import torch"], { env: torchEnv, stdio: "ignore" }).status === 0;
  const lines = ["", "Deeper nets (the engine) against PyTorch CPU (float32, OpenBLAS), medians, ours and the peer alternating:", ""];
  if (!haveTorch) return [...lines, "PyTorch: skipped: peer not available (/usr/bin/python3 has no torch)"].join("\n");
  const rows = [];
  for (const preset of presets) {
    const config = join("configs", `${preset}.json`);
    const ours = [], oursAcc = [], torch = Object.fromEntries(threads.map((t) => [t, []]));
    let torchAcc = null;
    for (let r = 0; r < repeats; r++) {
      const out = mkdtempSync(join(tmpdir(), "mnist-bench-"));
      try {
        log(`deep: ${preset}: ours (${r + 1}/${repeats})`);
        const o = timed("node", ["bin/mnist-train.js", "--config", config, "--seed", "0", "--quiet", "--json", "--force", "--out", out]);
        ours.push(o.wall);
        oursAcc.push(o.json.testAccuracy);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
      for (const t of threads) {
        log(`deep: ${preset}: PyTorch, ${t} thread(s) (${r + 1}/${repeats})`);
        const p = timed(PY, ["bench/torch_beyond.py", "--data", dataDir, "--config", config, "--seeds", "0", "--threads", String(t)], torchEnv);
        torch[t].push(p.wall);
        torchAcc = p.json.test_accuracy ?? p.json.testAccuracy ?? torchAcc;
      }
    }
    const best = Math.min(...threads.map((t) => median(torch[t])));
    rows.push([`configs/${preset}.json, whole process s`, median(ours), threads.map((t) => median(torch[t])), best, `ours test ${f(median(oursAcc), 4)}${torchAcc != null ? `, PyTorch ${f(torchAcc, 4)}` : ""}`]);
  }
  // one iteration of 784-1024-1024-10 (Adam), and a 70,000-image evaluation of 784-800-10
  for (const [label, args, field, scale] of [
    ["784-1024-1024-10 Adam, one iteration ms", ["--hidden", "1024,1024"], "step_s", 1000],
    ["784-800-10, evaluation of 70,000 images s", ["--hidden", "800", "--eval"], "eval_s", 1],
  ]) {
    const ours = [], torch = Object.fromEntries(threads.map((t) => [t, []]));
    for (let r = 0; r < Math.max(repeats, 3); r++) {
      log(`deep: ${label}: ours`);
      ours.push(timed("node", ["bench/deep-step.js", ...args]).json[field] * scale);
      for (const t of threads) {
        log(`deep: ${label}: PyTorch, ${t} thread(s)`);
        torch[t].push(timed(PY, ["bench/torch_step.py", "--data", dataDir, "--threads", String(t), ...args], torchEnv).json[field] * scale);
      }
    }
    const best = Math.min(...threads.map((t) => median(torch[t])));
    rows.push([label, median(ours), threads.map((t) => median(torch[t])), best, ""]);
  }
  lines.push(tableHead(threads));
  for (const [label, ours, torch, best, notes] of rows) {
    lines.push(`| ${label} | ${f(ours)} | ${torch.map((x) => f(x)).join(" | ")} | ${ours != null && best ? `${(ours / best).toFixed(2)}×` : "—"} | ${notes} |`);
  }
  lines.push("", "Ours: float32, the default threads (every core). Presets: one run each of ours and PyTorch's per repeat (seed 0); PyTorch (bench/torch_beyond.py) also does the trainer's loss pass (lossPass \"after\") and its accuracy evaluations, as ours does.");
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const presets = process.argv.includes("--skip-presets") ? [] : argValue("--presets", "fast,best-mlp").split(",");
  process.stdout.write(deepBench({ repeats: Number(argValue("--repeats", "1")), presets, threads: torchThreads(argValue("--torch-threads", "1,2")) }) + "\n");
}
