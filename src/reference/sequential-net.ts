/**
 * A network from a list of reference layers ending in SoftmaxWithLoss: the book's
 * MultiLayerNet / SimpleConvNet / DeepConvNet pattern (ch05–ch08) with the layer list given.
 * Its `params` record holds the layers' own arrays under net-wide names (W1, b1, gamma1, …), so
 * changing a value in it changes the layer, as the book's numerical_gradient relies on.
 */
import { argmaxRows } from "../book/matrix.js";
import { type Labels, numericalGradient } from "../book/functions.js";
import type { RngState } from "../book/rng.js";
import { Dropout } from "./layers/dropout.js";
import { type Layer, type Shape, sizeOf } from "./layers/layer.js";
import { SoftmaxWithLoss } from "./layers/softmax-with-loss.js";
import type { LayerSpec } from "./layer-spec.js";

export type ParamRecord = Record<string, Float64Array>;

/**
 * Net-wide names of each layer's parameters: the i-th layer with weights (conv or affine) owns
 * W{i}, b{i}; the j-th batch norm owns gamma{j}, beta{j} and its running statistics
 * runningMean{j}, runningVar{j}. This is the book's numbering in SimpleConvNet (W1 conv, W2 and
 * W3 affine) and DeepConvNet, and MultiLayerNetExtend's gamma/beta numbering when every affine
 * but the last is followed by a batch norm.
 */
export function paramNames(layers: readonly Layer[]): Array<Record<string, string>> {
  let weighted = 0;
  let norms = 0;
  return layers.map((layer) => {
    const names: Record<string, string> = {};
    const keys = [...Object.keys(layer.params), ...Object.keys(layer.state)];
    if (keys.length === 0) return names;
    const index = "W" in layer.params ? ++weighted : ++norms;
    for (const key of keys) names[key] = `${key}${index}`;
    return names;
  });
}

/** What a net built from a layer list knows of itself beyond its layers (buildReferenceNet sets it). */
export interface SequentialNetOptions {
  /** The typed layer list the net was built from (model.json stores it). */
  specs?: readonly LayerSpec[];
  /** The number of class scores (the last shape). */
  classes?: number;
  /** λ of the L2 penalty ½ λ Σ W² over every conv and affine weight (not biases, not γ/β), as MultiLayerNet's. */
  weightDecay?: number;
}

export class SequentialNet {
  readonly layers: readonly Layer[];
  readonly lastLayer = new SoftmaxWithLoss();
  /** One sample's shape, e.g. [1, 28, 28] for MNIST images, [784] for rows. */
  readonly inputShape: readonly number[];
  readonly params: ParamRecord = {};
  /** Batch norm's running statistics, by net-wide name (saved with the model, never learned). */
  readonly state: ParamRecord = {};
  readonly specs?: readonly LayerSpec[];
  readonly weightDecay: number;
  private readonly classes?: number;
  private readonly names: Array<Record<string, string>>;

  constructor(layers: readonly Layer[], inputShape: readonly number[], options: SequentialNetOptions = {}) {
    if (layers.length === 0) throw new RangeError("SequentialNet: no layers");
    this.layers = layers;
    this.inputShape = [...inputShape];
    this.specs = options.specs;
    this.classes = options.classes;
    this.weightDecay = options.weightDecay ?? 0;
    this.names = paramNames(layers);
    layers.forEach((layer, i) => {
      const names = this.names[i];
      for (const [key, value] of Object.entries(layer.params)) this.params[names[key]] = value;
      for (const [key, value] of Object.entries(layer.state)) this.state[names[key]] = value;
    });
  }

  /** Values per sample (784 for a 1×28×28 image). */
  get inputSize(): number {
    return sizeOf(this.inputShape);
  }

  /** Class scores per sample (known when built from a layer list). */
  get outputSize(): number {
    if (this.classes === undefined) throw new RangeError("SequentialNet: the number of classes is unknown (build it with buildReferenceNet)");
    return this.classes;
  }

