/**
 * The fast path: the TwoLayerNet's training step and batch prediction on the WebAssembly SIMD
 * kernels of wasm/kernels.wat.js (built into dist/wasm/ by `npm run build`), in float32 or float64.
 *
 * Images stay bytes until a batch is turned into CSR form (the ≈ 81 % zero pixels dropped, the rest
 * normalized through PIXEL_SCALE), so the two 784-wide products, x·W1 and xᵀ·dz1, only touch
 * non-zero pixels. The splits a run keeps coming back to (keepImages) are packed once in the
 * module's memory, so that a batch or an evaluation chunk is expanded from the packed entries
 * instead of scanning its pixels again. The small layers (50 × 10: z1·W2, the W2/b gradients, dz1,
 * the updates) run in the module too. The loss stays in TypeScript (Math.exp and Math.log in
 * float64 arithmetic).
 *
 * float64: every product sums in the reference order (bias, then pixels ascending; batch rows
 * ascending), and the training step applies the sigmoid and the softmax with Math.exp in
 * TypeScript, so a training run is bit for bit the reference one; prediction uses the kernels'
 * polynomial exp (within 1e-15).
 * float32: all parameters, activations, products and the softmax's dy in float32, in the module
 * (params kept as float32 shadows).
 */
import { CEE_DELTA } from "../book/functions.js";
import { instantiateKernels, type WasmMemory } from "./wasm.js";
import { PIXEL_SCALE } from "../data/mnist.js";
import type { Params } from "../reference/two-layer-net.js";
import type { Dtype } from "./wasm.js";
export type { Dtype };
export { fastKernelsAvailable, kernelsPath } from "./wasm.js";

interface KernelExports {
  memory: WasmMemory;
  csr(img: number, idx: number, n: number, D: number, rowBytes: number, table: number, starts: number, offs: number, vals: number): number;
  pack(img: number, n: number, D: number, starts: number, ent: number, base: number): number;
  expand(pStarts: number, ent: number, idx: number, first: number, n: number, rowBytes: number, starts: number, offs: number, vals: number): number;
  hidden(starts: number, offs: number, vals: number, n: number, W: number, b: number, Z: number, HV: number, act: number): void;
  logits(Z: number, n: number, HV: number, W2: number, b2: number, A: number, OV: number): void;
  grad_w1(starts: number, offs: number, vals: number, n: number, dZ: number, G: number, HV: number): void;
  sgd(W: number, G: number, nv: number, lr: number): void;
  backward_small(Z: number, dY: number, n: number, H: number, HV: number, O: number, OV: number, W2: number, b1: number, b2: number,
    dZ: number, gW2: number, gb1: number, gb2: number, lr: number, W2T: number): void;
  transpose_w2(W2: number, W2T: number, H: number, HV: number, O: number, OV: number): void;
  softmax_dy(A: number, n: number, O: number, OV: number, lab: number, dY: number): void;
}

type FArray = Float32Array | Float64Array;

/** Rows per prediction chunk. */
export const PREDICT_CHUNK = 1000;

export class FastNet {
  readonly dtype: Dtype;
  readonly D: number;
  readonly H: number;
  readonly O: number;
  readonly maxRows: number;
  private readonly k: KernelExports;
  private readonly S: number;
  private readonly lanes: number;
  private readonly HV: number;
  private readonly Hp: number;
  private readonly OV: number;
  private readonly Op: number;
  // byte offsets
  private readonly pTable: number;
  private readonly pW1: number;
  private readonly pG1: number;
  private readonly pB1: number;
  private readonly pW2: number;
  private readonly pB2: number;
  private readonly pW2T: number;
  private readonly paramEnd: number;
  private readonly pImg: number;
  private readonly pStarts: number;
  private readonly pIdx: number;
  private readonly pLab: number;
  private readonly pOffs: number;
  private readonly pVals: number;
  private readonly pZ: number;
  private readonly pDZ: number;
  private readonly pA: number;
  private readonly pDY: number;
  private readonly pGW2: number;
  private readonly pGB1: number;
  private readonly pGB2: number;
  // views (made again by rebindViews when keepImages grows the memory)
  private mem8: Uint8Array;
  private idx: Int32Array;
  private lab: Int32Array;
  private W2: FArray;
  private b1: FArray;
  private b2: FArray;
  private W1: FArray;
  private Z: FArray;
  private dZ: FArray;
  private A: FArray;
  private dY: FArray;
  private readonly ebuf: Float64Array;

