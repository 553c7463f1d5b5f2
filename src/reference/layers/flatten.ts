/** Flatten: [N × C × H × W] (or any rank) → [N × C·H·W], the same values in the same order. */
import { checkShape, type Layer, type Shape, sizeOf } from "./layer.js";

export class Flatten implements Layer {
  readonly kind = "flatten";
  readonly params = {};
  readonly grads = {};
  readonly state = {};

  forward(x: Float64Array, shape: Shape): { y: Float64Array; shape: Shape } {
    checkShape("Flatten", x, shape);
    return { y: Float64Array.from(x), shape: [shape[0], sizeOf(shape) / shape[0]] };
  }

  backward(dy: Float64Array): Float64Array {
    return Float64Array.from(dy);
  }
}
