// Ours: (a) one training step at 784-50-10, batch 100 (batch + forward + backward + update), and a
// whole book iteration (the step and the book's extra loss pass); (b) accuracy over the full
// 60,000 + 10,000 sets; and --augment's cost beside the step: augmentBatch of 100 images (default
// bounds), one step of a 784-100-100-10 relu net (SGD), and the book's step on one batch from its
// own bytes (as an augmented batch is: its copies are not among the packed images) and from the
// packed images. Prints one JSON line.
// node bench/micro.js [--dtype float32|float64]
import { loadMnistRaw } from "../dist/data/mnist.js";
import { augmentBatch } from "../dist/data/augment.js";
import { denseLayers, Network, NO_OPTIMIZER } from "../dist/engine/network.js";
import { TwoLayerNet } from "../dist/reference/two-layer-net.js";
import { MultiLayerNet } from "../dist/reference/multi-layer-net.js";
import { Rng } from "../dist/book/rng.js";
import { argValue, timeIt } from "./args.js";

const dtype = argValue("--dtype", "float32");
const data = await loadMnistRaw();
const rng = new Rng(0);
const net = new TwoLayerNet(784, 50, 10, { rng });
const fast = new Network({ dtype, inputSize: 784, layers: denseLayers([50], 10, "sigmoid"), weightDecay: 0, optimizer: NO_OPTIMIZER, maxRows: 1000 });
// the job keeps both splits packed in the arena (a one-time cost, timed here apart)
const tPack = performance.now();
fast.keepImages(data.train.images);
fast.keepImages(data.test.images);
const packS = (performance.now() - tPack) / 1000;
fast.setParams(net.params);
const idx = new Int32Array(100);
// (a) the same work as the peers' step: the batch, forward, backward, SGD update
const stepS = timeIt(() => {
  rng.choice(60000, 100, idx);
  fast.step(data.train.images, data.train.labels, idx, 0.01);
}, 300, 1);
// a whole book iteration: the step and the book's extra loss pass
const iterS = timeIt(() => {
  rng.choice(60000, 100, idx);
  fast.trainStep(data.train.images, data.train.labels, idx, 0.01);
}, 300, 1);
// --augment: the copies of a batch of 100, against the step they feed
const bounds = { shift: 2, rotate: 10, scale: 0.1 };
const augmented = new Uint8Array(100 * 784);
const augmentS = timeIt(() => {
  rng.choice(60000, 100, idx);
  augmentBatch(data.train.images, idx, augmented, rng, bounds);
}, 300, 1);
// the book's step on one batch, from the packed images and from the batch's own bytes (as an augmented batch is)
const rows = Int32Array.from(idx.keys());
const labels = Uint8Array.from(idx, (i) => data.train.labels[i]);
const packedStepS = timeIt(() => fast.step(data.train.images, data.train.labels, idx, 0.01), 300, 1);
const bytesStepS = timeIt(() => fast.step(augmented, labels, rows, 0.01), 300, 1);
const mlpRef = new MultiLayerNet([784, 100, 100, 10], { activation: "relu", init: "he", rng });
const mlp = new Network({ dtype, inputSize: 784, layers: denseLayers([100, 100], 10, "relu"), weightDecay: 0, optimizer: NO_OPTIMIZER, maxRows: 1000 });
mlp.keepImages(data.train.images);
mlp.setParams(mlpRef.params);
const stepMlpS = timeIt(() => {
  rng.choice(60000, 100, idx);
  mlp.step(data.train.images, data.train.labels, idx, 0.01, rng);
}, 300, 1);
const out = new Int32Array(60000);
const evalS = timeIt(() => {
  fast.predictRange(data.train.images, 0, 60000, out);
  fast.predictRange(data.test.images, 0, 10000, out);
}, 5, 1);
console.log(JSON.stringify({ step_s: stepS, iter_s: iterS, eval_full_s: evalS, pack_s: packS, augment_s: augmentS, augment_per_step: augmentS / stepS, step_mlp_s: stepMlpS, augment_per_mlp_step: augmentS / stepMlpS, step_from_bytes_s: bytesStepS, step_same_batch_s: packedStepS }));