  constructor(dtype: Dtype, D: number, H: number, O: number, maxRows: number) {
    this.dtype = dtype;
    this.D = D;
    this.H = H;
    this.O = O;
    this.maxRows = maxRows;
    const S = (this.S = dtype === "float32" ? 4 : 8);
    const lanes = (this.lanes = 16 / S);
    this.HV = Math.ceil(H / lanes);
    this.Hp = this.HV * lanes;
    this.OV = Math.ceil(O / lanes);
    this.Op = this.OV * lanes;
    let top = 0;
    const alloc = (bytes: number) => {
      const p = top;
      top += Math.ceil(bytes / 16) * 16;
      return p;
    };
    this.pTable = alloc(256 * S);
    // the parameters (and W2ᵀ) first and contiguous: one byte range (paramBytes), the same layout
    // for the same (dtype, D, H, O)
    this.pW1 = alloc(D * this.Hp * S);
    this.pB1 = alloc(this.Hp * S);
    this.pW2 = alloc(this.Hp * this.Op * S);
    this.pB2 = alloc(this.Op * S);
    this.pW2T = alloc(this.Op * this.Hp * S);
    this.paramEnd = top;
    this.pG1 = alloc(D * this.Hp * S);
    this.pImg = alloc(maxRows * D + 16);
    this.pStarts = alloc((maxRows + 1) * 4);
    this.pIdx = alloc(maxRows * 4);
    this.pLab = alloc(maxRows * 4);
    // (+ 3 entries: expand writes four at a time)
    this.pOffs = alloc((maxRows * D + 3) * 4);
    this.pVals = alloc((maxRows * D + 3) * S);
    this.pZ = alloc(maxRows * this.Hp * S);
    this.pDZ = alloc(maxRows * this.Hp * S);
    this.pA = alloc(maxRows * this.Op * S);
    this.pDY = alloc(maxRows * this.Op * S);
    this.pGW2 = alloc(this.Hp * this.Op * S);
    this.pGB1 = alloc(this.Hp * S);
    this.pGB2 = alloc(this.Op * S);
    const pages = Math.ceil(top / 65536);
    const exp = instantiateKernels<KernelExports>(dtype);
    const have = exp.memory.buffer.byteLength / 65536;
    if (have < pages) exp.memory.grow(pages - have);
    this.k = exp;
    this.mem8 = new Uint8Array(0);
    this.idx = this.lab = new Int32Array(0);
    this.W1 = this.b1 = this.W2 = this.b2 = this.Z = this.dZ = this.A = this.dY = new Float64Array(0);
    this.rebindViews();
    (dtype === "float32" ? new Float32Array(exp.memory.buffer, this.pTable, 256) : new Float64Array(exp.memory.buffer, this.pTable, 256)).set(PIXEL_SCALE);
    this.ebuf = new Float64Array(O);
  }

  /** (Re)create the typed-array views of the module's memory (after it grows). */
  private rebindViews(): void {
    const buf = this.k.memory.buffer;
    const F = this.dtype === "float32" ? Float32Array : Float64Array;
    const view = (p: number, n: number): FArray => new F(buf, p, n);
    this.mem8 = new Uint8Array(buf);
    this.idx = new Int32Array(buf, this.pIdx, this.maxRows);
    this.lab = new Int32Array(buf, this.pLab, this.maxRows);
    this.W1 = view(this.pW1, this.D * this.Hp);
    this.b1 = view(this.pB1, this.Hp);
    this.W2 = view(this.pW2, this.Hp * this.Op);
    this.b2 = view(this.pB2, this.Op);
    this.Z = view(this.pZ, this.maxRows * this.Hp);
    this.dZ = view(this.pDZ, this.maxRows * this.Hp);
    this.A = view(this.pA, this.maxRows * this.Op);
    this.dY = view(this.pDY, this.maxRows * this.Op);
  }

