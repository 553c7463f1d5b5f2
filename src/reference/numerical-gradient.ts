/**
 * The book's numerical gradient of TwoLayerNet, (L(θ+h) − L(θ−h)) / 2h with h = 1e-4 for every
 * parameter, computed incrementally instead of by two full forward passes per parameter.
 *
 * What a perturbation changes:
 *   W1[i][j] ± h  only hidden unit j, and only in the images whose pixel i is non-zero (the naive
 *                 loop adds 0·(w ± h) = 0 for the others, so their loss is bit-for-bit unchanged);
 *   b1[j] ± h     hidden unit j of every image;
 *   W2[j][k] ± h  logit k of every image (by ±h·z1[n][j]);  b2[k] ± h  logit k of every image.
 * For each changed image we compute the change of its loss −Σ_k t_k log(y_k + 1e-7) directly
 * (the difference, not two losses subtracted), in a form that stays accurate for tiny changes:
 *   hidden: d = σ(a + ε) − σ(a) = −z(1−z)·m / (1 + (1−z)·m),  m = expm1(−ε);
 *   logits: y'_k = y_k (1 + e_k) / (1 + E),  e_k = expm1(Δ_k),  E = Σ_k y_k e_k;
 *   loss:   log((y_t⁻ + δ) / (y_t⁺ + δ)) = log1p((v⁻ − v⁺) / (1 + v⁺)),
 *           v = c·(e_t − E)/(1 + E),  c = y_t / (y_t + δ).
 * For a W1/b1 perturbation Δ_k = d·W2[j][k]; E and e_t − E are power series in d whose
 * coefficients (the moments Σ_k y_k W2[j][k]^r) are computed once per image and hidden unit, so
 * one (image, pixel, hidden unit) costs O(1) instead of a forward pass. Series are used only where
 * their truncation error is below 1e-18 relative; elsewhere the exact expm1/log1p path runs.
 *
 * The perturbed values are the naive loop's: ε± = (fl(w ± h) − w)·x, the step the float64
 * assignment `W[i] = tmp ± h` really makes, and the result is divided by 2h as the book does.
 * Every parameter's value is a sum over the images in ascending order, whatever range of
 * parameters a caller (or a worker thread) computes, so results do not depend on the split.
 */
import { CEE_DELTA, NUMERICAL_H, softmaxRowsInto, type FloatArray, type Labels } from "../book/functions.js";
import { matmul } from "../book/matrix.js";
import type { Grads, Params } from "./two-layer-net.js";

/** Series orders: moments Σ_k y_k W2[j][k]^r for r = 1..ORDER. */
const ORDER = 5;
/** Below this |argument| the truncated series of expm1 and log1p are exact to ~1e-18 relative. */
const SERIES_LIMIT = 1e-3;

export interface Dims {
  /** Rows in the batch. */
  N: number;
  I: number;
  H: number;
  O: number;
  /** Total label entries taken into the loss (N for index labels and one-hot rows). */
  T: number;
}

/**
 * Per-batch quantities of the unperturbed network, shared by every parameter's computation (and
 * by worker threads, when the arrays live in a SharedArrayBuffer). Integers are stored as floats.
 */
export interface Base {
  dims: Dims;
  W1: Float64Array; b1: Float64Array; W2: Float64Array; b2: Float64Array;
  /** The batch [N × I]. */
  x: Float64Array;
  /** z1 [N × H] = σ(a1). */
  z: Float64Array;
  /** q [N × H] = 1 − z1, computed as σ(−a1) (accurate when z1 ≈ 1). */
  q: Float64Array;
  /** zq [N × H] = z1 (1 − z1) = σ'(a1). */
  zq: Float64Array;
  /** y [N × O] softmax probabilities. */
  y: Float64Array;
  /** mom [ORDER × N × H]: mom[r−1][n][j] = Σ_k y[n][k] W2[j][k]^r / r!. */
  mom: Float64Array;
  /** Labels that enter the loss: row n owns entries tOff[n] .. tOff[n+1]−1 (class tK, weight tW). */
  tOff: Float64Array; tK: Float64Array; tW: Float64Array;
  /** tC [T] = y_t / (y_t + δ). */
  tC: Float64Array;
  /** dif [ORDER × T × H]: dif[r−1][τ][j] = (W2[j][k_τ]^r − Σ_k y[n][k] W2[j][k]^r) / r!. */
  dif: Float64Array;
  /** wmax [H] = max_k |W2[j][k]|, to decide where the series apply. */
  wmax: Float64Array;
}

