/**
 * The engine's layers, forward and backward side by side on the WebAssembly kernels (the book's
 * ch05 layers: Affine, Sigmoid, Relu, Dropout, SoftmaxWithLoss; Tanh as in its ch06 experiments).
 *
 * Conventions. A batch is n ≤ maxRows rows. Every activation is [maxRows × Wp] in the arena, Wp the
 * layer width rounded up to whole 16-byte vectors; padding lanes never reach a logical value: the
 * weights' padding rows and columns are 0 and stay 0 (their gradients are 0 under every optimizer).
 * `x`/`y` are a layer's input/output, `dx`/`dy` their gradients (byte offsets). An activation works
 * in place (y = x, dx = dy): back-propagation needs its output, never its input.
 *
 * float64: every product and sum runs in the reference's order (src/reference/), and σ and tanh use
 * Math.exp / Math.tanh as the reference does, so a float64 network computes bit for bit what the
 * reference computes. float32: σ uses the kernels' polynomial exp (relative error < 6e-9).
 */
import { CEE_DELTA } from "../book/functions.js";
import { BN_EPS } from "../reference/layers/batch-normalization.js";
import type { Rng } from "../book/rng.js";
import type { Arena } from "./arena.js";
import { cutByCount, cutRange } from "./split.js";

/** What a forward pass needs besides the activations. */
export interface Pass {
  n: number;
  /** Training pass: dropout draws its masks from `rng`. */
  train: boolean;
  rng?: Rng;
}

/** The CSR form of the batch's images (the first layer's sparse input; see Network), and room for its CSC. */
export interface SparseInput {
  starts: number;
  offs: number;
  vals: number;
  /** Pixels per image, and the CSC scratch (per-pixel ends, row offsets, values). */
  D: number;
  cs: number;
  crow: number;
  cval: number;
}

/** A parameter tensor: logical [rows × cols] stored [rows × pcols] at `p` (gradient at `g`). */
export interface ParamTensor {
  name: string;
  rows: number;
  cols: number;
  pcols: number;
  /** Values stored: rows as stored (W of a dense layer: its input's padded width) × pcols. */
  stored: number;
  p: number;
  g: number;
  /** Weights get weight decay; biases do not. */
  decay: boolean;
  /** Stored position of each logical value (row-major [rows × cols]) when it is not r × pcols + c. */
  index?: Int32Array;
}

/**
 * A batch of images as the engine keeps it: [n × H × W × Cs], channels last (each pixel's
 * channels side by side, so a convolution is one product over every window of the batch and
 * pooling works on whole vectors of channels). Cs ≥ C is the channel stride: a convolution's
 * output is padded to whole vectors, and the padding channels stay 0. The book's order is NCHW;
 * storedIndex maps a sample's logical value (c, h, w) to where it is kept.
 */
export interface ImageLayout {
  C: number;
  H: number;
  W: number;
  Cs: number;
}

/** Where a sample's logical value i = (c·H + h)·W + w is kept (i itself for rows). */
export function storedIndex(l: ImageLayout | undefined, i: number): number {
  if (!l) return i;
  const hw = l.H * l.W;
  const c = Math.floor(i / hw), p = i - c * hw;
  return p * l.Cs + c;
}

/** storedIndex of every logical value of a sample of `units` values. */
export function storedIndices(l: ImageLayout | undefined, units: number): Int32Array {
  const out = new Int32Array(units);
  for (let i = 0; i < units; i++) out[i] = storedIndex(l, i);
  return out;
}

/** The book's batch-norm momentum of the running statistics. */
const BN_MOMENTUM = 0.9;

/** Vectors a row from which the sparse layer's gradient goes by pixel (measured: 13 vectors, the book's 50 units, are faster by rows; 100 by pixel). */
const CSC_MIN_VECTORS = 32;
/**
 * Vectors a row of dy from which a dense layer's gW reads xᵀ by rows (x turned first) rather than x
 * down its columns, whose rows 4 KiB apart share a cache set (100 × 1024 by 1024 units: 14.0 → 10.9
 * ms; 13 vectors 0.58 → 0.37 ms; 3 vectors, a 10-class output, the same either way).
 */
const XT_MIN_VECTORS = 4;

