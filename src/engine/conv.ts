/**
 * The engine's convolution and max pooling (the book's ch07 Convolution and Pooling; their plain
 * float64 formulations are src/reference/layers/ and src/reference/im2col.ts), on images kept
 * channels last ([n × H × W × Cs], see ImageLayout).
 *
 * Convolution by im2col, as the book: every window becomes a row, and the layer is one product.
 *   forward   col [n·P × K] = im2col(x)                 P = OH·OW windows, K = FH·FW·Cs (fy, fx, c)
 *             y [n·P × FNp] = col · W + b               W [K × FNp]: the book's W [FN × C × FH × FW], transposed
 *   backward  gb [FNp] = Σ_rows dy;  gW [K × FNp] = colᵀ · dy
 *             dcol [n·P × Kp] = dy · Wᵀ;  dx = col2im(dcol)  (windows that overlap add up)
 * y's rows are the output image channels last, so no transpose follows the product. The window's
 * values are read (fy, fx, c) rather than the book's (c, fy, fx), so its sums run in another
 * order: float64 agrees with the reference to rounding, not bit for bit (test/unit/engine).
 * col holds `chunk` samples at a time (bounded memory for any batch); gW accumulates over chunks
 * in the same order as one product would, so the chunk size changes no value.
 */
import { outSize } from "../reference/layers/layer.js";
import type { Arena, KernelOp } from "./arena.js";
import { cutRange } from "./split.js";
import { Layer, type ImageLayout, type ParamTensor, type Pass } from "./layers.js";


export interface ConvGeometry {
  filters: number;
  kernel: readonly [number, number];
  stride: number;
  pad: number;
}

/** Windows per product of gW (their dy and col in cache while every row of gW is made). */
const GW_ROWS = 256;
/** Products of gW per exchange between the step's threads. */
const GW_CALLS = 128;


export class Convolution extends Layer {
  /** Values of im2col's buffer (16 MiB of float32): a batch is cut into chunks of samples that fit (tests make it small). */
  static colValues = 1 << 22;
  W!: ParamTensor;
  b!: ParamTensor;
  readonly FH: number;
  readonly FW: number;
  readonly stride: number;
  readonly pad: number;
  /** Windows per sample, and values per window. */
  readonly P: number;
  readonly K: number;
  private readonly KV: number;
  private readonly FNV: number;
  /** Samples per im2col chunk. */
  private chunk = 1;
  private col = 0;
  private WT = 0;
  /** Samples whose windows are in col (a training batch that fits one chunk is not unrolled twice). */
  private colHolds = -1;

  constructor(
    a: Arena,
    readonly inLayout: ImageLayout,
    g: ConvGeometry,
    readonly index: number,
  ) {
    const { C, H, W } = inLayout;
    const [FH, FW] = g.kernel;
    const OH = outSize(H, FH, g.stride, g.pad), OW = outSize(W, FW, g.stride, g.pad);
    const FN = g.filters;
    super(a, C * H * W, Math.ceil((H * W * inLayout.Cs) / a.lanes), FN * OH * OW, { C: FN, H: OH, W: OW, Cs: Math.ceil(FN / a.lanes) * a.lanes });
    this.FH = FH;
    this.FW = FW;
    this.stride = g.stride;
    this.pad = g.pad;
    this.P = OH * OW;
    this.K = FH * FW * inLayout.Cs;
    this.KV = Math.ceil(this.K / a.lanes);
    this.FNV = this.layout!.Cs / a.lanes;
  }

  declareParams(): ParamTensor[] {
    const { a, FH, FW } = this;
    const { C, Cs } = this.inLayout;
    const FN = this.layout!.C, pcols = this.FNV * a.lanes, cols = C * FH * FW;
    // logical W[f, c, fy, fx] (the book's) is kept at row (fy·FW + fx)·Cs + c, column f
    const index = new Int32Array(FN * cols);
    for (let f = 0; f < FN; f++)
      for (let c = 0; c < C; c++)
        for (let fy = 0; fy < FH; fy++)
          for (let fx = 0; fx < FW; fx++) index[f * cols + (c * FH + fy) * FW + fx] = ((fy * FW + fx) * Cs + c) * pcols + f;
    this.W = { name: `W${this.index}`, rows: FN, cols, pcols, stored: this.K * pcols, p: 0, g: 0, decay: true, index };
    this.b = { name: `b${this.index}`, rows: 1, cols: FN, pcols, stored: pcols, p: 0, g: 0, decay: false };
    return [this.W, this.b];
  }
  override get params(): ParamTensor[] {
    return [this.W, this.b];
  }
  override reserve(maxRows: number): void {
    const rowValues = this.P * this.KV * this.a.lanes;
    this.chunk = Math.max(1, Math.min(maxRows, Math.floor(Convolution.colValues / rowValues)));
    this.col = this.a.values(this.chunk * rowValues);
    this.WT = this.a.values(this.layout!.C * this.KV * this.a.lanes);
  }