export type Allocator = (length: number) => Float64Array;
const heap: Allocator = (length) => new Float64Array(length);

/** The label entries with t ≠ 0, as crossEntropyError reads them (index labels or one-hot rows). */
function labelEntries(t: Labels, N: number, O: number): { off: number[]; k: number[]; w: number[] } {
  const off = [0], k: number[] = [], w: number[] = [];
  if (t.length === N * O && t.length !== N) {
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < O; c++) {
        if (t[n * O + c] !== 0) {
          k.push(c);
          w.push(t[n * O + c]);
        }
      }
      off.push(k.length);
    }
  } else if (t.length === N) {
    for (let n = 0; n < N; n++) {
      const label = t[n];
      if (!(Number.isInteger(label) && label >= 0 && label < O)) throw new RangeError(`label ${label} is outside 0..${O - 1}`);
      k.push(label);
      w.push(1);
      off.push(k.length);
    }
  } else {
    throw new RangeError(`t has ${t.length} values; expected ${N} labels or ${N * O} one-hot values`);
  }
  return { off, k, w };
}

/** Forward pass and every per-batch quantity the incremental differences need. */
export function prepareBase(params: Params, dimsIn: { I: number; H: number; O: number }, x: FloatArray, t: Labels, alloc: Allocator = heap): Base {
  const { I, H, O } = dimsIn;
  const N = x.length / I;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`x has ${x.length} values: not a whole number of ${I}-wide rows`);
  const labels = labelEntries(t, N, O);
  const T = labels.k.length;
  const copy = (a: FloatArray) => {
    const out = alloc(a.length);
    out.set(a);
    return out;
  };
  const base: Base = {
    dims: { N, I, H, O, T },
    W1: copy(params.W1), b1: copy(params.b1), W2: copy(params.W2), b2: copy(params.b2),
    x: copy(x),
    z: alloc(N * H), q: alloc(N * H), zq: alloc(N * H), y: alloc(N * O),
    mom: alloc(ORDER * N * H),
    tOff: alloc(N + 1), tK: alloc(T), tW: alloc(T), tC: alloc(T),
    dif: alloc(ORDER * T * H),
    wmax: alloc(H),
  };
  const { z, q, zq, y, mom, dif, W2 } = base;
  // The network's forward pass, as TwoLayerNet.forward computes it (the reference matmul's order
  // of additions), skipping the pixels that are 0: adding 0·w changes nothing, so a1 is the same.
  for (let n = 0; n < N; n++) {
    const o = n * H;
    for (let j = 0; j < H; j++) z[o + j] = base.b1[j];
    for (let i = 0; i < I; i++) {
      const v = base.x[n * I + i];
      if (v === 0) continue;
      const r = i * H;
      for (let j = 0; j < H; j++) z[o + j] += v * base.W1[r + j];
    }
  }
  for (let i = 0; i < z.length; i++) {
    const a = z[i];
    z[i] = 1 / (1 + Math.exp(-a));
    q[i] = 1 / (1 + Math.exp(a));
    zq[i] = z[i] * q[i];
  }
  matmul(z, W2, N, H, O, y, base.b2);
  softmaxRowsInto(y, O, y);

  const fact = [1, 1, 2, 6, 24, 120, 720];
  for (let j = 0; j < H; j++) {
    let m = 0;
    for (let k = 0; k < O; k++) m = Math.max(m, Math.abs(W2[j * O + k]));
    base.wmax[j] = m;
  }
  const NH = N * H;
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < H; j++) {
      for (let r = 1; r <= ORDER; r++) {
        let s = 0;
        for (let k = 0; k < O; k++) s += y[n * O + k] * W2[j * O + k] ** r;
        mom[(r - 1) * NH + n * H + j] = s / fact[r];
      }
    }
  }
  const TH = T * H;
  for (let n = 0; n < N; n++) {
    base.tOff[n] = labels.off[n];
    for (let tau = labels.off[n]; tau < labels.off[n + 1]; tau++) {
      const k = labels.k[tau];
      base.tK[tau] = k;
      base.tW[tau] = labels.w[tau];
      const yt = y[n * O + k];
      base.tC[tau] = yt / (yt + CEE_DELTA);
      for (let j = 0; j < H; j++) {
        for (let r = 1; r <= ORDER; r++) {
          dif[(r - 1) * TH + tau * H + j] = W2[j * O + k] ** r / fact[r] - mom[(r - 1) * NH + n * H + j];
        }
      }
    }
  }
  base.tOff[N] = T;
  return base;
}

