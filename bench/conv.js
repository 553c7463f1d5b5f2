// The conv presets on the engine against PyTorch CPU, side by side, alternating (part of `npm run bench`
// unless --no-conv; alone: node bench/conv.js [--repeats N] [--conv-presets simple-convnet,pytorch-example,…]
// [--skip-eval] [--eval-limit N] [--min-time S] [--torch-threads 1,2]).
//   presets   ONE epoch of each preset: `mnist-train --config configs/<preset>.json --epochs 1 --seed 0`
//             against bench/torch_beyond.py --epochs 1 on the same recipe, at 1 and 2 threads (PyTorch's
//             best counts). Two rows: the training loop (ours: the trainer's wallTimeS; PyTorch: its loopS,
//             the same work: the steps, the book's loss pass when lossPass is "after", and the trainer's
//             accuracy evaluations over the training and test images at iteration 0 and after the last),
//             and the whole process (data loading, start-up and writing the run folder included).
//   eval      evaluating the preset's net on all 70,000 images (chunks of 1000): ours on one thread (one
//             Network, predictRange) and on the evaluation pool (every core, as the trainer evaluates),
//             PyTorch in eval mode under no_grad (bench/conv-eval.js, torch_beyond.py --eval-bench).
// A preset is a name in configs/ or a path to a .json file. A missing preset or a missing peer is a
// line saying so, not a failure. Prints a markdown table (also returned by convBench() for bench/run.js).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { argValue } from "./args.js";
import { dataDir, f, median, PY, root, tableHead, timed, torchEnv, torchThreads } from "./peer.js";

export const DEFAULT_CONV_PRESETS = ["simple-convnet", "pytorch-example", "best-conv"];


/** configs/<name>.json for a name, the path itself for a path. */
function presetFile(preset) {
  return preset.includes("/") || preset.endsWith(".json") ? preset : join("configs", `${preset}.json`);
}