  /**
   * col [m·P × Kp] = the windows of samples [s0, s0 + m) of x (zeros where a window hangs over the
   * padding): the calls of samples [s0 + from, s0 + to), which fill col's rows of those samples.
   */
  private im2col(s0: number, from: number, to: number): KernelOp {
    const { H, W, Cs } = this.inLayout, { H: OH, W: OW } = this.layout!;
    const inRow = this.inV * 16, colRow = this.KV * 16;
    return ["im2col", this.x + (s0 + from) * inRow, inRow, to - from, H, W, Cs, this.FH, this.FW, this.stride, this.pad, OH, OW, this.col + from * this.P * colRow, colRow];
  }

  /** dx of samples [s0 + from, s0 + to) = col2im(their rows of col): every window's values added back onto their pixels, in window order. */
  private col2im(s0: number, from: number, to: number): KernelOp {
    const { H, W, Cs } = this.inLayout, { H: OH, W: OW } = this.layout!;
    const inRow = this.inV * 16, colRow = this.KV * 16;
    return ["col2im", this.dx + (s0 + from) * inRow, inRow, to - from, H, W, Cs, this.FH, this.FW, this.stride, this.pad, OH, OW, this.col + from * this.P * colRow, colRow];
  }

  /** The multiply-adds of m samples' product. */
  private work(m: number): number {
    return m * this.P * this.K * this.FNV * this.a.lanes;
  }

  // The batch's samples are cut between the step's threads: each unrolls its samples' windows and
  // makes their rows of y, dcol and dx. gW sums over every window, so it is cut by its rows instead.
  forward(b: Pass): void {
    const { a, P } = this;
    const rowY = this.FNV * 16, colRow = this.KV * 16, outRow = this.V * 16;
    for (let s0 = 0; s0 < b.n; s0 += this.chunk) {
      const m = Math.min(this.chunk, b.n - s0);
      // y [m·P × FNp] = col · W + b
      a.run((p, parts) => {
        const [from, to] = cutRange(m, parts, p);
        if (to === from) return [];
        const rows = this.col + from * P * colRow;
        return [this.im2col(s0, from, to), ["gemm", rows, colRow, a.S, (to - from) * P, this.K, this.W.p, rowY, this.FNV, this.b.p, this.y + (s0 + from) * outRow, rowY]];
      }, this.work(m));
    }
    this.colHolds = b.train && b.n <= this.chunk ? b.n : -1;
  }

