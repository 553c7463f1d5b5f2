/**
 * The book's SoftmaxWithLoss (ch05, common/layers.py): the last layer, taking the scores
 * x [N × K] and the labels t (one index per row, or one-hot rows).
 *   forward:  y = softmax(x);  loss = cross_entropy_error(y, t) (mean over rows, log(y + 1e−7))
 *   backward: dx = (y − t) / N   (dout = 1)
 * The backward is that of the exact cross entropy, without the 1e−7 guard, as in the book.
 */
import { crossEntropyError, type Labels, softmax } from "../../book/functions.js";

export class SoftmaxWithLoss {
  readonly kind = "softmax";
  private y?: Float64Array;
  private t?: Labels;
  private K = 0;

  /** `x` [N × K] with `K` classes per row. */
  forward(x: Float64Array, K: number, t: Labels): number {
    const y = softmax(x, K);
    const loss = crossEntropyError(y, t, K);
    this.y = y;
    this.t = t;
    this.K = K;
    return loss;
  }

  backward(dout = 1): Float64Array {
    const { y, t, K } = this;
    if (!y || !t) throw new Error("SoftmaxWithLoss: backward before forward");
    const N = y.length / K;
    const dx = Float64Array.from(y);
    if (t.length === y.length && t.length !== N) for (let i = 0; i < dx.length; i++) dx[i] -= t[i];
    else for (let n = 0; n < N; n++) dx[n * K + t[n]] -= 1;
    for (let i = 0; i < dx.length; i++) dx[i] = (dx[i] * dout) / N;
    return dx;
  }
}