export abstract class Layer {
  /** Logical width of the output (units). */
  readonly units: number;
  /** Vectors in a row of the output. */
  readonly V: number;
  /** The output's image layout (conv, pooling, and what follows them up to an affine layer). */
  readonly layout?: ImageLayout;
  x = 0;
  y = 0;
  dx = 0;
  dy = 0;
  readonly inPlace: boolean = false;
  constructor(
    protected readonly a: Arena,
    /** Logical width of the input, and its vectors per row. */
    readonly inUnits: number,
    readonly inV: number,
    units: number,
    layout?: ImageLayout,
  ) {
    this.units = units;
    this.layout = layout;
    this.V = Math.ceil((layout ? layout.H * layout.W * layout.Cs : units) / a.lanes);
  }
  get params(): ParamTensor[] {
    return [];
  }
  /** Reserve this layer's own buffers (parameters are reserved by the network). */
  reserve(_maxRows: number): void {}
  /** Once the memory holds every buffer: write what stays the same from step to step. */
  committed(): void {}
  abstract forward(b: Pass): void;
  /** dx from dy (and the parameters' gradients); `needDx` false for the first layer. */
  abstract backward(b: Pass, needDx: boolean): void;
}

/**
 * Affine y = x·W + b. The first layer reads the batch's sparse pixels (x·W and xᵀ·dy only touch
 * non-zero pixels); later ones are dense products in register blocks. W [K × Mp] (K rows: the
 * input's padded width, or the pixels), b [Mp]; Wᵀ is rebuilt before dx = dy·Wᵀ so that product runs
 * on whole output vectors in the reference's order, and xᵀ before gW = xᵀ·dy so that it reads rows.
 */
