/**
 * Predictions and accuracy over a whole split, chunk by chunk: the pixels stay bytes and each
 * chunk is normalized as it is gathered, so a 60,000-image pass never holds a float copy of the set.
 */
import { softmax } from "../book/functions.js";
import { argmaxRows } from "../book/matrix.js";
import { PIXEL_SCALE, type MnistSplit } from "../data/mnist.js";
import { Network, predictRows, specOf } from "../engine/network.js";
import { fastKernelsAvailable, type Dtype } from "../engine/wasm.js";
import { MultiLayerNet } from "../reference/multi-layer-net.js";
import { SequentialNet } from "../reference/sequential-net.js";
import { TwoLayerNet } from "../reference/two-layer-net.js";

/** What evaluation needs of a network (TwoLayerNet, MultiLayerNet and SequentialNet have it). */
export interface Predictor {
  readonly outputSize: number;
  /** Class scores or probabilities per row (the argmax is the same). */
  predict(x: Float64Array): Float64Array;
}

const CHUNK = 1000;
/** A layer net's chunk (the book's accuracy() batch): im2col of a conv layer is large per image. */
const LAYER_NET_CHUNK = 100;

/**
 * Predicted class of each of the first `limit` images. With `dtype`, on the engine in that
 * precision, as the trainer evaluates (when the kernels are built), so a saved model scores exactly
 * what its training run recorded; otherwise through the float64 reference network.
 */
export function predictSplit(net: Predictor, split: MnistSplit, limit = split.count, dtype?: Dtype): Int32Array {
  const D = split.rows * split.cols;
  const count = Math.min(limit, split.count);
  const predicted = new Int32Array(count);
  if (dtype && (net instanceof TwoLayerNet || net instanceof MultiLayerNet || net instanceof SequentialNet) && fastKernelsAvailable(dtype)) {
    const spec = specOf(net, dtype, 1);
    const engine = new Network({ ...spec, maxRows: predictRows(spec) });
    engine.setParams({ ...net.params, ...(net instanceof SequentialNet ? net.state : {}) });
    engine.predictRange(split.images, 0, count, predicted);
    return predicted;
  }
  const chunk = net instanceof SequentialNet ? LAYER_NET_CHUNK : CHUNK;
  const x = new Float64Array(Math.min(chunk, count) * D); // [chunk × D]
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const bytes = split.images.subarray(start * D, (start + n) * D);
    for (let i = 0; i < bytes.length; i++) x[i] = PIXEL_SCALE[bytes[i]];
    const y = net.predict(n === x.length / D ? x : x.subarray(0, n * D));
    argmaxRows(y, n, net.outputSize, predicted.subarray(start, start + n));
  }
  return predicted;
}

/**
 * The ten probabilities of each row of x (mnist-predict, the board's drawn digit): the softmax a
 * TwoLayerNet or MultiLayerNet predicts, or the softmax of a SequentialNet's scores (inference mode).
 */
export function predictProbabilities(net: Predictor, x: Float64Array): Float64Array {
  return net instanceof SequentialNet ? softmax(net.predict(x), net.outputSize) : net.predict(x);
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
