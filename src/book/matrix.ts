/**
 * Reference matrix kernels: plain float64 loops over flat row-major arrays, written for clarity.
 * Every faster kernel is tested against these. Shapes are given as [rows × cols].
 */
import type { FloatArray } from "./functions.js";

/** out[m×n] = a[m×k] · b[k×n] (+ bias[n] on every row, when given). */
export function matmul(a: FloatArray, b: FloatArray, m: number, k: number, n: number, out: Float64Array, bias?: FloatArray): Float64Array {
  for (let i = 0; i < m; i++) {
    const o = i * n;
    if (bias) for (let j = 0; j < n; j++) out[o + j] = bias[j];
    else out.fill(0, o, o + n);
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      const bo = p * n;
      for (let j = 0; j < n; j++) out[o + j] += av * b[bo + j];
    }
  }
  return out;
}

/** out[k×n] = aᵀ · b for a[m×k], b[m×n] (the weight gradient Xᵀ·dY), without forming aᵀ. */
export function matmulTransA(a: FloatArray, b: FloatArray, m: number, k: number, n: number, out: Float64Array): Float64Array {
  out.fill(0, 0, k * n);
  for (let i = 0; i < m; i++) {
    const bo = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      const o = p * n;
      for (let j = 0; j < n; j++) out[o + j] += av * b[bo + j];
    }
  }
  return out;
}

/** out[m×k] = a · bᵀ for a[m×n], b[k×n] (the back-propagated error dY·Wᵀ), without forming bᵀ. */
export function matmulTransB(a: FloatArray, b: FloatArray, m: number, n: number, k: number, out: Float64Array): Float64Array {
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * b[p * n + j];
      out[i * k + p] = s;
    }
  }
  return out;
}

/** out[n] = Σ over the m rows of a[m×n] (bias gradients). */
export function sumRows(a: FloatArray, m: number, n: number, out: Float64Array): Float64Array {
  out.fill(0, 0, n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j] += a[i * n + j];
  return out;
}

/** Index of the largest value in each of the m rows of a[m×n] (first one on ties, like np.argmax). */
export function argmaxRows(a: FloatArray, m: number, n: number, out: Int32Array = new Int32Array(m)): Int32Array {
  for (let i = 0; i < m; i++) {
    let best = 0;
    let bestV = a[i * n];
    for (let j = 1; j < n; j++) {
      const v = a[i * n + j];
      if (v > bestV) {
        bestV = v;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}