  /** Load the model's float64 parameters (rounded to float32 for the float32 path). */
  setParams(p: Params): void {
    const { D, H, O, Hp, Op } = this;
    for (let i = 0; i < D; i++) for (let h = 0; h < H; h++) this.W1[i * Hp + h] = p.W1[i * H + h];
    for (let h = 0; h < H; h++) this.b1[h] = p.b1[h];
    for (let h = 0; h < H; h++) for (let o = 0; o < O; o++) this.W2[h * Op + o] = p.W2[h * O + o];
    for (let o = 0; o < O; o++) this.b2[o] = p.b2[o];
    this.k.transpose_w2(this.pW2, this.pW2T, H, this.HV, O, this.OV);
  }

  /** Write the parameters back into the model's float64 arrays. */
  getParams(p: Params): void {
    const { D, H, O, Hp, Op } = this;
    for (let i = 0; i < D; i++) for (let h = 0; h < H; h++) p.W1[i * H + h] = this.W1[i * Hp + h];
    for (let h = 0; h < H; h++) p.b1[h] = this.b1[h];
    for (let h = 0; h < H; h++) for (let o = 0; o < O; o++) p.W2[h * O + o] = this.W2[h * Op + o];
    for (let o = 0; o < O; o++) p.b2[o] = this.b2[o];
  }

  /** CSR of the n image rows already in the image buffer. */
  private csr(n: number): void {
    this.k.csr(this.pImg, -1, n, this.D, this.Hp * this.S, this.pTable, this.pStarts, this.pOffs, this.pVals);
  }

  /** Rows of image arrays kept packed in module memory (see keepImages). */
  private readonly packed: { images: Uint8Array; from: number; count: number; pStarts: number; pEnt: number }[] = [];

  /** The packed rows holding image rows [start, start + count) of `images`, if any. */
  private packedFor(images: Uint8Array, start: number, count: number) {
    return this.packed.find((d) => d.images === images && start >= d.from && start + count <= d.from + d.count);
  }

  /** Whether rows [from, from + count) of `images` are kept (keepImages). */
  keeps(images: Uint8Array, from = 0, count = images.length / this.D): boolean {
    return this.packedFor(images, from, count) !== undefined;
  }

  /**
   * Keep rows [from, from + count) of `images` in the module, packed: one 32-bit entry per non-zero
   * pixel (≈ 150 of 784 in MNIST, so 0.77 bytes per pixel instead of 1), made once. Batches
   * (trainStep, batchLoss) and predictions (predictRange) on these rows then start from the
   * packed form instead of scanning 784 bytes per row: the same CSR, so the same values.
   * The memory grows by the packed size; it never shrinks.
   */
  keepImages(images: Uint8Array, from = 0, count = images.length / this.D): void {
    if (this.keeps(images, from, count)) return;
    const { D, k } = this;
    const mem = k.memory;
    const grow = (end: number) => {
      if (end > mem.buffer.byteLength) {
        mem.grow(Math.ceil((end - mem.buffer.byteLength) / 65536));
        this.rebindViews();
      }
    };
    const pStarts = mem.buffer.byteLength;
    const pEnt = pStarts + Math.ceil(((count + 1) * 4) / 16) * 16;
    grow(pEnt);
    let entries = 0;
    for (let c = 0; c < count; c += this.maxRows) {
      const n = Math.min(this.maxRows, count - c);
      grow(pEnt + (entries + n * D + 3) * 4); // room for the worst case: every pixel non-zero (+ expand's overread)
      const src = (from + c) * D;
      this.mem8.set(images.subarray(src, src + n * D), this.pImg);
      entries += k.pack(this.pImg, n, D, pStarts + c * 4, pEnt + entries * 4, entries);
    }
    this.packed.push({ images, from, count, pStarts, pEnt });
  }

