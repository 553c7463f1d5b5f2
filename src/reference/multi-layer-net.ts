/**
 * A multi-layer perceptron beyond the book's chapter 4 (the layers of its chapter 6): any number of
 * hidden layers, sigmoid / ReLU / tanh, Gaussian initialization by a fixed std, Xavier or He, L2
 * weight decay and (inverted) dropout. The reference implementation: float64, plain loops on the
 * reference kernels, written like two-layer-net.ts. Shapes, with sizes = [I, H1, …, Hn, O] and
 * L = n + 1 affine layers:
 *   Wl [sizes[l−1] × sizes[l]]   bl [sizes[l]]        (l = 1 … L, row-major Float64Arrays)
 *   x [N × I] → z1 [N × H1] → … → zn [N × Hn] → y = softmax(zn·WL + bL) [N × O]
 * Loss: mean cross-entropy + ½ λ Σ_l ΣWl² (weights only, as the book's ch06 MultiLayerNet).
 * Dropout (train only, inverted): after each hidden activation z ← z ⊙ m, m = 1/(1−p) with
 * probability 1 − p, else 0; the masks are arguments, so a test can fix them.
 *
 * With the book's settings (one hidden layer, sigmoid, std init, no decay, no dropout) it draws the
 * same initial weights (W1 then W2) and computes bit for bit what TwoLayerNet computes.
 */
import { crossEntropyError, numericalGradient, softmaxRowsInto, type FloatArray, type Labels } from "../book/functions.js";
import { argmaxRows, matmul, matmulTransA, matmulTransB, sumRows } from "../book/matrix.js";
import { Rng } from "../book/rng.js";
import { accuracyOf, softmaxCrossEntropyBackward } from "./two-layer-net.js";

export const ACTIVATIONS = ["sigmoid", "relu", "tanh"] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export const INITS = ["std", "xavier", "he"] as const;
export type Init = (typeof INITS)[number];

export type MlpParams = Record<string, Float64Array>;

export interface MlpOptions {
  activation?: Activation;
  /** std: N(0, weightInitStd²); xavier: N(0, 1/fan_in); he: N(0, 2/fan_in) (the book's ch06 choices). */
  init?: Init;
  weightInitStd?: number;
  /** λ of the L2 penalty ½ λ Σ W². */
  weightDecay?: number;
  /** Dropout probability of the hidden units (training passes only). */
  dropout?: number;
  rng?: Rng;
  seed?: number;
}

/** The names of the parameters of an L-layer net: W1, b1, …, WL, bL. */
export function mlpParamNames(layers: number): string[] {
  const names: string[] = [];
  for (let l = 1; l <= layers; l++) names.push(`W${l}`, `b${l}`);
  return names;
}

/** Std of layer l's initial weights for a fan-in of `fanIn` units. */
export function initStd(init: Init, weightInitStd: number, fanIn: number): number {
  return init === "xavier" ? Math.sqrt(1 / fanIn) : init === "he" ? Math.sqrt(2 / fanIn) : weightInitStd;
}

/** z = act(a) in place. */
export function activate(act: Activation, a: { length: number; [i: number]: number }): void {
  if (act === "sigmoid") for (let i = 0; i < a.length; i++) a[i] = 1 / (1 + Math.exp(-a[i]));
  else if (act === "relu") for (let i = 0; i < a.length; i++) a[i] = a[i] > 0 ? a[i] : 0;
  else for (let i = 0; i < a.length; i++) a[i] = Math.tanh(a[i]);
}

/** d ← d ⊙ act'(a), written in terms of the activation's output z = act(a). */
export function activationBackward(act: Activation, z: { length: number; [i: number]: number }, d: { [i: number]: number }): void {
  if (act === "sigmoid") for (let i = 0; i < z.length; i++) d[i] *= (1 - z[i]) * z[i];
  else if (act === "relu") for (let i = 0; i < z.length; i++) d[i] = z[i] > 0 ? d[i] : 0;
  else for (let i = 0; i < z.length; i++) d[i] *= 1 - z[i] * z[i];
}

export class MultiLayerNet {
  readonly sizes: readonly number[];
  readonly layers: number;
  readonly activation: Activation;
  readonly weightDecay: number;
  readonly dropout: number;
  readonly params: MlpParams;