export class Affine extends Layer {
  W!: ParamTensor;
  b!: ParamTensor;
  /** Wᵀ [Mp × Kp] for dx, and before it xᵀ [kIn × n rounded up to a vector] for gW. */
  private turned = 0;
  constructor(
    a: Arena,
    inUnits: number,
    inV: number,
    units: number,
    readonly index: number,
    /** The first layer: input is the sparse batch. */
    readonly sparse?: SparseInput,
    /** An image input (after a conv or pooling): the book flattens it in NCHW order, kept channels last. */
    readonly inLayout?: ImageLayout,
  ) {
    super(a, inUnits, inV, units);
  }
  /** Rows of W as stored: every pixel (sparse), else the input's padded width. */
  get K(): number {
    return this.sparse ? this.inUnits : this.inV * this.a.lanes;
  }
  /**
   * Input values each product runs over: the logical ones for rows (the reference's order, so
   * float64 is bit for bit), every stored one for an image (its padding channels are 0 in x and W).
   */
  private get kIn(): number {
    return this.inLayout ? this.K : this.inUnits;
  }
  declareParams(): ParamTensor[] {
    const pcols = this.V * this.a.lanes;
    this.W = { name: `W${this.index}`, rows: this.inUnits, cols: this.units, pcols, stored: this.K * pcols, p: 0, g: 0, decay: true };
    if (this.inLayout) {
      const rowOf = storedIndices(this.inLayout, this.inUnits), M = this.units;
      const index = (this.W.index = new Int32Array(this.inUnits * M));
      for (let r = 0; r < this.inUnits; r++) for (let c = 0; c < M; c++) index[r * M + c] = rowOf[r] * pcols + c;
    }
    this.b = { name: `b${this.index}`, rows: 1, cols: this.units, pcols, stored: pcols, p: 0, g: 0, decay: false };
    return [this.W, this.b];
  }
  override get params(): ParamTensor[] {
    return [this.W, this.b];
  }
  override reserve(maxRows: number): void {
    const rowsUp = Math.ceil(maxRows / this.a.lanes) * this.a.lanes;
    if (!this.sparse) this.turned = this.a.values(Math.max(this.V * this.a.lanes, rowsUp) * this.K);
  }
  /** The float32 sigmoid that follows, applied in this layer's kernel (the same operations, one pass fewer). */
  fusedSigmoid = false;
  forward(b: Pass): void {
    const k = this.a.k, s = this.sparse;
    // y [n × Mp] = x · W + b  (σ(x · W + b) when fused)
    if (s) {
      // rows of the batch cut between the step's threads by their non-zero pixels (the work)
      const act = this.fusedSigmoid ? 1 : 0, ends = this.a.i32(s.starts, b.n + 1);
      this.a.run((p, parts) => {
        const [r0, r1] = cutByCount(ends, b.n, parts, p);
        return r1 === r0 ? [] : [["hidden", s.starts + 4 * r0, s.offs, s.vals, r1 - r0, this.W.p, this.b.p, this.y + r0 * this.V * 16, this.V, act]];
      }, (ends[b.n] - ends[0]) * this.V * this.a.lanes);
    } else this.a.gemm(this.x, this.inV * 16, this.a.S, b.n, this.kIn, this.W.p, this.V * 16, this.V, this.b.p, this.y, this.V * 16);
  }
  backward(b: Pass, needDx: boolean): void {
    const k = this.a.k, s = this.sparse;
    // gb [Mp] = Σ_rows dy
    k.sum_rows(this.dy, b.n, this.V, this.b.g, this.V * 16);
    if (s) {
      // gW [D × Mp] += xᵀ · dy over the non-zero pixels (gW is 0 here: the optimizer zeroes it)
      // by pixel (CSC) for wide layers; row by row where turning the batch costs more than it saves
      if (this.V >= CSC_MIN_VECTORS) {
        const rowBytes = this.V * 16;
        k.by_pixel(s.starts, s.offs, s.vals, b.n, s.D, rowBytes, s.cs, s.crow, s.cval);
        // gW's column vectors cut between the step's threads, all reading the one CSC
        this.a.run((p, parts) => {
          const [j0, j1] = cutRange(this.V, parts, p, 4);
          return j1 === j0 ? [] : [["grad_w1", this.dy + 16 * j0, this.W.g + 16 * j0, j1 - j0, s.D, rowBytes, s.cs, s.crow, s.cval]];
        }, b.n * 150 * this.V * this.a.lanes);
      } else k.grad_w1_rows(s.starts, s.offs, s.vals, b.n, this.dy, this.W.g, this.V);
      return;
    }
    const rowX = this.inV * 16, rowY = this.V * 16, S = this.a.S;
    // gW [K × Mp] = xᵀ · dy (logical rows h: the scalars x[r, h], from a row of xᵀ or down a column of x)
    if (this.V >= XT_MIN_VECTORS) {
      // xᵀ [kIn × nV vectors] by ranges of x's columns between the threads
      const nV = Math.ceil(b.n / this.a.lanes), rowXT = nV * 16;
      this.a.run((p, parts) => {
        const [h0, h1] = cutRange(this.kIn, parts, p, 16);
        return h1 === h0 ? [] : [["transpose_w2", this.x + h0 * S, this.turned + h0 * rowXT, b.n, nV, h1 - h0, this.inV]];
      }, 16 * this.kIn * b.n);
      this.a.gemm(this.turned, rowXT, S, this.kIn, b.n, this.dy, rowY, this.V, -1, this.W.g, rowY);
    } else this.a.gemm(this.x, S, rowX, this.kIn, b.n, this.dy, rowY, this.V, -1, this.W.g, rowY);
    if (needDx) {
      // dx [n × Kp] = dy · Wᵀ  (Wᵀ by ranges of W's rows between the threads)
      this.a.run((p, parts) => {
        const [h0, h1] = cutRange(this.kIn, parts, p, 16);
        return h1 === h0 ? [] : [["transpose_w2", this.W.p + h0 * rowY, this.turned + h0 * S, h1 - h0, this.inV, this.units, this.V]];
      }, 16 * this.kIn * this.units);
      this.a.gemm(this.dy, rowY, S, b.n, this.units, this.turned, rowX, this.inV, -1, this.dx, rowX);
    }
  }
}