function expm1Small(v: number): number {
  if (Math.abs(v) >= SERIES_LIMIT) return Math.expm1(v);
  return v * (1 + v * (1 / 2 + v * (1 / 6 + v * (1 / 24 + v * (1 / 120 + v / 720)))));
}

function log1pSmall(v: number): number {
  if (Math.abs(v) >= SERIES_LIMIT) return Math.log1p(v);
  return v * (1 - v * (1 / 2 - v * (1 / 3 - v * (1 / 4 - v * (1 / 5 - v / 6)))));
}

/**
 * Σ over image n's label entries of t·[log(y⁻ + δ) − log(y⁺ + δ)] (= loss⁺ − loss⁻ of image n),
 * given e_t − E and 1 + E on each side for every entry.
 */
function entryDiff(b: Base, tau: number, numP: number, denP: number, numM: number, denM: number): number {
  const c = b.tC[tau];
  const vP = (c * numP) / denP;
  const vM = (c * numM) / denM;
  return b.tW[tau] * log1pSmall((vM - vP) / (1 + vP));
}

/**
 * Loss⁺ − loss⁻ of image n when hidden unit j's pre-activation moves by epsP and epsM.
 * Exact path: every logit through expm1; series path: the moments (same result to ~1e-18).
 */
function hiddenDiff(b: Base, n: number, j: number, epsP: number, epsM: number): number {
  const { N, H, O, T } = b.dims;
  const nj = n * H + j;
  const zq = b.zq[nj], q = b.q[nj];
  const mP = expm1Small(-epsP), mM = expm1Small(-epsM);
  const dP = (-zq * mP) / (1 + q * mP);
  const dM = (-zq * mM) / (1 + q * mM);
  const t0 = b.tOff[n], t1 = b.tOff[n + 1];
  let s = 0;
  if (Math.max(Math.abs(dP), Math.abs(dM)) * b.wmax[j] < SERIES_LIMIT) {
    const NH = N * H, mom = b.mom;
    const EP = dP * (mom[nj] + dP * (mom[NH + nj] + dP * (mom[2 * NH + nj] + dP * (mom[3 * NH + nj] + dP * mom[4 * NH + nj]))));
    const EM = dM * (mom[nj] + dM * (mom[NH + nj] + dM * (mom[2 * NH + nj] + dM * (mom[3 * NH + nj] + dM * mom[4 * NH + nj]))));
    const TH = T * H, dif = b.dif;
    for (let tau = t0; tau < t1; tau++) {
      const tj = tau * H + j;
      const numP = dP * (dif[tj] + dP * (dif[TH + tj] + dP * (dif[2 * TH + tj] + dP * (dif[3 * TH + tj] + dP * dif[4 * TH + tj]))));
      const numM = dM * (dif[tj] + dM * (dif[TH + tj] + dM * (dif[2 * TH + tj] + dM * (dif[3 * TH + tj] + dM * dif[4 * TH + tj]))));
      s += entryDiff(b, tau, numP, 1 + EP, numM, 1 + EM);
    }
    return s;
  }
  let EP = 0, EM = 0;
  const W2 = b.W2, y = b.y;
  for (let k = 0; k < O; k++) {
    EP += y[n * O + k] * Math.expm1(dP * W2[j * O + k]);
    EM += y[n * O + k] * Math.expm1(dM * W2[j * O + k]);
  }
  for (let tau = t0; tau < t1; tau++) {
    const w = W2[j * O + b.tK[tau]];
    s += entryDiff(b, tau, Math.expm1(dP * w) - EP, 1 + EP, Math.expm1(dM * w) - EM, 1 + EM);
  }
  return s;
}

