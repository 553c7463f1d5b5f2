/**
 * The book's TwoLayerNet (ch04/two_layer_net.py): affine → sigmoid → affine → softmax, trained on
 * cross-entropy. Parameters are flat row-major Float64Arrays (float64 is the reference precision):
 *   W1 [inputSize × hiddenSize]   b1 [hiddenSize]
 *   W2 [hiddenSize × outputSize]  b2 [outputSize]
 * A batch `x` is N rows of inputSize values (length N×inputSize); labels `t` are N indices or
 * N×outputSize one-hot values.
 */
import { crossEntropyError, numericalGradient, softmaxRowsInto, type FloatArray, type Labels } from "../book/functions.js";
import { argmaxRows, matmul, matmulTransA, matmulTransB, sumRows } from "../book/matrix.js";
import { Rng } from "../book/rng.js";

export const PARAM_NAMES = ["W1", "b1", "W2", "b2"] as const;
export type ParamName = (typeof PARAM_NAMES)[number];
export type Params = Record<ParamName, Float64Array>;
export type Grads = Params;

export interface TwoLayerNetOptions {
  /** Standard deviation of the Gaussian initial weights (the book's 0.01). */
  weightInitStd?: number;
  /** Generator for the initial weights; defaults to `new Rng(seed ?? 0)`. */
  rng?: Rng;
  seed?: number;
}

export class TwoLayerNet {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  readonly params: Params;

  constructor(inputSize: number, hiddenSize: number, outputSize: number, options: TwoLayerNetOptions = {}) {
    for (const [name, v] of [["inputSize", inputSize], ["hiddenSize", hiddenSize], ["outputSize", outputSize]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer (got ${v})`);
    }
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.outputSize = outputSize;
    const std = options.weightInitStd ?? 0.01;
    const rng = options.rng ?? new Rng(options.seed ?? 0);
    // Same draw order as the book: all of W1 (row-major, like np.random.randn(in, hid)), then W2.
    this.params = {
      W1: rng.fillNormal(new Float64Array(inputSize * hiddenSize), std),
      b1: new Float64Array(hiddenSize),
      W2: rng.fillNormal(new Float64Array(hiddenSize * outputSize), std),
      b2: new Float64Array(outputSize),
    };
  }

  /** Rows in a batch, checking that `x` is whole rows. */
  batchSize(x: FloatArray): number {
    const n = x.length / this.inputSize;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`x has ${x.length} values: not a whole number of ${this.inputSize}-wide rows`);
    return n;
  }

  /** Softmax probabilities y [N × outputSize]. */
  predict(x: FloatArray): Float64Array {
    return this.forward(x).y;
  }

  /** Mean cross-entropy of the batch. */
  loss(x: FloatArray, t: Labels): number {
    return crossEntropyError(this.predict(x), t, this.outputSize);
  }

  /** Fraction of rows whose most probable class is the label (argmax of t when one-hot). */
  accuracy(x: FloatArray, t: Labels): number {
    return accuracyOf(this.predict(x), t, this.batchSize(x), this.outputSize);
  }

  /** Back-propagation with the book's formulas (dy = (y − t)/N, …). */
  gradient(x: FloatArray, t: Labels): Grads {
    const { W2 } = this.params;
    const n = this.batchSize(x);
    const I = this.inputSize, H = this.hiddenSize, O = this.outputSize;
    const { z1, y } = this.forward(x);

    // dy [N × O] = (y − t) / N
    const dy = softmaxCrossEntropyBackward(y, t, n, O);
    const grads: Grads = {
      W1: new Float64Array(I * H),
      b1: new Float64Array(H),
      W2: matmulTransA(z1, dy, n, H, O, new Float64Array(H * O)), // [H × O] = z1ᵀ · dy
      b2: sumRows(dy, n, O, new Float64Array(O)),
    };
    // dz1 [N × H] = σ'(a1) ⊙ (dy · W2ᵀ), with σ'(a1) = (1 − z1) z1
    const dz1 = matmulTransB(dy, W2, n, O, H, new Float64Array(n * H));
    for (let i = 0; i < dz1.length; i++) dz1[i] *= (1 - z1[i]) * z1[i];
    matmulTransA(x, dz1, n, I, H, grads.W1); // [I × H] = xᵀ · dz1
    sumRows(dz1, n, H, grads.b1);
    return grads;
  }

  /** The book's numerical gradient: central differences of loss() over every parameter (slow). */
  numericalGradient(x: FloatArray, t: Labels): Grads {
    const lossOf = () => this.loss(x, t);
    return {
      W1: numericalGradient(lossOf, this.params.W1),
      b1: numericalGradient(lossOf, this.params.b1),
      W2: numericalGradient(lossOf, this.params.W2),
      b2: numericalGradient(lossOf, this.params.b2),
    };
  }

  /** Plain SGD: θ ← θ − lr · g. */
  sgdStep(grads: Grads, lr: number): void {
    for (const name of PARAM_NAMES) {
      const p = this.params[name];
      const g = grads[name];
      for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
    }
  }

  /** Forward pass keeping the hidden activations: z1 [N × H], y [N × O]. */
  forward(x: FloatArray): { z1: Float64Array; y: Float64Array } {
    const { W1, b1, W2, b2 } = this.params;
    const n = this.batchSize(x);
    const I = this.inputSize, H = this.hiddenSize, O = this.outputSize;
    const z1 = matmul(x, W1, n, I, H, new Float64Array(n * H), b1); // a1 = x·W1 + b1
    for (let i = 0; i < z1.length; i++) z1[i] = 1 / (1 + Math.exp(-z1[i])); // z1 = σ(a1)
    const a2 = matmul(z1, W2, n, H, O, new Float64Array(n * O), b2);
    softmaxRowsInto(a2, O, a2);
    return { z1, y: a2 };
  }
}

/** dy [n × classes] = (y − t) / n: the gradient of the mean cross-entropy through the softmax. */
export function softmaxCrossEntropyBackward(y: Float64Array, t: Labels, n: number, classes: number): Float64Array {
  const O = classes;
  const dy = new Float64Array(n * O);
  const onehot = t.length === n * O && t.length !== n;
  if (!onehot && t.length !== n) throw new RangeError(`t has ${t.length} values; expected ${n} labels or ${n * O} one-hot values`);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < O; k++) {
      const tk = onehot ? t[r * O + k] : t[r] === k ? 1 : 0;
      dy[r * O + k] = (y[r * O + k] - tk) / n;
    }
  }
  return dy;
}

/** Fraction of the n rows of y [n × classes] whose argmax is the label (the book's accuracy()). */
export function accuracyOf(y: Float64Array, t: Labels, n: number, classes: number): number {
  const predicted = argmaxRows(y, n, classes);
  const labels = labelIndices(t, n, classes);
  let correct = 0;
  for (let i = 0; i < n; i++) if (predicted[i] === labels[i]) correct++;
  return correct / n;
}

/** Label indices from index labels or one-hot rows (argmax, as the book's accuracy() does). */
export function labelIndices(t: Labels, n: number, classes: number): ArrayLike<number> {
  if (t.length === n) return t;
  if (t.length === n * classes) {
    const f = t instanceof Float64Array || t instanceof Float32Array ? t : Float64Array.from(t as ArrayLike<number>);
    return argmaxRows(f, n, classes);
  }
  throw new RangeError(`t has ${t.length} values; expected ${n} labels or ${n * classes} one-hot values`);
}