/** σ(x) = 1 / (1 + e^−x); backward dx = dy ⊙ (1 − y) y. */
export class Sigmoid extends Layer {
  override readonly inPlace = true;
  /** Computed by the sparse affine layer before it (float32). */
  fused = false;
  forward(b: Pass): void {
    if (this.fused) return;
    const nv = b.n * this.V;
    if (this.a.dtype === "float32") this.a.k.sigmoid(this.y, nv);
    else {
      const y = this.a.f(this.y, nv * this.a.lanes);
      for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i]));
    }
    // σ(0) = ½: an image's padding channels must stay 0 (the next layer's W.g would learn from them)
    const l = this.layout;
    if (l && l.Cs > l.C) {
      const y = this.a.f(this.y, nv * this.a.lanes), row = this.V * this.a.lanes;
      for (let r = 0; r < b.n; r++) for (let p = 0; p < l.H * l.W; p++) y.fill(0, r * row + p * l.Cs + l.C, r * row + (p + 1) * l.Cs);
    }
  }
  backward(b: Pass): void {
    this.a.k.sigmoid_bwd(this.dx, this.y, b.n * this.V);
  }
}

/** ReLU: x > 0 ? x : 0; backward dy where y > 0. */
export class Relu extends Layer {
  override readonly inPlace = true;
  forward(b: Pass): void {
    this.a.elementwise("relu", [this.y], b.n * this.V);
  }
  backward(b: Pass): void {
    this.a.elementwise("relu_bwd", [this.dx, this.y], b.n * this.V);
  }
}

/** tanh (Math.tanh, as the reference); backward dx = dy ⊙ (1 − y²). */
export class Tanh extends Layer {
  override readonly inPlace = true;
  forward(b: Pass): void {
    const y = this.a.f(this.y, b.n * this.V * this.a.lanes);
    for (let i = 0; i < y.length; i++) y[i] = Math.tanh(y[i]);
  }
  backward(b: Pass): void {
    this.a.k.tanh_bwd(this.dx, this.y, b.n * this.V);
  }
}

/**
 * Inverted dropout: while training y = x ⊙ m, m = 1/(1 − p) with probability 1 − p, else 0, drawn
 * row by row over the logical units (the reference MultiLayerNet's order); inference: y = x.
 */
export class Dropout extends Layer {
  private mask = 0;
  /** Where each logical unit is kept in a row (an image's layout), so masks are drawn in the reference's order. */
  private readonly at: Int32Array;
  /** The batch's uniforms (float64), drawn in the reference's order: row by row, logical unit by unit. */
  private u = 0;
  /** `at` in the kernels' memory. */
  private atPtr = 0;
  /** The generator's four state words, for the kernel that draws the uniforms. */
  private rngPtr = 0;
  constructor(a: Arena, inUnits: number, inV: number, readonly p: number, layout?: ImageLayout) {
    super(a, inUnits, inV, inUnits, layout);
    this.at = storedIndices(layout, inUnits);
  }
  private maxRows = 0;
  override reserve(maxRows: number): void {
    this.maxRows = maxRows;
    this.mask = this.a.values(maxRows * this.V * this.a.lanes);
    this.u = this.a.alloc(maxRows * this.units * 8);
    this.atPtr = this.a.alloc(this.units * 4);
    this.rngPtr = this.a.alloc(16);
  }
  override committed(): void {
    this.a.i32(this.atPtr, this.units).set(this.at);
    // a row's padding: dropout_mask writes only the units' places
    this.a.f(this.mask, this.maxRows * this.V * this.a.lanes).fill(0);
  }
  forward(b: Pass): void {
    const { a, units } = this;
    const w = this.V * a.lanes, rowBytes = w * a.S;
    a.u8().copyWithin(this.y, this.x, this.x + b.n * w * a.S);
    if (!b.train) return;
    // the uniforms, drawn from the run's generator by a kernel (the numbers of as many
    // Rng.uniform() calls, in order; 1.6× faster than a JavaScript loop: 80,000 a step for 100
    // rows of 800 units)
    const rng = b.rng!, state = rng.getState(), words = a.i32(this.rngPtr, 4);
    words.set(state.s);
    a.k.uniforms(this.u, b.n * units, this.rngPtr);
    rng.setState({ ...state, s: Array.from(new Uint32Array(words.buffer, words.byteOffset, 4)) });
    const keep = 1 / (1 - this.p);
    // m [n × w] = u ≥ p ? keep : 0 at each unit's place, rows cut between the threads
    a.run((part, parts) => {
      const [r0, r1] = cutRange(b.n, parts, part);
      return r1 === r0 ? [] : [["dropout_mask", this.u + r0 * units * 8, this.atPtr, r1 - r0, units, this.mask + r0 * rowBytes, rowBytes, this.p, keep]];
    }, 4 * b.n * units);
    a.elementwise("mul", [this.y, this.mask], b.n * this.V);
  }
  backward(b: Pass): void {
    const { a } = this;
    a.u8().copyWithin(this.dx, this.dy, this.dy + b.n * this.V * 16);
    a.elementwise("mul", [this.dx, this.mask], b.n * this.V);
  }
}