/**
 * hiddenDiff for every hidden unit j of an image with one label entry (index labels, one-hot
 * rows), pixel value v: out[o + j] += loss⁺ − loss⁻. The hot loop, written out; same arithmetic.
 */
function hiddenDiffsOneLabel(b: Base, n: number, v: number, epsP: Float64Array, epsM: Float64Array, out: Float64Array, o: number): void {
  const { N, H, T } = b.dims;
  const NH = N * H, TH = T * H;
  const { zq: ZQ, q: Q, mom, dif, wmax } = b;
  const tau = b.tOff[n];
  const c = b.tC[tau], tw = b.tW[tau];
  const nH = n * H, tH = tau * H;
  for (let j = 0; j < H; j++) {
    const nj = nH + j;
    const zq = ZQ[nj], q = Q[nj];
    const xP = -epsP[j] * v, xM = -epsM[j] * v;
    if (!(Math.abs(xP) < SERIES_LIMIT && Math.abs(xM) < SERIES_LIMIT)) {
      out[o + j] += hiddenDiff(b, n, j, epsP[j] * v, epsM[j] * v);
      continue;
    }
    const mP = xP * (1 + xP * (1 / 2 + xP * (1 / 6 + xP * (1 / 24 + xP * (1 / 120 + xP / 720)))));
    const mM = xM * (1 + xM * (1 / 2 + xM * (1 / 6 + xM * (1 / 24 + xM * (1 / 120 + xM / 720)))));
    const dP = (-zq * mP) / (1 + q * mP);
    const dM = (-zq * mM) / (1 + q * mM);
    if (!(Math.max(Math.abs(dP), Math.abs(dM)) * wmax[j] < SERIES_LIMIT)) {
      out[o + j] += hiddenDiff(b, n, j, epsP[j] * v, epsM[j] * v);
      continue;
    }
    const m1 = mom[nj], m2 = mom[NH + nj], m3 = mom[2 * NH + nj], m4 = mom[3 * NH + nj], m5 = mom[4 * NH + nj];
    const EP = dP * (m1 + dP * (m2 + dP * (m3 + dP * (m4 + dP * m5))));
    const EM = dM * (m1 + dM * (m2 + dM * (m3 + dM * (m4 + dM * m5))));
    const tj = tH + j;
    const f1 = dif[tj], f2 = dif[TH + tj], f3 = dif[2 * TH + tj], f4 = dif[3 * TH + tj], f5 = dif[4 * TH + tj];
    const numP = dP * (f1 + dP * (f2 + dP * (f3 + dP * (f4 + dP * f5))));
    const numM = dM * (f1 + dM * (f2 + dM * (f3 + dM * (f4 + dM * f5))));
    const vP = (c * numP) / (1 + EP);
    const vM = (c * numM) / (1 + EM);
    out[o + j] += tw * log1pSmall((vM - vP) / (1 + vP));
  }
}

/** Loss⁺ − loss⁻ of image n when logit k moves by deltaP and deltaM. */
function logitDiff(b: Base, n: number, k: number, deltaP: number, deltaM: number): number {
  const O = b.dims.O;
  const yk = b.y[n * O + k];
  const eP = expm1Small(deltaP), eM = expm1Small(deltaM);
  const EP = yk * eP, EM = yk * eM;
  let s = 0;
  for (let tau = b.tOff[n]; tau < b.tOff[n + 1]; tau++) {
    const hit = b.tK[tau] === k;
    s += entryDiff(b, tau, (hit ? eP : 0) - EP, 1 + EP, (hit ? eM : 0) - EM, 1 + EM);
  }
  return s;
}

