/**
 * The book's activation layers (ch05, common/layers.py), element by element, any shape.
 *   Relu:    y = max(0, x) (the book's mask is x ≤ 0);  dx = dy where x > 0, else 0
 *   Sigmoid: y = 1 / (1 + e^−x);  dx = dy·(1 − y)·y
 *   Tanh:    y = tanh x;  dx = dy·(1 − y²)   (not in the book; same pattern)
 */
import { sigmoid } from "../../book/functions.js";
import { checkShape, type Layer, type Shape } from "./layer.js";

abstract class Elementwise implements Layer {
  abstract readonly kind: string;
  readonly params = {};
  readonly grads = {};
  readonly state = {};
  protected x?: Float64Array;
  protected y?: Float64Array;
  protected abstract f(x: number): number;
  /** dy/dx written from x and y = f(x). */
  protected abstract df(x: number, y: number): number;

  forward(x: Float64Array, shape: Shape): { y: Float64Array; shape: Shape } {
    checkShape(this.kind, x, shape);
    const y = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) y[i] = this.f(x[i]);
    this.x = x;
    this.y = y;
    return { y, shape: [...shape] };
  }

  backward(dy: Float64Array): Float64Array {
    const { x, y } = this;
    if (!x || !y) throw new Error(`${this.kind}: backward before forward`);
    if (dy.length !== x.length) throw new RangeError(`${this.kind}: dy has ${dy.length} values, not ${x.length}`);
    const dx = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) dx[i] = dy[i] * this.df(x[i], y[i]);
    return dx;
  }
}

export class Relu extends Elementwise {
  readonly kind = "relu";
  protected f(x: number): number {
    return x > 0 ? x : 0;
  }
  protected df(x: number): number {
    return x > 0 ? 1 : 0;
  }
}

export class Sigmoid extends Elementwise {
  readonly kind = "sigmoid";
  protected f(x: number): number {
    return sigmoid(x);
  }
  protected df(_x: number, y: number): number {
    return (1 - y) * y;
  }
}

export class Tanh extends Elementwise {
  readonly kind = "tanh";
  protected f(x: number): number {
    return Math.tanh(x);
  }
  protected df(_x: number, y: number): number {
    return 1 - y * y;
  }
}