/**
 * The book's batch normalization (ch06; the formulas are in src/reference/layers/batch-normalization.ts):
 * one γ, β, running mean and running variance per input value (C·H·W of an image, as the book
 * reshapes it), momentum 0.9, ε 1e−6. A training pass normalizes by the batch's statistics and
 * moves the running ones; any other pass uses the running ones. Each feature is computed in the
 * reference's order and arithmetic, so float64 is bit for bit. It works in place: backward needs
 * x − μ, x̂ and σ, which it keeps, never x.
 */
export class BatchNormalization extends Layer {
  override readonly inPlace = true;
  gamma!: ParamTensor;
  beta!: ParamTensor;
  runningMean!: ParamTensor;
  runningVar!: ParamTensor;
  /** Where each feature is kept in a row. */
  private readonly at: Int32Array;
  private xc = 0;
  private xn = 0;
  private std = 0;
  constructor(a: Arena, inUnits: number, inV: number, readonly index: number, layout?: ImageLayout) {
    super(a, inUnits, inV, inUnits, layout);
    this.at = storedIndices(layout, inUnits);
  }
  private tensor(name: string): ParamTensor {
    const pcols = this.V * this.a.lanes, D = this.units;
    const index = new Int32Array(this.at);
    return { name: `${name}${this.index}`, rows: 1, cols: D, pcols, stored: pcols, p: 0, g: 0, decay: false, index };
  }
  declareParams(): ParamTensor[] {
    return [(this.gamma = this.tensor("gamma")), (this.beta = this.tensor("beta"))];
  }
  /** Saved with the model, never learned: the optimizer leaves them alone (their gradient is 0). */
  declareState(): ParamTensor[] {
    return [(this.runningMean = this.tensor("runningMean")), (this.runningVar = this.tensor("runningVar"))];
  }
  override get params(): ParamTensor[] {
    return [this.gamma, this.beta];
  }
  override reserve(maxRows: number): void {
    const row = this.V * this.a.lanes;
    this.xc = this.a.values(maxRows * row);
    this.xn = this.a.values(maxRows * row);
    this.std = this.a.values(row);
  }
  forward(b: Pass): void {
    const { a, at } = this;
    const N = b.n, row = this.V * a.lanes, m = BN_MOMENTUM;
    const x = a.f(this.x, N * row), xc = a.f(this.xc, N * row), xn = a.f(this.xn, N * row), std = a.f(this.std, row);
    const gamma = a.f(this.gamma.p, row), beta = a.f(this.beta.p, row);
    const rMean = a.f(this.runningMean.p, row), rVar = a.f(this.runningVar.p, row);
    for (let d = 0; d < this.units; d++) {
      const s = at[d];
      if (b.train) {
        let mu = 0;
        for (let n = 0; n < N; n++) mu += x[n * row + s];
        mu /= N;
        let v = 0;
        for (let n = 0; n < N; n++) {
          const c = x[n * row + s] - mu;
          xc[n * row + s] = c;
          v += c * c;
        }
        v /= N;
        std[s] = Math.sqrt(v + BN_EPS);
        rMean[s] = m * rMean[s] + (1 - m) * mu;
        rVar[s] = m * rVar[s] + (1 - m) * v;
      } else {
        for (let n = 0; n < N; n++) xc[n * row + s] = x[n * row + s] - rMean[s];
        std[s] = Math.sqrt(rVar[s] + BN_EPS);
      }
      for (let n = 0; n < N; n++) xn[n * row + s] = xc[n * row + s] / std[s];
      for (let n = 0; n < N; n++) x[n * row + s] = gamma[s] * xn[n * row + s] + beta[s];
    }
  }
  /** The training forward's gradient (backward only ever follows a training pass). */
  backward(b: Pass): void {
    const { a, at } = this;
    const N = b.n, row = this.V * a.lanes;
    const d = a.f(this.dy, N * row), xc = a.f(this.xc, N * row), xn = a.f(this.xn, N * row), std = a.f(this.std, row);
    const gamma = a.f(this.gamma.p, row), gGamma = a.f(this.gamma.g, row), gBeta = a.f(this.beta.g, row);
    for (let f = 0; f < this.units; f++) {
      const s = at[f];
      let dbeta = 0, dgamma = 0, dstd = 0;
      for (let n = 0; n < N; n++) {
        const i = n * row + s;
        dbeta += d[i];
        dgamma += xn[i] * d[i];
        const dxn = gamma[s] * d[i];
        d[i] = dxn / std[s]; // dxc, for now (in place: dy[i] is read above)
        dstd -= (dxn * xc[i]) / (std[s] * std[s]);
      }
      gBeta[s] = dbeta;
      gGamma[s] = dgamma;
      const dvar = (0.5 * dstd) / std[s];
      let dmu = 0;
      for (let n = 0; n < N; n++) {
        const i = n * row + s;
        d[i] += (2.0 / N) * xc[i] * dvar;
        dmu += d[i];
      }
      for (let n = 0; n < N; n++) d[n * row + s] -= dmu / N;
    }
  }
}

