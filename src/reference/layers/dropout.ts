/**
 * Dropout (the book's ch06 layer, in its "inverted" form as PyTorch's nn.Dropout and this
 * project's MultiLayerNet): in training each value is kept with probability 1 − ratio and scaled by
 * 1/(1 − ratio), else zeroed; at inference the layer is the identity, so the expected output is
 * the same in both modes. (The book instead keeps kept values as they are and multiplies by
 * 1 − ratio at inference; the two nets differ only by that constant factor.)
 * The mask is drawn from the given Rng, one uniform per value in index order, as MultiLayerNet.dropoutMasks:
 * kept when u ≥ ratio.
 */
import type { Rng } from "../../book/rng.js";
import { checkShape, type Layer, type Shape } from "./layer.js";

export class Dropout implements Layer {
  readonly kind = "dropout";
  readonly params = {};
  readonly grads = {};
  readonly state = {};
  readonly ratio: number;
  readonly rng: Rng;
  private mask?: Float64Array;

  constructor(ratio: number, rng: Rng) {
    if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`Dropout: ratio must be in [0, 1) (got ${ratio})`);
    this.ratio = ratio;
    this.rng = rng;
  }

  forward(x: Float64Array, shape: Shape, train: boolean): { y: Float64Array; shape: Shape } {
    checkShape("Dropout", x, shape);
    const y = Float64Array.from(x);
    if (!train) {
      this.mask = undefined;
      return { y, shape: [...shape] };
    }
    const keep = 1 / (1 - this.ratio);
    const mask = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) mask[i] = this.rng.uniform() >= this.ratio ? keep : 0;
    for (let i = 0; i < x.length; i++) y[i] *= mask[i];
    this.mask = mask;
    return { y, shape: [...shape] };
  }

  backward(dy: Float64Array): Float64Array {
    const dx = Float64Array.from(dy);
    if (this.mask) {
      if (dy.length !== this.mask.length) throw new RangeError(`Dropout: dy has ${dy.length} values, not ${this.mask.length}`);
      for (let i = 0; i < dx.length; i++) dx[i] *= this.mask[i];
    }
    return dx;
  }
}