  constructor(sizes: readonly number[], options: MlpOptions = {}) {
    if (sizes.length < 2) throw new RangeError("an MultiLayerNet needs at least an input and an output size");
    for (const v of sizes) if (!Number.isInteger(v) || v < 1) throw new RangeError(`layer sizes must be positive integers (got ${v})`);
    const dropout = options.dropout ?? 0;
    if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`dropout must be in [0, 1) (got ${dropout})`);
    this.sizes = [...sizes];
    this.layers = sizes.length - 1;
    this.activation = options.activation ?? "sigmoid";
    this.weightDecay = options.weightDecay ?? 0;
    this.dropout = dropout;
    const rng = options.rng ?? new Rng(options.seed ?? 0);
    const init = options.init ?? "std";
    const std = options.weightInitStd ?? 0.01;
    this.params = {};
    // All of W1 (row-major), then W2, …: the book's draw order; biases start at 0.
    for (let l = 1; l <= this.layers; l++) {
      this.params[`W${l}`] = rng.fillNormal(new Float64Array(sizes[l - 1] * sizes[l]), initStd(init, std, sizes[l - 1]));
      this.params[`b${l}`] = new Float64Array(sizes[l]);
    }
  }

  get inputSize(): number {
    return this.sizes[0];
  }
  get outputSize(): number {
    return this.sizes[this.layers];
  }
  get paramNames(): string[] {
    return mlpParamNames(this.layers);
  }

  batchSize(x: FloatArray): number {
    const n = x.length / this.inputSize;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`x has ${x.length} values: not a whole number of ${this.inputSize}-wide rows`);
    return n;
  }

  /**
   * Dropout masks for a batch of n rows, one [N × Hl] array per hidden layer: 1/(1−p) with
   * probability 1 − p, else 0 (drawn from `rng`, layer by layer, row-major). Empty without dropout.
   */
  dropoutMasks(n: number, rng: Rng): Float64Array[] {
    if (this.dropout === 0) return [];
    const keep = 1 / (1 - this.dropout);
    const masks: Float64Array[] = [];
    for (let l = 1; l < this.layers; l++) {
      const m = new Float64Array(n * this.sizes[l]);
      for (let i = 0; i < m.length; i++) m[i] = rng.uniform() >= this.dropout ? keep : 0;
      masks.push(m);
    }
    return masks;
  }

  /**
   * Forward pass keeping what back-propagation needs: h[l] = act(a_l) [N × Hl] (before dropout),
   * z[l] = h[l] ⊙ mask (the layer's output; the same array without masks), y [N × O].
   * z[0] is x. `masks` (from dropoutMasks) turns on dropout: pass none for inference.
   */
  forward(x: FloatArray, masks: Float64Array[] = []): { h: Float64Array[]; z: FloatArray[]; y: Float64Array } {
    const n = this.batchSize(x);
    const { sizes, layers } = this;
    const h: Float64Array[] = [];
    const z: FloatArray[] = [x];
    for (let l = 1; l < layers; l++) {
      // a_l [N × Hl] = z_{l−1} · Wl + bl;  h_l = act(a_l);  z_l = h_l ⊙ m_l
      const a = matmul(z[l - 1], this.params[`W${l}`], n, sizes[l - 1], sizes[l], new Float64Array(n * sizes[l]), this.params[`b${l}`]);
      activate(this.activation, a);
      h[l] = a;
      const m = masks[l - 1];
      if (m) {
        const zl = new Float64Array(a.length);
        for (let i = 0; i < a.length; i++) zl[i] = a[i] * m[i];
        z[l] = zl;
      } else z[l] = a;
    }
    // y [N × O] = softmax(z_{L−1} · WL + bL)
    const L = layers;
    const y = matmul(z[L - 1], this.params[`W${L}`], n, sizes[L - 1], sizes[L], new Float64Array(n * sizes[L]), this.params[`b${L}`]);
    softmaxRowsInto(y, sizes[L], y);
    return { h, z, y };
  }

  predict(x: FloatArray): Float64Array {
    return this.forward(x).y;
  }

  /** ½ λ Σ_l ΣWl² (0 without weight decay). */
  decayLoss(): number {
    if (this.weightDecay === 0) return 0;
    let s = 0;
    for (let l = 1; l <= this.layers; l++) for (const w of this.params[`W${l}`]) s += w * w;
    return 0.5 * this.weightDecay * s;
  }

  /** Mean cross-entropy (+ the L2 penalty), with the given dropout masks (none: inference). */
  loss(x: FloatArray, t: Labels, masks: Float64Array[] = []): number {
    const ce = crossEntropyError(this.forward(x, masks).y, t, this.outputSize);
    return this.weightDecay === 0 ? ce : ce + this.decayLoss();
  }

  accuracy(x: FloatArray, t: Labels): number {
    return accuracyOf(this.predict(x), t, this.batchSize(x), this.outputSize);
  }

  /** Back-propagation of loss(x, t, masks). */
  gradient(x: FloatArray, t: Labels, masks: Float64Array[] = []): MlpParams {
    const n = this.batchSize(x);
    const { sizes, layers: L } = this;
    const O = this.outputSize;
    const { h, z, y } = this.forward(x, masks);
    // dy [N × O] = (y − t) / N
    const d = softmaxCrossEntropyBackward(y, t, n, O);
    const grads: MlpParams = {};
    let delta: Float64Array = d; // dL/da_l [N × sizes[l]], from l = L down
    for (let l = L; l >= 1; l--) {
      const fanIn = sizes[l - 1], width = sizes[l];
      const W = this.params[`W${l}`];
      const gW = matmulTransA(z[l - 1], delta, n, fanIn, width, new Float64Array(fanIn * width)); // [fanIn × width] = z_{l−1}ᵀ · δ
      if (this.weightDecay !== 0) for (let i = 0; i < gW.length; i++) gW[i] += this.weightDecay * W[i];
      grads[`W${l}`] = gW;
      grads[`b${l}`] = sumRows(delta, n, width, new Float64Array(width));
      if (l > 1) {
        // δ_{l−1} [N × fanIn] = (δ · Wlᵀ) ⊙ m_{l−1} ⊙ act'(a_{l−1})
        const prev = matmulTransB(delta, W, n, width, fanIn, new Float64Array(n * fanIn));
        const m = masks[l - 2];
        if (m) for (let i = 0; i < prev.length; i++) prev[i] *= m[i];
        activationBackward(this.activation, h[l - 1], prev);
        delta = prev;
      }
    }
    return grads;
  }

  /** Central differences of loss() over every parameter, with the same masks (slow: tests only). */
  numericalGradient(x: FloatArray, t: Labels, masks: Float64Array[] = []): MlpParams {
    const lossOf = () => this.loss(x, t, masks);
    const grads: MlpParams = {};
    for (const name of this.paramNames) grads[name] = numericalGradient(lossOf, this.params[name]);
    return grads;
  }

  /** Predicted class of each row. */
  predictClasses(x: FloatArray): Int32Array {
    return argmaxRows(this.predict(x), this.batchSize(x), this.outputSize);
  }
}