  /** Z = σ(x·W1 + b1), A = Z·W2 + b2 for the n rows in CSR form. */
  private forward(n: number, exactSigmoid: boolean): void {
    const { k } = this;
    if (exactSigmoid) {
      // float64 training: the reference's 1 / (1 + Math.exp(−a)), so a run is bit for bit the reference one
      k.hidden(this.pStarts, this.pOffs, this.pVals, n, this.pW1, this.pB1, this.pZ, this.HV, 0);
      const Z = this.Z, H = this.H, Hp = this.Hp;
      for (let r = 0; r < n; r++) {
        for (let h = 0; h < H; h++) Z[r * Hp + h] = 1 / (1 + Math.exp(-Z[r * Hp + h]));
        for (let h = H; h < Hp; h++) Z[r * Hp + h] = 0;
      }
    } else {
      k.hidden(this.pStarts, this.pOffs, this.pVals, n, this.pW1, this.pB1, this.pZ, this.HV, 1);
    }
    k.logits(this.pZ, n, this.HV, this.pW2, this.pB2, this.pA, this.OV);
  }

  /** Copy image rows `indices` of `images` (D bytes each) into the module. */
  private loadRows(images: Uint8Array, indices: ArrayLike<number>): void {
    const D = this.D;
    for (let r = 0; r < indices.length; r++) {
      const src = indices[r] * D;
      this.mem8.set(images.subarray(src, src + D), this.pImg + r * D);
    }
  }

  /** The batch `indices` of `images` in CSR form (from the packed rows when they are kept). */
  private loadBatch(images: Uint8Array, indices: Int32Array): void {
    const n = indices.length;
    let lo = Infinity, hi = -Infinity;
    for (let r = 0; r < n; r++) {
      if (indices[r] < lo) lo = indices[r];
      if (indices[r] > hi) hi = indices[r];
    }
    const d = n > 0 ? this.packedFor(images, lo, hi - lo + 1) : undefined;
    if (d) {
      for (let r = 0; r < n; r++) this.idx[r] = indices[r] - d.from;
      this.k.expand(d.pStarts, d.pEnt, this.pIdx, 0, n, this.Hp * this.S, this.pStarts, this.pOffs, this.pVals);
    } else {
      this.loadRows(images, indices);
      this.csr(n);
    }
  }

  /**
   * One book iteration on the batch `indices` of `images`/`labels`: gradient, SGD update, then the
   * loss of the updated network on the same batch (returned).
   */
  trainStep(images: Uint8Array, labels: Uint8Array, indices: Int32Array, lr: number): number {
    this.step(images, labels, indices, lr);
    return this.loss(labels, indices);
  }

  /** The gradient and SGD update of trainStep, without the loss pass (the batch stays loaded for `loss`). */
  step(images: Uint8Array, labels: Uint8Array, indices: Int32Array, lr: number): void {
    const n = indices.length;
    const { O, Op, A, dY, ebuf, k } = this;
    this.loadBatch(images, indices);
    this.forward(n, this.dtype === "float64");
    // y = softmax(a2); dy = (y − t) / n  (lanes ≥ O of dY stay 0): float32 in the module (its
    // polynomial exp); float64 with the reference's Math.exp, so a run is bit for bit the reference one
    if (this.dtype === "float32") {
      for (let r = 0; r < n; r++) this.lab[r] = labels[indices[r]];
      k.softmax_dy(this.pA, n, O, this.OV, this.pLab, this.pDY);
    } else for (let r = 0; r < n; r++) {
      const a = r * Op;
      let max = -Infinity;
      for (let o = 0; o < O; o++) if (A[a + o] > max) max = A[a + o];
      let sum = 0;
      for (let o = 0; o < O; o++) {
        const e = Math.exp(A[a + o] - max);
        ebuf[o] = e;
        sum += e;
      }
      const label = labels[indices[r]];
      for (let o = 0; o < O; o++) dY[a + o] = (ebuf[o] / sum - (o === label ? 1 : 0)) / n;
    }
    // gW2, gb2, dz1, gb1 and the small updates; then gW1 = xᵀ·dz1 (sparse) and its update
    k.backward_small(this.pZ, this.pDY, n, this.H, this.HV, O, this.OV, this.pW2, this.pB1, this.pB2, this.pDZ, this.pGW2, this.pGB1, this.pGB2, lr, this.pW2T);
    k.grad_w1(this.pStarts, this.pOffs, this.pVals, n, this.pDZ, this.pG1, this.HV);
    k.sgd(this.pW1, this.pG1, (this.D * this.Hp) / this.lanes, lr);
  }