export function convBench({ repeats = 1, presets = DEFAULT_CONV_PRESETS, evalBench = true, evalLimit = 0, minTime = 2, threads = [1, 2], log = (s) => process.stderr.write(s + "\n") } = {}) {
  const haveTorch = existsSync(PY) && spawnSync(PY, ["-c", "import torch"], { env: torchEnv, stdio: "ignore" }).status === 0;
  const lines = ["", "Conv nets (the engine) against PyTorch CPU (float32, OpenBLAS), one epoch, medians, ours and the peer alternating:", ""];
  if (!haveTorch) return [...lines, "PyTorch: skipped: peer not available (/usr/bin/python3 has no torch)"].join("\n");
  const rows = [];
  const skipped = [];
  for (const preset of presets) {
    const config = presetFile(preset);
    const label = basename(config, ".json");
    if (!existsSync(resolve(root, config))) {
      skipped.push(`${config}: skipped: no such preset in this checkout`);
      continue;
    }
    const cfg = JSON.parse(readFileSync(resolve(root, config), "utf8"));
    const peerNotes = [];
    if (cfg.augment) peerNotes.push("PyTorch without the augmentation (ours augments)");
    if (cfg.dtype && cfg.dtype !== "float32") peerNotes.push(`ours ${cfg.dtype}, PyTorch float32`);
    // one epoch: ours and PyTorch at each thread count, alternating
    const loop = { ours: [], torch: Object.fromEntries(threads.map((t) => [t, []])) };
    const whole = { ours: [], torch: Object.fromEntries(threads.map((t) => [t, []])) };
    let oursAcc = null, torchAcc = null, iters = null, torchIters = null, evaluations = null, failure = null;
    try {
      for (let r = 0; r < repeats; r++) {
        const out = mkdtempSync(join(tmpdir(), "mnist-bench-"));
        try {
          log(`conv: ${label}: ours, one epoch (${r + 1}/${repeats})`);
          const o = timed("node", ["bin/mnist-train.js", "--config", config, "--epochs", "1", "--seed", "0", "--quiet", "--json", "--force", "--out", out]);
          whole.ours.push(o.wall);
          loop.ours.push(typeof o.json.wallTimeS === "number" ? o.json.wallTimeS : o.wall);
          oursAcc = o.json.testAccuracy;
          iters = o.json.iterations ?? iters;
        } finally {
          rmSync(out, { recursive: true, force: true });
        }
        for (const t of threads) {
          log(`conv: ${label}: PyTorch, ${t} thread(s), one epoch (${r + 1}/${repeats})`);
          const p = timed(PY, ["bench/torch_beyond.py", "--data", dataDir, "--config", config, "--seeds", "0", "--epochs", "1", "--threads", String(t)], torchEnv);
          whole.torch[t].push(p.wall);
          loop.torch[t].push(p.json.loopS ?? p.json.trainS);
          torchAcc = p.json.testAccuracy;
          torchIters = p.json.iters;
          evaluations = p.json.evaluations;
        }
      }
    } catch (err) {
      failure = err.message;
      log(`conv: ${label}: ${failure}`);
    }
    const acc = `ours test ${f(oursAcc, 4)}, PyTorch ${f(torchAcc, 4)}`;
    const its = iters ?? torchIters;
    const extra = [...peerNotes, ...(failure ? [`failed: ${failure}`] : [])].join("; ");
    rows.push([
      `${label}: one epoch${its != null ? ` (${its} iterations)` : ""}, training loop s`,
      median(loop.ours),
      threads.map((t) => median(loop.torch[t])),
      [acc, evaluations != null ? `${evaluations} evaluations of the training and test sets in the loop` : "", extra].filter(Boolean).join("; "),
    ]);
    rows.push([`${label}: one epoch, whole process s`, median(whole.ours), threads.map((t) => median(whole.torch[t])), ""]);
    if (!evalBench) continue;
    // a 70,000-image evaluation of the preset's net, alternating
    const eval1 = [], evalPool = [], torchEval = Object.fromEntries(threads.map((t) => [t, []]));
    let poolThreads = null, images = null;
    const limit = evalLimit > 0 ? ["--limit", String(evalLimit)] : [];
    const limitPy = evalLimit > 0 ? ["--eval-limit", String(evalLimit)] : [];
    try {
      for (let r = 0; r < Math.max(repeats, 3); r++) {
        log(`conv: ${label}: evaluation, ours (${r + 1}/${Math.max(repeats, 3)})`);
        const o = timed("node", ["bench/conv-eval.js", "--config", config, "--min-time", String(minTime), ...limit]).json;
        eval1.push(o.eval1_s);
        evalPool.push(o.evalPool_s);
        poolThreads = o.threads;
        images = o.images;
        for (const t of threads) {
          log(`conv: ${label}: evaluation, PyTorch, ${t} thread(s)`);
          torchEval[t].push(timed(PY, ["bench/torch_beyond.py", "--data", dataDir, "--config", config, "--eval-bench", "--threads", String(t), "--min-time", String(minTime), ...limitPy], torchEnv).json.eval_s);
        }
      }
    } catch (err) {
      log(`conv: ${label}: ${err.message}`);
      rows.push([`${label}: evaluation`, null, threads.map(() => null), `failed: ${err.message}`]);
      continue;
    }
    const n = images != null ? images.toLocaleString("en-US") : "70,000";
    rows.push([`${label}: evaluation of ${n} images s, ours 1 thread`, median(eval1), threads.map((t) => median(torchEval[t])), "", 3]);
    rows.push([`${label}: evaluation of ${n} images s, ours ${poolThreads} threads (the trainer's pool)`, median(evalPool), threads.map((t) => median(torchEval[t])), "", 3]);
  }
  if (rows.length) {
    lines.push(tableHead(threads));
    for (const [label, ours, torch, note, digits = 2] of rows) {
      const best = torch.every((x) => x != null) ? Math.min(...torch) : null;
      lines.push(`| ${label} | ${f(ours, digits)} | ${torch.map((x) => f(x, digits)).join(" | ")} | ${ours != null && best ? `${(ours / best).toFixed(2)}×` : "—"} | ${note} |`);
    }
    lines.push(
      "",
      "Ours: the preset's dtype (float32 unless it says), the default threads (every core); `--epochs 1 --seed 0`. PyTorch: bench/torch_beyond.py, the same net, init, optimizer, " +
        "schedule, sampling, loss pass and evaluations, float32; augmentation not reproduced (timing only). Training loop: ours the trainer's wallTimeS, PyTorch its loopS " +
        "(both without loading the data). Evaluation: all training and test images in chunks of 1000, eval mode; medians of ≥ 3 runs of ≥ " +
        `${minTime} s each.`,
    );
  }
  for (const s of skipped) lines.push("", s);
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(
    convBench({
      repeats: Number(argValue("--repeats", "1")),
      presets: argValue("--conv-presets", DEFAULT_CONV_PRESETS.join(",")).split(",").filter(Boolean),
      evalBench: !process.argv.includes("--skip-eval"),
      evalLimit: Number(argValue("--eval-limit", "0")),
      minTime: Number(argValue("--min-time", "2")),
      threads: torchThreads(argValue("--torch-threads", "1,2")),
    }) + "\n",
  );
}