  backward(b: Pass, needDx: boolean): void {
    const { a, P } = this;
    const k = a.k, rowY = this.FNV * 16, colRow = this.KV * 16, outRow = this.V * 16, FN = this.layout!.C;
    // gb [FNp] = Σ over every window of every sample of dy (its vectors cut between the threads)
    a.run((p, parts) => {
      const [v0, v1] = cutRange(this.FNV, parts, p, 4);
      return v1 === v0 ? [] : [["sum_rows", this.dy + 16 * v0, b.n * P, v1 - v0, this.b.g + 16 * v0, rowY]];
    }, b.n * P * this.FNV * a.lanes);
    if (needDx) k.transpose_w2(this.W.p, this.WT, this.K, this.KV, FN, this.FNV);
    for (let s0 = 0; s0 < b.n; s0 += this.chunk) {
      const m = Math.min(this.chunk, b.n - s0);
      if (!(s0 === 0 && this.colHolds === m)) a.run((p, parts) => {
        const [from, to] = cutRange(m, parts, p);
        return to === from ? [] : [this.im2col(s0, from, to)];
      }, this.work(m));
      const dy = this.dy + s0 * outRow;
      // gW [K × FNp] (+)= colᵀ · dy, GW_ROWS windows at a time so that their dy stays in cache;
      // each thread makes its rows of gW (GW_CALLS products per exchange: a part's calls must fit its lane)
      for (let g0 = 0; g0 < m * P; g0 += GW_ROWS * GW_CALLS) {
        const g1 = Math.min(m * P, g0 + GW_ROWS * GW_CALLS);
        a.run((p, parts) => {
          const [k0, k1] = cutRange(this.K, parts, p, 2);
          const ops: KernelOp[] = [];
          if (k1 > k0) for (let r0 = g0; r0 < g1; r0 += GW_ROWS) {
            const rows = Math.min(GW_ROWS, g1 - r0);
            ops.push(["gemm", this.col + r0 * colRow + k0 * a.S, a.S, colRow, k1 - k0, rows, dy + r0 * rowY, rowY, this.FNV, s0 === 0 && r0 === 0 ? -1 : -2, this.W.g + k0 * rowY, rowY]);
          }
          return ops;
        }, this.work((g1 - g0) / P));
      }
      if (!needDx) continue;
      // dcol [m·P × Kp] = dy · Wᵀ (into col: its windows are used), then onto dx
      a.run((p, parts) => {
        const [from, to] = cutRange(m, parts, p);
        if (to === from) return [];
        return [["gemm", dy + from * outRow, rowY, a.S, (to - from) * P, FN, this.WT, colRow, this.KV, -1, this.col + from * P * colRow, colRow], this.col2im(s0, from, to)];
      }, this.work(m));
      this.colHolds = -1;
    }
  }
}

/**
 * Max pooling: each output value is the largest of its window (the first largest, in window
 * order, as the book's argmax), over every channel of the window's pixels at once; windows that
 * hang over the padding see zeros (the book pads with np.pad's 0). Backward sends dy to where the
 * maximum was; a maximum in the padding sends it nowhere.
 */
export class Pooling extends Layer {
  readonly PH: number;
  readonly PW: number;
  readonly stride: number;
  readonly pad: number;
  /** Per output value: the stored position in its input sample of the maximum (−1: the padding). */
  private arg = 0;

  constructor(a: Arena, readonly inLayout: ImageLayout, kernel: readonly [number, number], stride: number, pad: number) {
    const { C, H, W, Cs } = inLayout;
    const [PH, PW] = kernel;
    const OH = outSize(H, PH, stride, pad), OW = outSize(W, PW, stride, pad);
    super(a, C * H * W, Math.ceil((H * W * Cs) / a.lanes), C * OH * OW, { C, H: OH, W: OW, Cs });
    this.PH = PH;
    this.PW = PW;
    this.stride = stride;
    this.pad = pad;
  }
  override reserve(maxRows: number): void {
    this.arg = this.a.alloc(maxRows * this.V * this.a.lanes * 4);
  }

  // (samples cut between the threads; arg has one i32 per output value, outRow / S of them a sample)
  forward(b: Pass): void {
    const { H, W, Cs } = this.inLayout, { H: OH, W: OW } = this.layout!;
    const inRow = this.inV * 16, outRow = this.V * 16, argRow = (outRow / this.a.S) * 4;
    this.a.run((p, parts) => {
      const [s0, s1] = cutRange(b.n, parts, p);
      return s1 === s0 ? [] : [["maxpool", this.x + s0 * inRow, inRow, s1 - s0, H, W, Cs, this.PH, this.PW, this.stride, this.pad, OH, OW, this.y + s0 * outRow, outRow, this.arg + s0 * argRow]];
    }, b.n * this.inV * this.a.lanes);
  }

  backward(b: Pass, needDx: boolean): void {
    if (!needDx) return;
    const { H, W, Cs } = this.layout!;
    const inRow = this.inV * 16, outRow = this.V * 16, argRow = (outRow / this.a.S) * 4;
    this.a.run((p, parts) => {
      const [s0, s1] = cutRange(b.n, parts, p);
      return s1 === s0 ? [] : [["maxpool_bwd", this.dy + s0 * outRow, outRow, s1 - s0, H * W * Cs, this.dx + s0 * inRow, inRow, this.arg + s0 * argRow]];
    }, b.n * this.inV * this.a.lanes);
  }
}