  batchShape(x: Float64Array): Shape {
    const per = sizeOf(this.inputShape);
    const n = x.length / per;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`SequentialNet: ${x.length} values are not a whole number of [${this.inputShape.join(", ")}] samples`);
    return [n, ...this.inputShape];
  }

  /** The scores [N × K] before the softmax, with the shape of the last layer's output. */
  forward(x: Float64Array, train: boolean): { y: Float64Array; shape: Shape } {
    let out = { y: x, shape: this.batchShape(x) };
    for (const layer of this.layers) out = layer.forward(out.y, out.shape, train);
    if (out.shape.length !== 2) throw new RangeError(`SequentialNet: the last layer gives [${out.shape.join(", ")}], not [N, classes]`);
    return out;
  }

  /** Scores [N × K] in inference mode (the book's predict(x, train_flg=False)). */
  predict(x: Float64Array, train = false): Float64Array {
    return this.forward(x, train).y;
  }

  /**
   * Mean cross-entropy of the softmax of the scores (+ the L2 penalty with weight decay); `train`
   * as the book's loss(x, t, train_flg).
   */
  loss(x: Float64Array, t: Labels, train = false): number {
    const { y, shape } = this.forward(x, train);
    const ce = this.lastLayer.forward(y, shape[1], t);
    return this.weightDecay === 0 ? ce : ce + this.decayLoss();
  }

  /** ½ λ Σ W² over the weights W1, W2, … in order (0 without weight decay). */
  decayLoss(): number {
    if (this.weightDecay === 0) return 0;
    let s = 0;
    for (const [name, w] of Object.entries(this.params)) if (/^W\d+$/.test(name)) for (const v of w) s += v * v;
    return 0.5 * this.weightDecay * s;
  }

  /** Back-propagation: the gradient of loss(x, t, train = true) for every parameter, by net-wide name (fresh copies). */
  gradient(x: Float64Array, t: Labels): ParamRecord {
    return this.lossAndGradient(x, t).grads;
  }

  /** gradient() and the loss of the forward pass that made it (training mode: dropout on, batch statistics). */
  lossAndGradient(x: Float64Array, t: Labels): { loss: number; grads: ParamRecord } {
    const loss = this.loss(x, t, true);
    return { loss, grads: this.backward(this.lastLayer.backward(1)) };
  }

  /**
   * Back-propagation from dL/dscores [N × K] through the layers of the last forward pass: the
   * gradient of every parameter (with weight decay's λW added to the weights).
   */
  backward(dScores: Float64Array): ParamRecord {
    let d = dScores;
    for (let i = this.layers.length - 1; i >= 0; i--) d = this.layers[i].backward(d);
    const grads: ParamRecord = {};
    this.layers.forEach((layer, i) => {
      for (const [key, value] of Object.entries(layer.grads)) {
        const g = Float64Array.from(value);
        if (this.weightDecay !== 0 && key === "W") {
          const W = layer.params.W;
          for (let j = 0; j < g.length; j++) g[j] += this.weightDecay * W[j];
        }
        grads[this.names[i][key]] = g;
      }
    });
    return grads;
  }

  /**
   * The same gradient by central differences (the book's numerical_gradient, h = 1e−4) of
   * loss(x, t, train). Every evaluation sees the same dropout masks (the dropout generators are
   * reset to their state at the call before each one, so the masks are those a following
   * gradient() would draw from that state), and batch norm's running statistics are restored
   * afterwards, so the function differentiated is a fixed one and the net is left unchanged.
   * Each evaluation for a parameter of layer i starts from layer i's input, kept from one pass
   * (with the generators' states there): the layers before it do not depend on that parameter, so
   * the values are those of whole passes, bit for bit, at a fraction of the cost.
   */
  numericalGradient(x: Float64Array, t: Labels, train = true): ParamRecord {
    const rngs = [...new Set(this.layers.filter((l): l is Dropout => l instanceof Dropout).map((l) => l.rng))];
    const rngStart: RngState[] = rngs.map((r) => r.getState());
    const stateStart = Object.fromEntries(Object.entries(this.state).map(([k, v]) => [k, Float64Array.from(v)]));
    // one pass, keeping each layer's input and the generators' states before it
    const inputs: Array<{ y: Float64Array; shape: Shape; rng: RngState[] }> = [];
    let out = { y: x, shape: this.batchShape(x) };
    this.layers.forEach((layer, i) => {
      inputs[i] = { ...out, rng: rngs.map((r) => r.getState()) };
      out = layer.forward(out.y, out.shape, train);
    });
    const lossFrom = (start: number): number => {
      const at = inputs[start];
      rngs.forEach((r, k) => r.setState(at.rng[k]));
      let o: { y: Float64Array; shape: Shape } = at;
      for (let j = start; j < this.layers.length; j++) o = this.layers[j].forward(o.y, o.shape, train);
      const ce = this.lastLayer.forward(o.y, o.shape[1], t);
      return this.weightDecay === 0 ? ce : ce + this.decayLoss();
    };
    const grads: ParamRecord = {};
    this.layers.forEach((layer, i) => {
      for (const [key, p] of Object.entries(layer.params)) grads[this.names[i][key]] = numericalGradient(() => lossFrom(i), p);
    });
    rngs.forEach((r, i) => r.setState(rngStart[i]));
    for (const [k, v] of Object.entries(stateStart)) this.state[k].set(v);
    // in the params record's order (W1, b1, gamma1, …)
    return Object.fromEntries(Object.keys(this.params).map((name) => [name, grads[name]]));
  }

  /** Share of rows whose highest score is the label, in inference mode, `batchSize` rows at a time (the book's accuracy). */
  accuracy(x: Float64Array, t: Labels, batchSize = 100): number {
    const per = sizeOf(this.inputShape);
    const N = this.batchShape(x)[0];
    const oneHot = t.length !== N;
    let correct = 0;
    for (let start = 0; start < N; start += batchSize) {
      const n = Math.min(batchSize, N - start);
      const y = this.predict(x.subarray(start * per, (start + n) * per));
      const K = y.length / n;
      const guess = argmaxRows(y, n, K);
      for (let r = 0; r < n; r++) {
        const label = oneHot ? argmaxRows(Float64Array.from(Array.from({ length: K }, (_, k) => t[(start + r) * K + k])), 1, K)[0] : t[start + r];
        if (guess[r] === label) correct++;
      }
    }
    return correct / N;
  }
}