/** [C, H, W] → [C·H·W]: nothing moves; the next affine layer reads the image in the book's NCHW order. */
export class Flatten extends Layer {
  override readonly inPlace = true;
  forward(): void {}
  backward(): void {}
}

/**
 * The loss layer: softmax and the book's cross-entropy −Σ log(y_t + 1e-7) / n on logits [n × Op].
 * Forward (the loss) in float64 arithmetic with Math.exp / Math.log, as the reference computes it;
 * backward dy = (softmax − onehot) / n: float32 in the module (its polynomial exp), float64 in
 * TypeScript with Math.exp, the reference's order.
 */
export class SoftmaxWithLoss {
  private readonly e: Float64Array;
  constructor(
    private readonly a: Arena,
    /** Classes, and vectors per row of the logits. */
    readonly O: number,
    readonly OV: number,
    /** Logits, their gradient, and the batch's labels as i32 (float32 kernel). */
    readonly x: number,
    readonly dx: number,
    readonly lab: number,
  ) {
    this.e = new Float64Array(O);
  }

  forward(n: number, labels: ArrayLike<number>, indices: ArrayLike<number>): number {
    const { O } = this;
    const w = this.OV * this.a.lanes;
    const A = this.a.f(this.x, n * w);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      const o0 = r * w;
      let max = -Infinity;
      for (let o = 0; o < O; o++) if (A[o0 + o] > max) max = A[o0 + o];
      let s = 0;
      for (let o = 0; o < O; o++) s += Math.exp(A[o0 + o] - max);
      sum += Math.log(Math.exp(A[o0 + labels[indices[r]]] - max) / s + CEE_DELTA);
    }
    return -sum / n;
  }

  backward(n: number, labels: ArrayLike<number>, indices: ArrayLike<number>): void {
    const { O, e, a } = this;
    if (a.dtype === "float32") {
      const lab = a.i32(this.lab, n);
      for (let r = 0; r < n; r++) lab[r] = labels[indices[r]];
      a.k.softmax_dy(this.x, n, O, this.OV, this.lab, this.dx);
      return;
    }
    const w = this.OV * a.lanes;
    const A = a.f(this.x, n * w), dY = a.f(this.dx, n * w);
    for (let r = 0; r < n; r++) {
      const o0 = r * w;
      let max = -Infinity;
      for (let o = 0; o < O; o++) if (A[o0 + o] > max) max = A[o0 + o];
      let sum = 0;
      for (let o = 0; o < O; o++) {
        e[o] = Math.exp(A[o0 + o] - max);
        sum += e[o];
      }
      const label = labels[indices[r]];
      for (let o = 0; o < O; o++) dY[o0 + o] = (e[o] / sum - (o === label ? 1 : 0)) / n;
      for (let o = O; o < w; o++) dY[o0 + o] = 0;
    }
  }
}
