/**
 * The book's functions (common/functions.py and common/gradient.py, chapter 4), on typed arrays,
 * in float64. Matrices are flat row-major arrays; a batch of N rows of width C has length N×C.
 */

export type FloatArray = Float64Array | Float32Array;
export type NumArray = FloatArray | Uint8Array | Int32Array | number[];

/** Labels: indices (one per row, length N) or one-hot rows (length N×C). */
export type Labels = Uint8Array | Int32Array | FloatArray | number[];

export function sigmoid(x: number): number;
export function sigmoid(x: FloatArray): Float64Array;
export function sigmoid(x: number | FloatArray): number | Float64Array {
  if (typeof x === "number") return 1 / (1 + Math.exp(-x));
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
  return out;
}

/** d sigmoid / dx = (1 − σ(x)) σ(x). */
export function sigmoidGrad(x: number): number;
export function sigmoidGrad(x: FloatArray): Float64Array;
export function sigmoidGrad(x: number | FloatArray): number | Float64Array {
  if (typeof x === "number") {
    const s = 1 / (1 + Math.exp(-x));
    return (1 - s) * s;
  }
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const s = 1 / (1 + Math.exp(-x[i]));
    out[i] = (1 - s) * s;
  }
  return out;
}

/**
 * Softmax of each row of `x` (`cols` wide; one row when `cols` is omitted). The row maximum is
 * subtracted first, so logits of ±1000 stay finite.
 */
export function softmax(x: ArrayLike<number>, cols: number = x.length): Float64Array {
  const out = new Float64Array(x.length);
  softmaxRowsInto(x, cols, out);
  return out;
}

/** softmax into a caller-owned buffer (the hot path allocates nothing). */
export function softmaxRowsInto(x: ArrayLike<number>, cols: number, out: Float64Array): void {
  if (cols <= 0 || x.length % cols !== 0) throw new RangeError(`softmax: length ${x.length} is not a multiple of ${cols}`);
  for (let r = 0; r < x.length; r += cols) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[r + j] > max) max = x[r + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[r + j] - max);
      out[r + j] = e;
      sum += e;
    }
    for (let j = 0; j < cols; j++) out[r + j] /= sum;
  }
}

/** E = ½ Σ (y − t)². */
export function meanSquaredError(y: NumArray, t: NumArray): number {
  if (y.length !== t.length) throw new RangeError(`meanSquaredError: y has ${y.length} values, t has ${t.length}`);
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const d = y[i] - t[i];
    sum += d * d;
  }
  return 0.5 * sum;
}

/** The book's guard against log(0). */
export const CEE_DELTA = 1e-7;

/**
 * Batch cross-entropy, averaged over rows: −(1/N) Σ_n Σ_k t_nk log(y_nk + 1e-7).
 * `y` holds N rows of `cols` probabilities (one row when `cols` is omitted); `t` is either one-hot
 * (same length as `y`) or one label index per row (length N), as in the book.
 */
export function crossEntropyError(y: NumArray, t: Labels, cols: number = y.length): number {
  if (cols <= 0 || y.length % cols !== 0) throw new RangeError(`crossEntropyError: length ${y.length} is not a multiple of ${cols}`);
  const n = y.length / cols;
  let sum = 0;
  if (t.length === y.length && t.length !== n) {
    for (let i = 0; i < y.length; i++) if (t[i] !== 0) sum += t[i] * Math.log(y[i] + CEE_DELTA);
  } else if (t.length === n) {
    for (let r = 0; r < n; r++) sum += Math.log(y[r * cols + checkLabel(t[r], cols)] + CEE_DELTA);
  } else {
    throw new RangeError(`crossEntropyError: t has ${t.length} values; expected ${n} labels or ${y.length} one-hot values`);
  }
  return -sum / n;
}

function checkLabel(label: number, cols: number): number {
  if (!(Number.isInteger(label) && label >= 0 && label < cols)) throw new RangeError(`label ${label} is outside 0..${cols - 1}`);
  return label;
}

/** Central difference (f(x+h) − f(x−h)) / 2h with the book's h = 1e-4. */
export const NUMERICAL_H = 1e-4;

export function numericalDiff(f: (x: number) => number, x: number): number {
  const h = NUMERICAL_H;
  return (f(x + h) - f(x - h)) / (2 * h);
}

/**
 * ∂f/∂x_i for every element of `x` by central differences, perturbing `x` in place and restoring
 * each element afterwards (so `f` may close over `x`, as the book's `lambda W: net.loss(x, t)` does).
 */
export function numericalGradient<T extends FloatArray>(f: (x: T) => number, x: T): Float64Array {
  const h = NUMERICAL_H;
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const tmp = x[i];
    x[i] = tmp + h;
    const fxh1 = f(x);
    x[i] = tmp - h;
    const fxh2 = f(x);
    grad[i] = (fxh1 - fxh2) / (2 * h);
    x[i] = tmp;
  }
  return grad;
}

/** Plain gradient descent: x ← x − lr ∇f(x), `stepNum` times, on a copy of `initX`. */
export function gradientDescent(f: (x: Float64Array) => number, initX: ArrayLike<number>, lr = 0.01, stepNum = 100): Float64Array {
  const x = Float64Array.from(initX);
  for (let step = 0; step < stepNum; step++) {
    const grad = numericalGradient(f, x);
    for (let i = 0; i < x.length; i++) x[i] -= lr * grad[i];
  }
  return x;
}