  /** The book's loss of the current network on the batch last loaded (by `step`): its extra forward pass. */
  loss(labels: Uint8Array, indices: Int32Array): number {
    const n = indices.length;
    const { O, Op, A } = this;
    this.forward(n, this.dtype === "float64");
    let sum = 0;
    for (let r = 0; r < n; r++) {
      const a = r * Op;
      let max = -Infinity;
      for (let o = 0; o < O; o++) if (A[a + o] > max) max = A[a + o];
      let s = 0;
      for (let o = 0; o < O; o++) s += Math.exp(A[a + o] - max);
      const label = labels[indices[r]];
      sum += Math.log(Math.exp(A[a + label] - max) / s + CEE_DELTA);
    }
    return -sum / n;
  }

  /** The loss of the current network on the batch `indices` (loaded here): `loss` for another thread. */
  batchLoss(images: Uint8Array, labels: Uint8Array, indices: Int32Array): number {
    this.loadBatch(images, indices);
    return this.loss(labels, indices);
  }

  /** Size of the parameters' byte range (W1, b1, W2, b2, W2ᵀ as the module holds them). */
  get paramByteLength(): number {
    return this.paramEnd - this.pW1;
  }

  /** Copy the parameters' byte range into `dst` (paramByteLength bytes). */
  readParamBytes(dst: Uint8Array): void {
    dst.set(this.mem8.subarray(this.pW1, this.paramEnd));
  }

  /** Load a byte range from readParamBytes of a FastNet built with the same dtype, D, H and O. */
  writeParamBytes(src: Uint8Array): void {
    if (src.length !== this.paramEnd - this.pW1) throw new RangeError(`parameter block of ${src.length} bytes, expected ${this.paramEnd - this.pW1}`);
    this.mem8.set(src, this.pW1);
  }

  /**
   * Predicted class (argmax of the logits, first on ties) of images [start, start + count) of
   * `images`, into `out`.
   */
  predictRange(images: Uint8Array, start: number, count: number, out: Int32Array): void {
    const { D, O, Op, A } = this;
    for (let c = 0; c < count; c += this.maxRows) {
      const n = Math.min(this.maxRows, count - c);
      const d = this.packedFor(images, start + c, n);
      if (d) {
        this.k.expand(d.pStarts, d.pEnt, -1, start + c - d.from, n, this.Hp * this.S, this.pStarts, this.pOffs, this.pVals);
      } else {
        const from = (start + c) * D;
        this.mem8.set(images.subarray(from, from + n * D), this.pImg);
        this.csr(n);
      }
      this.forward(n, false);
      for (let r = 0; r < n; r++) {
        let best = 0;
        let bestV = A[r * Op];
        for (let o = 1; o < O; o++) {
          const v = A[r * Op + o];
          if (v > bestV) {
            bestV = v;
            best = o;
          }
        }
        out[c + r] = best;
      }
    }
  }

  /** Raw kernel access for tests: x·W1 (+b1, σ when `act`) for n byte rows. */
  hiddenOf(images: Uint8Array, n: number, act: boolean): FArray {
    this.mem8.set(images.subarray(0, n * this.D), this.pImg);
    this.csr(n);
    this.k.hidden(this.pStarts, this.pOffs, this.pVals, n, this.pW1, this.pB1, this.pZ, this.HV, act ? 1 : 0);
    const out = new (this.dtype === "float32" ? Float32Array : Float64Array)(n * this.H);
    for (let r = 0; r < n; r++) for (let h = 0; h < this.H; h++) out[r * this.H + h] = this.Z[r * this.Hp + h];
    return out;
  }
}