const h = NUMERICAL_H;
/** (Σ_n loss⁺ − loss⁻) → the central difference (L(θ+h) − L(θ−h)) / 2h. */
const finish = (sum: number, N: number) => sum / N / (2 * h);

/**
 * Rows iStart..iEnd−1 of the W1 gradient into out[(i − iStart)·H + j]. Only images with a
 * non-zero pixel i are visited; a pixel that is 0 in the whole batch gets exactly 0.
 */
export function gradW1Rows(b: Base, iStart: number, iEnd: number, out: Float64Array): void {
  const { N, I, H } = b.dims;
  const rowsN = new Int32Array(N);
  const rowsX = new Float64Array(N);
  const epsP = new Float64Array(H), epsM = new Float64Array(H);
  for (let i = iStart; i < iEnd; i++) {
    const o = (i - iStart) * H;
    out.fill(0, o, o + H);
    let cnt = 0;
    for (let n = 0; n < N; n++) {
      const v = b.x[n * I + i];
      if (v !== 0) {
        rowsN[cnt] = n;
        rowsX[cnt++] = v;
      }
    }
    if (cnt === 0) continue;
    for (let j = 0; j < H; j++) {
      const w = b.W1[i * H + j];
      epsP[j] = w + h - w;
      epsM[j] = w - h - w;
    }
    for (let c = 0; c < cnt; c++) {
      const n = rowsN[c], v = rowsX[c];
      if (b.tOff[n + 1] - b.tOff[n] === 1) hiddenDiffsOneLabel(b, n, v, epsP, epsM, out, o);
      else for (let j = 0; j < H; j++) out[o + j] += hiddenDiff(b, n, j, epsP[j] * v, epsM[j] * v);
    }
    for (let j = 0; j < H; j++) out[o + j] = finish(out[o + j], N);
  }
}

export function gradB1(b: Base, out: Float64Array): void {
  const { N, H } = b.dims;
  for (let j = 0; j < H; j++) {
    const w = b.b1[j];
    const eP = w + h - w, eM = w - h - w;
    let s = 0;
    for (let n = 0; n < N; n++) s += hiddenDiff(b, n, j, eP, eM);
    out[j] = finish(s, N);
  }
}

export function gradW2(b: Base, out: Float64Array): void {
  const { N, H, O } = b.dims;
  for (let j = 0; j < H; j++) {
    for (let k = 0; k < O; k++) {
      const w = b.W2[j * O + k];
      const eP = w + h - w, eM = w - h - w;
      let s = 0;
      for (let n = 0; n < N; n++) {
        const zj = b.z[n * H + j];
        s += logitDiff(b, n, k, eP * zj, eM * zj);
      }
      out[j * O + k] = finish(s, N);
    }
  }
}

export function gradB2(b: Base, out: Float64Array): void {
  const { N, O } = b.dims;
  for (let k = 0; k < O; k++) {
    const w = b.b2[k];
    const eP = w + h - w, eM = w - h - w;
    let s = 0;
    for (let n = 0; n < N; n++) s += logitDiff(b, n, k, eP, eM);
    out[k] = finish(s, N);
  }
}

/** The network's shape and parameters: a TwoLayerNet, or anything shaped like one. */
export interface NetLike {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  params: Params;
}

/** Single-threaded fast numerical gradient: the naive loop's values, to rounding. */
export function fastNumericalGradient(net: NetLike, x: FloatArray, t: Labels): Grads {
  const b = prepareBase(net.params, { I: net.inputSize, H: net.hiddenSize, O: net.outputSize }, x, t);
  const { I, H, O } = b.dims;
  const grads: Grads = { W1: new Float64Array(I * H), b1: new Float64Array(H), W2: new Float64Array(H * O), b2: new Float64Array(O) };
  gradW1Rows(b, 0, I, grads.W1);
  gradB1(b, grads.b1);
  gradW2(b, grads.W2);
  gradB2(b, grads.b2);
  return grads;
}
