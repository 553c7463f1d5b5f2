/**
 * The book's Affine layer (ch05, common/layers.py): W [D × M], b [M]. An input of any rank is
 * read as x.reshape(N, −1) [N × D], and dx gets the input's shape back, so an Affine may follow
 * a convolution or pooling directly (the book's SimpleConvNet does).
 *   y [N × M] = x · W + b;  dx = dy · Wᵀ;  dW = xᵀ · dy;  db = Σ_n dy
 */
import { matmul, matmulTransA, matmulTransB, sumRows } from "../../book/matrix.js";
import { checkShape, type Layer, type Shape, sizeOf } from "./layer.js";

export class Affine implements Layer {
  readonly kind = "affine";
  readonly params: { W: Float64Array; b: Float64Array };
  readonly grads: { W: Float64Array; b: Float64Array };
  readonly state = {};
  readonly inputSize: number;
  readonly outputSize: number;
  private x?: Float64Array;
  private N = 0;

  /** `W` [D × M] and `b` [M], shared (not copied). */
  constructor(W: Float64Array, b: Float64Array) {
    const M = b.length;
    if (M < 1 || W.length % M !== 0) throw new RangeError(`Affine: W has ${W.length} values, not a multiple of b's ${M}`);
    this.inputSize = W.length / M;
    this.outputSize = M;
    this.params = { W, b };
    this.grads = { W: new Float64Array(W.length), b: new Float64Array(M) };
  }

  forward(x: Float64Array, shape: Shape): { y: Float64Array; shape: Shape } {
    checkShape("Affine", x, shape);
    const N = shape[0];
    const D = sizeOf(shape) / N;
    if (D !== this.inputSize) throw new RangeError(`Affine: input [${shape.join(", ")}] has ${D} values per row, W expects ${this.inputSize}`);
    this.x = x;
    this.N = N;
    const M = this.outputSize;
    return { y: matmul(x, this.params.W, N, D, M, new Float64Array(N * M), this.params.b), shape: [N, M] };
  }

  backward(dy: Float64Array): Float64Array {
    const x = this.x;
    if (!x) throw new Error("Affine: backward before forward");
    const { N, inputSize: D, outputSize: M } = this;
    if (dy.length !== N * M) throw new RangeError(`Affine: dy has ${dy.length} values, not ${N}×${M}`);
    matmulTransA(x, dy, N, D, M, this.grads.W);
    sumRows(dy, N, M, this.grads.b);
    return matmulTransB(dy, this.params.W, N, M, D, new Float64Array(N * D));
  }
}
