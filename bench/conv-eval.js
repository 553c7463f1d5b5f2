// Ours, for bench/conv.js: the median time of evaluating a preset's net on all 70,000 MNIST images
// (train + test, chunks of 1000 rows, eval mode): on one engine Network (predictRange, one thread),
// and on the evaluation pool as the trainer evaluates (every core, each split cut into one part per
// thread). The net is the config's "layers" (or its hiddenSize/activation MLP), initialized as the
// trainer does (init, weightInitStd; seed 0). Prints one JSON line.
// node bench/conv-eval.js --config configs/simple-convnet.json [--min-time 2] [--threads N] [--no-pool]
//   [--limit N: only the first N images of each split, for smoke tests]
import { readFileSync } from "node:fs";
import { loadMnistRaw } from "../dist/data/mnist.js";
import { Network, NO_OPTIMIZER, PREDICT_CHUNK, specOf } from "../dist/engine/network.js";
import { checkLayerList, layersFromHiddenSizes } from "../dist/reference/layer-spec.js";
import { buildReferenceNet } from "../dist/reference/net-from-spec.js";
import { Rng } from "../dist/book/rng.js";
import { EvalPool } from "../dist/engine/eval-pool.js";
import { defaultThreads } from "../dist/engine/threads.js";
import { argValue } from "./args.js";

const configFile = argValue("--config", undefined);
if (!configFile) throw new Error("usage: node bench/conv-eval.js --config FILE [--min-time S] [--threads N] [--no-pool]");
const cfg = JSON.parse(readFileSync(configFile, "utf8"));
const minS = Number(argValue("--min-time", "2"));
const dtype = cfg.dtype ?? "float32";
const hidden = Array.isArray(cfg.hiddenSize) ? cfg.hiddenSize : [cfg.hiddenSize ?? 50];
const layers = cfg.layers !== undefined ? checkLayerList(cfg.layers).layers : layersFromHiddenSizes(hidden, cfg.activation ?? "sigmoid");
const ref = buildReferenceNet(layers, new Rng(0), { init: cfg.init ?? "std", weightInitStd: cfg.weightInitStd ?? 0.01 });
const spec = specOf(ref, dtype, PREDICT_CHUNK, NO_OPTIMIZER, 0);
const net = new Network({ ...spec, dtype, inputSize: 784, inputShape: [1, 28, 28], weightDecay: 0, optimizer: NO_OPTIMIZER, maxRows: PREDICT_CHUNK });
net.setParams(ref.params);

const data = await loadMnistRaw();
const limit = Number(argValue("--limit", "0"));
const cut = (s) => (limit > 0 && limit < s.count ? { ...s, count: limit, images: s.images.subarray(0, limit * 784), labels: s.labels.subarray(0, limit) } : s);
const splits = [cut(data.train), cut(data.test)];
const images = splits.reduce((n, s) => n + s.count, 0);
const out = { config: configFile, dtype, images };

/** Median seconds of `fn` (awaited) over ≥ 3 runs and ≥ minS seconds, after one warm-up run. */
async function median(fn) {
  await fn();
  const ts = [];
  const begin = performance.now();
  while (ts.length < 3 || performance.now() - begin < minS * 1000) {
    const t0 = performance.now();
    await fn();
    ts.push((performance.now() - t0) / 1000);
  }
  return ts.sort((a, b) => a - b)[ts.length >> 1];
}

// one Network, one thread: predictRange over both splits (kept packed first, as the trainer keeps them)
for (const s of splits) net.keepImages(s.images);
const pred = new Int32Array(PREDICT_CHUNK);
let correct = 0;
out.eval1_s = await median(() => {
  correct = 0;
  for (const s of splits) {
    for (let c = 0; c < s.count; c += PREDICT_CHUNK) {
      const n = Math.min(PREDICT_CHUNK, s.count - c);
      net.predictRange(s.images, c, n, pred);
      for (let r = 0; r < n; r++) if (pred[r] === s.labels[c + r]) correct++;
    }
  }
});
out.correct = correct;
if (!process.argv.includes("--no-pool")) {
  const pool = new EvalPool(net, splits, Number(argValue("--threads", String(defaultThreads()))));
  out.evalPool_s = await median(() => pool.accuracy([0, 1]));
  out.threads = pool.threads;
  await pool.close();
}
console.log(JSON.stringify(out));
