/**
 * Predictions and accuracy over a whole split, chunk by chunk: the pixels stay bytes and each
 * chunk is normalized as it is gathered, so a 60,000-image pass never holds a float copy of the set.
 */
import { argmaxRows } from "../book/matrix.js";
import { PIXEL_SCALE, type MnistSplit } from "../data/mnist.js";
import { Network, PREDICT_CHUNK, specOf } from "../engine/network.js";
import { fastKernelsAvailable, type Dtype } from "../engine/wasm.js";
import { MultiLayerNet } from "../reference/multi-layer-net.js";
import { TwoLayerNet } from "../reference/two-layer-net.js";

/** What evaluation needs of a network (TwoLayerNet and MultiLayerNet both have it). */
export interface Predictor {
  readonly outputSize: number;
  predict(x: Float64Array): Float64Array;
}

const CHUNK = 1000;

/**
 * Predicted class of each of the first `limit` images. With `dtype`, on the engine in that
 * precision, as the trainer evaluates (when the kernels are built), so a saved model scores exactly
 * what its training run recorded; otherwise through the float64 reference network.
 */
export function predictSplit(net: Predictor, split: MnistSplit, limit = split.count, dtype?: Dtype): Int32Array {
  const D = split.rows * split.cols;
  const count = Math.min(limit, split.count);
  const predicted = new Int32Array(count);
  if (dtype && (net instanceof TwoLayerNet || net instanceof MultiLayerNet) && fastKernelsAvailable(dtype)) {
    const engine = new Network(specOf(net, dtype, PREDICT_CHUNK));
    engine.setParams(net.params);
    engine.predictRange(split.images, 0, count, predicted);
    return predicted;
  }
  const x = new Float64Array(Math.min(CHUNK, count) * D); // [chunk × D]
  for (let start = 0; start < count; start += CHUNK) {
    const n = Math.min(CHUNK, count - start);
    const bytes = split.images.subarray(start * D, (start + n) * D);
    for (let i = 0; i < bytes.length; i++) x[i] = PIXEL_SCALE[bytes[i]];
    const y = net.predict(n === x.length / D ? x : x.subarray(0, n * D));
    argmaxRows(y, n, net.outputSize, predicted.subarray(start, start + n));
  }
  return predicted;
}

/** Fraction of the first `limit` images classified correctly. */
export function accuracyOnSplit(net: Predictor, split: MnistSplit, limit = split.count): number {
  const predicted = predictSplit(net, split, limit);
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === split.labels[i]) correct++;
  return correct / predicted.length;
}

/** Copy images `indices` of `split` into `x` [n × D] as normalized floats and their labels into `t`. */
export function gatherBatch(split: MnistSplit, indices: Int32Array, x: Float64Array, t: Uint8Array): void {
  const D = split.rows * split.cols;
  for (let r = 0; r < indices.length; r++) {
    const src = indices[r] * D;
    const dst = r * D;
    for (let j = 0; j < D; j++) x[dst + j] = PIXEL_SCALE[split.images[src + j]];
    t[r] = split.labels[indices[r]];
  }
}
