/**
 * The book's BatchNormalization layer (ch06, common/layers.py), momentum 0.9, ε = 10e−7 (= 1e−6,
 * as the book writes it). Input of any rank is read as x.reshape(N, −1) [N × D], so a 4-D input
 * [N × C × H × W] is normalized per feature (D = C·H·W: one γ, β, mean and variance per pixel of
 * each channel), not per channel as PyTorch's BatchNorm2d does; the output has the input's shape.
 *   train:     μ = mean_n x;  xc = x − μ;  var = mean_n xc²;  std = √(var + ε);  xn = xc / std;
 *              running_mean = m·running_mean + (1 − m)·μ;  running_var = m·running_var + (1 − m)·var
 *   inference: xn = (x − running_mean) / √(running_var + ε)
 *   y = γ·xn + β
 *   backward (train): dβ = Σ_n dy;  dγ = Σ_n xn·dy;  dxn = γ·dy;  dxc = dxn / std;
 *              dstd = −Σ_n dxn·xc / std²;  dvar = ½ dstd / std;  dxc += (2/N)·xc·dvar;
 *              dμ = Σ_n dxc;  dx = dxc − dμ/N
 * The variance is the biased one (divided by N) in both the normalization and the running
 * average, as in the book (PyTorch keeps the unbiased one in running_var).
 */
import { checkShape, type Layer, type Shape, sizeOf } from "./layer.js";

export const BN_EPS = 10e-7;

export class BatchNormalization implements Layer {
  readonly kind = "batchnorm";
  readonly params: { gamma: Float64Array; beta: Float64Array };
  readonly grads: { gamma: Float64Array; beta: Float64Array };
  readonly state: { runningMean: Float64Array; runningVar: Float64Array };
  readonly momentum: number;
  private last?: { N: number; xc: Float64Array; xn: Float64Array; std: Float64Array; train: boolean };

  /** `gamma`, `beta` [D] (shared, not copied); the running statistics start at 0 as the book's. */
  constructor(gamma: Float64Array, beta: Float64Array, momentum = 0.9, runningMean?: Float64Array, runningVar?: Float64Array) {
    const D = gamma.length;
    if (beta.length !== D) throw new RangeError(`BatchNormalization: beta has ${beta.length} values, gamma ${D}`);
    this.params = { gamma, beta };
    this.grads = { gamma: new Float64Array(D), beta: new Float64Array(D) };
    this.state = { runningMean: runningMean ?? new Float64Array(D), runningVar: runningVar ?? new Float64Array(D) };
    if (this.state.runningMean.length !== D || this.state.runningVar.length !== D) throw new RangeError(`BatchNormalization: running statistics must have ${D} values`);
    this.momentum = momentum;
  }

  forward(x: Float64Array, shape: Shape, train: boolean): { y: Float64Array; shape: Shape } {
    checkShape("BatchNormalization", x, shape);
    const N = shape[0];
    const D = sizeOf(shape) / N;
    const { gamma, beta } = this.params;
    if (D !== gamma.length) throw new RangeError(`BatchNormalization: input [${shape.join(", ")}] has ${D} features per row, gamma ${gamma.length}`);
    const xc = new Float64Array(N * D);
    const xn = new Float64Array(N * D);
    const std = new Float64Array(D);
    const { runningMean, runningVar } = this.state;
    const m = this.momentum;
    for (let d = 0; d < D; d++) {
      if (train) {
        let mu = 0;
        for (let n = 0; n < N; n++) mu += x[n * D + d];
        mu /= N;
        let v = 0;
        for (let n = 0; n < N; n++) {
          const c = x[n * D + d] - mu;
          xc[n * D + d] = c;
          v += c * c;
        }
        v /= N;
        std[d] = Math.sqrt(v + BN_EPS);
        runningMean[d] = m * runningMean[d] + (1 - m) * mu;
        runningVar[d] = m * runningVar[d] + (1 - m) * v;
      } else {
        for (let n = 0; n < N; n++) xc[n * D + d] = x[n * D + d] - runningMean[d];
        std[d] = Math.sqrt(runningVar[d] + BN_EPS);
      }
      for (let n = 0; n < N; n++) xn[n * D + d] = xc[n * D + d] / std[d];
    }
    const y = new Float64Array(N * D);
    for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) y[n * D + d] = gamma[d] * xn[n * D + d] + beta[d];
    this.last = { N, xc, xn, std, train };
    return { y, shape: [...shape] };
  }

  backward(dy: Float64Array): Float64Array {
    const last = this.last;
    if (!last) throw new Error("BatchNormalization: backward before forward");
    // The book's backward is that of the training forward (μ and var depend on x); after an
    // inference forward they are constants, a different function, which the book never differentiates.
    if (!last.train) throw new Error("BatchNormalization: backward after an inference forward");
    const { N, xc, xn, std } = last;
    const D = std.length;
    if (dy.length !== N * D) throw new RangeError(`BatchNormalization: dy has ${dy.length} values, not ${N}×${D}`);
    const { gamma } = this.params;
    const dx = new Float64Array(N * D);
    for (let d = 0; d < D; d++) {
      let dbeta = 0;
      let dgamma = 0;
      let dstd = 0;
      for (let n = 0; n < N; n++) {
        const i = n * D + d;
        dbeta += dy[i];
        dgamma += xn[i] * dy[i];
        const dxn = gamma[d] * dy[i];
        dx[i] = dxn / std[d]; // dxc, for now
        dstd -= (dxn * xc[i]) / (std[d] * std[d]);
      }
      this.grads.beta[d] = dbeta;
      this.grads.gamma[d] = dgamma;
      const dvar = (0.5 * dstd) / std[d];
      let dmu = 0;
      for (let n = 0; n < N; n++) {
        const i = n * D + d;
        dx[i] += (2.0 / N) * xc[i] * dvar;
        dmu += dx[i];
      }
      for (let n = 0; n < N; n++) dx[n * D + d] -= dmu / N;
    }
    return dx;
  }
}
