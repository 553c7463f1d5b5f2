// Ours, for bench/deep.js: the median time of one training iteration (batch from the packed images,
// forward, backward, Adam update) of a 784-H…-10 relu MLP on the engine, and of evaluating it on
// all 70,000 MNIST images on the evaluation pool, both on every core as the trainer runs them (the
// step cut between the threads, src/engine/split.ts). Prints one JSON line.
// node bench/deep-step.js [--hidden 1024,1024] [--dtype float32] [--threads N] [--eval]
import { loadMnistRaw } from "../dist/data/mnist.js";
import { denseLayers, Network, PREDICT_CHUNK } from "../dist/engine/network.js";
import { MultiLayerNet } from "../dist/reference/multi-layer-net.js";
import { Rng } from "../dist/book/rng.js";
import { EvalPool } from "../dist/engine/eval-pool.js";
import { WorkerPool } from "../dist/engine/pool.js";
import { StepSplit } from "../dist/engine/split.js";
import { defaultThreads } from "../dist/engine/threads.js";
import { argValue, timeIt } from "./args.js";

const hidden = argValue("--hidden", "1024,1024").split(",").map(Number);
const dtype = argValue("--dtype", "float32");
const minS = Number(argValue("--min-time", "2"));
const data = await loadMnistRaw();
const rng = new Rng(0);
const ref = new MultiLayerNet([784, ...hidden, 10], { activation: "relu", init: "he", rng });
const adam = { optimizer: "adam", momentum: 0.9, rmsDecay: 0.99, beta1: 0.9, beta2: 0.999 };
const net = new Network({ dtype, inputSize: 784, layers: denseLayers(hidden, 10, "relu"), weightDecay: 0, optimizer: adam, maxRows: PREDICT_CHUNK });
net.setParams(ref.params);
const threads = Number(argValue("--threads", String(defaultThreads())));
const workers = WorkerPool.forThreads(threads);
const split = workers ? new StepSplit(net.a, workers) : undefined;
net.stepSplit = split;
net.keepImages(data.train.images);
net.keepImages(data.test.images);
const idx = new Int32Array(100);
const out = { hidden, dtype, threads };
out.step_s = timeIt(() => {
  rng.choice(60000, 100, idx);
  net.step(data.train.images, data.train.labels, idx, 1e-3, rng, true);
}, 20, minS);
if (process.argv.includes("--eval")) {
  // as the trainer evaluates: the pool, every core, each split cut into one part per thread
  const pool = new EvalPool(net, [data.train, data.test], workers ?? 1);
  await pool.accuracy([0, 1]);
  const ts = [];
  const begin = performance.now();
  while (ts.length < 3 || performance.now() - begin < minS * 1000) {
    const t0 = performance.now();
    await pool.accuracy([0, 1]);
    ts.push((performance.now() - t0) / 1000);
  }
  out.eval_s = ts.sort((a, b) => a - b)[ts.length >> 1];
  await pool.close();
}
split?.close();
await workers?.close();
console.log(JSON.stringify(out));
