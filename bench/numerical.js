#!/usr/bin/env node
// Seconds per iteration of the numerical gradient at 784-50-10, batch 100: the book's naive loop
// (timed on a sample of parameters and extrapolated to all 39,760: every parameter costs the same
// two forward passes) against the fast incremental one, single-threaded and on --threads threads
// (the main one and the engine's worker pool).
// Run after `npm run build`:  node bench/numerical.js [--json] [--sample N] [--reps N] [--threads N]
import { numericalGradient } from "../dist/book/functions.js";
import { Rng } from "../dist/book/rng.js";
import { loadMnistRaw, PIXEL_SCALE } from "../dist/data/mnist.js";
import { fastNumericalGradient } from "../dist/reference/numerical-gradient.js";
import { defaultThreads, NumericalGradientPool } from "../dist/engine/numerical-gradient-pool.js";
import { TwoLayerNet } from "../dist/reference/two-layer-net.js";

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const json = args.includes("--json");
const sample = arg("--sample", 40);
const reps = arg("--reps", 7);
const threads = arg("--threads", defaultThreads());

const data = await loadMnistRaw();
const D = 784, B = 100;
const rng = new Rng(1);
const net = new TwoLayerNet(D, 50, 10, { weightInitStd: 0.01, rng });
const idx = rng.choice(data.train.count, B);
const x = new Float64Array(B * D);
const t = new Uint8Array(B);
for (let r = 0; r < B; r++) {
  for (let j = 0; j < D; j++) x[r * D + j] = PIXEL_SCALE[data.train.images[idx[r] * D + j]];
  t[r] = data.train.labels[idx[r]];
}
const totalParams = Object.values(net.params).reduce((s, p) => s + p.length, 0);
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const log = (s) => { if (!json) process.stdout.write(s + "\n"); };

log(`numerical gradient, 784-50-10, batch ${B} (${totalParams} parameters); machine: ${defaultThreads()} cores (shared: figures vary with load)`);
// Naive: the book's loop (core/functions numericalGradient) over a sample of W1 entries, in place.
const lossOf = () => net.loss(x, t);
numericalGradient(lossOf, net.params.W1.subarray(0, 2)); // warm-up
const t0 = performance.now();
numericalGradient(lossOf, net.params.W1.subarray(100 * 50, 100 * 50 + sample));
const naivePerParam = (performance.now() - t0) / 1000 / sample;
const naive = naivePerParam * totalParams;
log(`naive (the book's loop)   ${naive.toFixed(1)} s/iteration  (extrapolated: ${sample} parameters timed, ${(naivePerParam * 1000).toFixed(2)} ms each, × ${totalParams})`);

const single = [];
fastNumericalGradient(net, x, t);
for (let r = 0; r < reps; r++) {
  const s = performance.now();
  fastNumericalGradient(net, x, t);
  single.push((performance.now() - s) / 1000);
}
log(`fast, 1 thread            ${median(single).toFixed(4)} s/iteration  (median of ${reps})`);

const pool = new NumericalGradientPool(threads);
const pooled = [];
try {
  for (let r = 0; r < 3; r++) await pool.gradient(net, x, t); // start-up and JIT warm-up
  for (let r = 0; r < reps; r++) {
    const s = performance.now();
    await pool.gradient(net, x, t);
    pooled.push((performance.now() - s) / 1000);
  }
} finally {
  await pool.close();
}
log(`${`fast, ${threads} thread${threads === 1 ? "" : "s"}`.padEnd(26)}${median(pooled).toFixed(4)} s/iteration  (median of ${reps})`);
const best = Math.min(median(single), median(pooled));
log(`ratio naive / fast        ${Math.round(naive / best)}×  (10,000 iterations: naive ≈ ${(naive * 1e4 / 86400).toFixed(0)} days, fast ≈ ${(best * 1e4 / 60).toFixed(1)} min of gradients)`);
if (json) {
  process.stdout.write(JSON.stringify({
    benchmark: "numerical-gradient", shape: "784-50-10", batch: B, parameters: totalParams,
    naive: { secondsPerIteration: naive, extrapolated: true, sampledParameters: sample },
    fast1: { secondsPerIteration: median(single), reps },
    fastThreads: { threads, secondsPerIteration: median(pooled), reps },
    ratio: naive / best,
  }) + "\n");
}
