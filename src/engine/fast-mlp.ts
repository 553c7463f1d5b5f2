/**
 * The fast path of the MultiLayerNet (src/model/mlp.ts), float32. The 784-wide first layer — nearly all of
 * the work — runs on the same WebAssembly SIMD kernels as FastNet (wasm/kernels.wat.js): the batch
 * is turned into CSR form straight from the resident training bytes, x·W1 + b1 and the gradient
 * xᵀ·δ1 only touch the non-zero pixels, and plain SGD updates W1 in the module. Activations,
 * dropout, the later (small) layers, softmax and the other optimizers run as float32 typed-array
 * loops in TypeScript (row-major, innermost loop over contiguous output columns).
 *
 * Layout: layer 1 is Hp = ⌈H1/4⌉×4 wide (the kernels' padding); W1 [D × Hp] and b1 live in the
 * module, W2 is [Hp × H2] with zero padding rows, so the padding lanes stay 0 throughout.
 * Parameters and optimizer slots go in and out in the MultiLayerNet's logical float64 layout.
 *
 * Loss reported by trainStep: the mean cross-entropy (+ ½ λ ΣW²) of the batch in the forward pass
 * that computed the gradient, i.e. before the update (the book's extra loss pass is not repeated).
 */
import { CEE_DELTA } from "../book/functions.js";
import { instantiateKernels, type WasmMemory } from "./wasm.js";
import { PIXEL_SCALE } from "../data/mnist.js";
import type { Activation, MlpParams } from "../reference/multi-layer-net.js";
import { mlpParamNames } from "../reference/multi-layer-net.js";
import type { Rng } from "../book/rng.js";
import { Optimizer, type OptimizerConfig, type OptimizerState } from "../reference/optimizers.js";

interface Kernels {
  memory: WasmMemory;
  csr(img: number, idx: number, n: number, D: number, rowBytes: number, table: number, starts: number, offs: number, vals: number): number;
  hidden(starts: number, offs: number, vals: number, n: number, W: number, b: number, Z: number, HV: number, act: number): void;
  grad_w1(starts: number, offs: number, vals: number, n: number, dZ: number, G: number, HV: number): void;
  sgd(W: number, G: number, nv: number, lr: number): void;
}

export interface FastMlpConfig {
  sizes: readonly number[];
  activation: Activation;
  weightDecay: number;
  dropout: number;
  optimizer: OptimizerConfig;
}

/** Logical [rows × cols] and padded [prows × pcols] shape of each parameter. */
interface Shape {
  rows: number;
  cols: number;
  prows: number;
  pcols: number;
}

export class FastMlp {
  readonly sizes: readonly number[];
  readonly L: number;
  readonly maxRows: number;
  private readonly cfg: FastMlpConfig;
  private readonly k: Kernels;
  private readonly D: number;
  private readonly H1: number;
  private readonly Hp: number;
  /** widths[l]: width of layer l's output as stored (widths[1] = Hp). */
  private readonly widths: number[];
  private readonly shapes: Record<string, Shape> = {};
  private readonly opt: Optimizer;
  private readonly pTable: number;
  private readonly pW1: number;
  private readonly pG1: number;
  private readonly pB1: number;
  private readonly pImg: number;
  private readonly pStarts: number;
  private readonly pOffs: number;
  private readonly pVals: number;
  private readonly pA1: number;
  private readonly pD1: number;
  private mem8 = new Uint8Array(0);
  /** Parameters (W1, b1 are views of the module's memory) and gradients. */
  private P: Record<string, Float32Array> = {};
  private G: Record<string, Float32Array> = {};
  /** Per layer l = 1..L: output after activation (and dropout: z), before (h), δ. */
  private z: Float32Array[] = [];
  private h: Float32Array[] = [];
  private d: Float32Array[] = [];
  private masks: Float32Array[] = [];
  private readonly ebuf: Float64Array;
  private resident?: { images: Uint8Array; at: number; pIdx: number; idx: Int32Array };

  constructor(cfg: FastMlpConfig, maxRows: number) {
    this.cfg = cfg;
    const sizes = (this.sizes = [...cfg.sizes]);
    if (sizes.length < 3) throw new RangeError("FastMlp needs at least one hidden layer");
    this.L = sizes.length - 1;
    this.maxRows = maxRows;
    const D = (this.D = sizes[0]);
    const H1 = (this.H1 = sizes[1]);
    const HV = Math.ceil(H1 / 4);
    const Hp = (this.Hp = HV * 4);
    this.widths = sizes.map((s, l) => (l === 1 ? Hp : s));
    for (let l = 1; l <= this.L; l++) {
      this.shapes[`W${l}`] = { rows: sizes[l - 1], cols: sizes[l], prows: this.widths[l - 1], pcols: this.widths[l] };
      this.shapes[`b${l}`] = { rows: 1, cols: sizes[l], prows: 1, pcols: this.widths[l] };
    }
    let top = 0;
    const alloc = (bytes: number) => {
      const p = top;
      top += Math.ceil(bytes / 16) * 16;
      return p;
    };
    this.pTable = alloc(256 * 4);
    this.pW1 = alloc(D * Hp * 4);
    this.pG1 = alloc(D * Hp * 4);
    this.pB1 = alloc(Hp * 4);
    this.pImg = alloc(maxRows * D + 16);
    this.pStarts = alloc((maxRows + 1) * 4);
    this.pOffs = alloc(maxRows * D * 4);
    this.pVals = alloc(maxRows * D * 4);
    this.pA1 = alloc(maxRows * Hp * 4);
    this.pD1 = alloc(maxRows * Hp * 4);
    const exp = instantiateKernels<Kernels>("float32");
    const have = exp.memory.buffer.byteLength / 65536;
    const pages = Math.ceil(top / 65536);
    if (have < pages) exp.memory.grow(pages - have);
    this.k = exp;
    for (let l = 2; l <= this.L; l++) {
      this.P[`W${l}`] = new Float32Array(this.widths[l - 1] * this.widths[l]);
      this.P[`b${l}`] = new Float32Array(this.widths[l]);
      this.G[`W${l}`] = new Float32Array(this.widths[l - 1] * this.widths[l]);
      this.G[`b${l}`] = new Float32Array(this.widths[l]);
    }
    this.G.b1 = new Float32Array(Hp);
    for (let l = 2; l <= this.L; l++) {
      this.z[l] = new Float32Array(maxRows * this.widths[l]);
      this.d[l] = new Float32Array(maxRows * this.widths[l]);
      if (l < this.L && cfg.dropout > 0) this.h[l] = new Float32Array(maxRows * this.widths[l]);
    }
    if (cfg.dropout > 0) {
      this.h[1] = new Float32Array(maxRows * Hp);
      for (let l = 1; l < this.L; l++) this.masks[l] = new Float32Array(maxRows * this.widths[l]);
    }
    this.rebind();
    new Float32Array(exp.memory.buffer, this.pTable, 256).set(PIXEL_SCALE);
    const paddedSizes: Record<string, number> = {};
    for (const name of mlpParamNames(this.L)) paddedSizes[name] = this.shapes[name].prows * this.shapes[name].pcols;
    this.opt = new Optimizer(cfg.optimizer, paddedSizes, "float32");
    this.ebuf = new Float64Array(sizes[this.L]);
  }

  private rebind(): void {
    const buf = this.k.memory.buffer;
    const { D, Hp, maxRows } = this;
    this.mem8 = new Uint8Array(buf);
    this.P.W1 = new Float32Array(buf, this.pW1, D * Hp);
    this.P.b1 = new Float32Array(buf, this.pB1, Hp);
    this.G.W1 = new Float32Array(buf, this.pG1, D * Hp);
    // layer 1's pre-activation comes from the kernel; activated in place (z1 = h1 without dropout)
    this.z[1] = new Float32Array(buf, this.pA1, maxRows * Hp);
    this.d[1] = new Float32Array(buf, this.pD1, maxRows * Hp);
  }

  /** Copy the training images into the module once; batches of them are then built in place. */
  keepTrainingImages(images: Uint8Array): void {
    const mem = this.k.memory;
    const at = mem.buffer.byteLength;
    const pIdx = at + Math.ceil(images.length / 16) * 16;
    mem.grow(Math.ceil((pIdx + this.maxRows * 4 - at) / 65536));
    this.rebind();
    this.mem8.set(images, at);
    this.resident = { images, at, pIdx, idx: new Int32Array(mem.buffer, pIdx, this.maxRows) };
  }

  private pad(name: string, src: ArrayLike<number>, dst: Float32Array): void {
    const s = this.shapes[name];
    dst.fill(0);
    for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.cols; c++) dst[r * s.pcols + c] = src[r * s.cols + c];
  }
  private unpad(name: string, src: Float32Array, dst: Float64Array): void {
    const s = this.shapes[name];
    for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.cols; c++) dst[r * s.cols + c] = src[r * s.pcols + c];
  }

  setParams(p: MlpParams): void {
    for (const name of mlpParamNames(this.L)) this.pad(name, p[name], this.P[name]);
  }
  getParams(p: MlpParams): void {
    for (const name of mlpParamNames(this.L)) this.unpad(name, this.P[name], p[name]);
  }

  /** Optimizer state in the logical layout (float32 values, exact in float64). */
  getOptimizerState(): OptimizerState {
    const slots: Record<string, Float64Array[]> = {};
    for (const name of mlpParamNames(this.L)) {
      const s = this.shapes[name];
      slots[name] = this.opt.slotsOf(name).map((a) => {
        const out = new Float64Array(s.rows * s.cols);
        this.unpad(name, a as Float32Array, out);
        return out;
      });
    }
    return { step: this.opt.step, slots };
  }
  setOptimizerState(state: OptimizerState): void {
    for (const name of mlpParamNames(this.L)) {
      const mine = this.opt.slotsOf(name);
      const saved = state.slots[name];
      if (!saved || saved.length !== mine.length) throw new RangeError(`optimizer state: the slots of ${name} do not match`);
      mine.forEach((a, k) => this.pad(name, saved[k], a as Float32Array));
    }
    this.opt.step = state.step;
  }

  /** Activation of rows [0, n) of layer l (width w, logical width `logical`): in place, padding lanes zeroed. */
  private act(a: Float32Array, n: number, w: number, logical: number): void {
    const act = this.cfg.activation;
    for (let r = 0; r < n; r++) {
      const o = r * w;
      if (act === "relu") for (let j = 0; j < logical; j++) a[o + j] = a[o + j] > 0 ? a[o + j] : 0;
      else if (act === "sigmoid") for (let j = 0; j < logical; j++) a[o + j] = 1 / (1 + Math.exp(-a[o + j]));
      else for (let j = 0; j < logical; j++) a[o + j] = Math.tanh(a[o + j]);
      for (let j = logical; j < w; j++) a[o + j] = 0;
    }
  }

  /** out[n × m] = x[n × k] · W[k × m] + b. */
  private static dense(x: Float32Array, W: Float32Array, b: Float32Array, n: number, k: number, m: number, out: Float32Array): void {
    for (let r = 0; r < n; r++) {
      const o = r * m;
      for (let j = 0; j < m; j++) out[o + j] = b[j];
      for (let p = 0; p < k; p++) {
        const v = x[r * k + p];
        if (v === 0) continue;
        const wo = p * m;
        for (let j = 0; j < m; j++) out[o + j] += v * W[wo + j];
      }
    }
  }

  /** Forward pass of n rows already in CSR form; dropout masks drawn from rng when given. Logits in z[L]. */
  private forward(n: number, rng?: Rng): void {
    const { k, L, widths, sizes } = this;
    k.hidden(this.pStarts, this.pOffs, this.pVals, n, this.pW1, this.pB1, this.pA1, this.Hp / 4, 0);
    for (let l = 1; l <= L; l++) {
      const w = widths[l];
      if (l > 1) FastMlp.dense(this.z[l - 1], this.P[`W${l}`], this.P[`b${l}`], n, widths[l - 1], w, this.z[l]);
      if (l === L) break;
      const a = this.z[l];
      this.act(a, n, w, sizes[l]);
      if (rng && this.cfg.dropout > 0) {
        // h_l keeps the activation; z_l = h_l ⊙ m_l (mask drawn in the MultiLayerNet's order: row-major over the logical width)
        const h = this.h[l], m = this.masks[l], p = this.cfg.dropout, keep = 1 / (1 - p);
        h.set(a.subarray(0, n * w));
        for (let r = 0; r < n; r++) {
          for (let j = 0; j < sizes[l]; j++) {
            const v = rng.uniform() >= p ? keep : 0;
            m[r * w + j] = v;
            a[r * w + j] *= v;
          }
        }
      }
    }
  }

  /** Build the CSR of rows `indices` of `images` (resident when possible). */
  private loadBatch(images: Uint8Array, indices: Int32Array): void {
    const n = indices.length;
    const res = this.resident;
    if (res && res.images === images) {
      res.idx.set(indices);
      this.k.csr(res.at, res.pIdx, n, this.D, this.Hp * 4, this.pTable, this.pStarts, this.pOffs, this.pVals);
    } else {
      for (let r = 0; r < n; r++) this.mem8.set(images.subarray(indices[r] * this.D, (indices[r] + 1) * this.D), this.pImg + r * this.D);
      this.k.csr(this.pImg, -1, n, this.D, this.Hp * 4, this.pTable, this.pStarts, this.pOffs, this.pVals);
    }
  }

  /** ½ λ Σ W² over the weights. */
  private decayLoss(): number {
    let s = 0;
    for (let l = 1; l <= this.L; l++) for (const v of this.P[`W${l}`]) s += v * v;
    return 0.5 * this.cfg.weightDecay * s;
  }

  /**
   * One iteration on batch `indices`: forward (dropout masks from `rng`), loss, back-propagation,
   * weight decay, the optimizer's update with learning rate lr. Returns the batch loss (pre-update).
   */
  trainStep(images: Uint8Array, labels: Uint8Array, indices: Int32Array, lr: number, rng: Rng): number {
    const n = indices.length;
    const { L, widths, sizes, cfg } = this;
    const O = sizes[L];
    this.loadBatch(images, indices);
    this.forward(n, rng);
    // softmax, loss and δL = (y − t) / n
    const A = this.z[L], dL = this.d[L], e = this.ebuf;
    let ce = 0;
    for (let r = 0; r < n; r++) {
      const a = r * O;
      let max = -Infinity;
      for (let o = 0; o < O; o++) if (A[a + o] > max) max = A[a + o];
      let sum = 0;
      for (let o = 0; o < O; o++) sum += e[o] = Math.exp(A[a + o] - max);
      const label = labels[indices[r]];
      ce -= Math.log(e[label] / sum + CEE_DELTA);
      for (let o = 0; o < O; o++) dL[a + o] = (e[o] / sum - (o === label ? 1 : 0)) / n;
    }
    let loss = ce / n;
    if (cfg.weightDecay > 0) loss += this.decayLoss();
    this.opt.begin(lr);
    for (let l = L; l >= 2; l--) {
      const fan = widths[l - 1], w = widths[l];
      const zin = this.z[l - 1], delta = this.d[l];
      const W = this.P[`W${l}`], gW = this.G[`W${l}`], gb = this.G[`b${l}`];
      // gW [fan × w] = z_{l−1}ᵀ · δ_l ; gb = Σ δ_l
      gW.fill(0);
      gb.fill(0);
      for (let r = 0; r < n; r++) {
        const dr = r * w;
        for (let j = 0; j < w; j++) gb[j] += delta[dr + j];
        for (let p = 0; p < fan; p++) {
          const v = zin[r * fan + p];
          if (v === 0) continue;
          const go = p * w;
          for (let j = 0; j < w; j++) gW[go + j] += v * delta[dr + j];
        }
      }
      // δ_{l−1} [n × fan] = (δ_l · Wlᵀ) ⊙ m ⊙ act'
      const prev = this.d[l - 1];
      const act = cfg.activation;
      const hPrev = cfg.dropout > 0 ? this.h[l - 1] : zin;
      const m = this.masks[l - 1];
      const logical = sizes[l - 1];
      for (let r = 0; r < n; r++) {
        for (let p = 0; p < fan; p++) {
          if (p >= logical) {
            prev[r * fan + p] = 0;
            continue;
          }
          let s = 0;
          const wo = p * w, dr = r * w;
          for (let j = 0; j < w; j++) s += delta[dr + j] * W[wo + j];
          if (m) s *= m[r * fan + p];
          const z = hPrev[r * fan + p];
          prev[r * fan + p] = act === "relu" ? (z > 0 ? s : 0) : act === "sigmoid" ? s * (1 - z) * z : s * (1 - z * z);
        }
      }
      if (cfg.weightDecay > 0) for (let i = 0; i < gW.length; i++) gW[i] += cfg.weightDecay * W[i];
      this.opt.update(`W${l}`, W, gW, lr);
      this.opt.update(`b${l}`, this.P[`b${l}`], gb, lr);
    }
    // layer 1: gW1 = xᵀ · δ1 (sparse, in the module), gb1 = Σ δ1
    const d1 = this.d[1], gb1 = this.G.b1, Hp = this.Hp;
    gb1.fill(0);
    for (let r = 0; r < n; r++) for (let j = 0; j < Hp; j++) gb1[j] += d1[r * Hp + j];
    this.k.grad_w1(this.pStarts, this.pOffs, this.pVals, n, this.pD1, this.pG1, Hp / 4);
    this.opt.update("b1", this.P.b1, gb1, lr);
    if (cfg.optimizer.optimizer === "sgd" && cfg.weightDecay === 0) {
      this.k.sgd(this.pW1, this.pG1, (this.D * Hp) / 4, lr); // also zeroes G1
    } else {
      const W1 = this.P.W1, G1 = this.G.W1;
      if (cfg.weightDecay > 0) for (let i = 0; i < G1.length; i++) G1[i] += cfg.weightDecay * W1[i];
      this.opt.update("W1", W1, G1, lr);
      G1.fill(0);
    }
    return loss;
  }

  /** Predicted classes of images [start, start + count) into out. */
  predictRange(images: Uint8Array, start: number, count: number, out: Int32Array): void {
    const { D, L, sizes } = this;
    const O = sizes[L];
    for (let c = 0; c < count; c += this.maxRows) {
      const n = Math.min(this.maxRows, count - c);
      this.mem8.set(images.subarray((start + c) * D, (start + c + n) * D), this.pImg);
      this.k.csr(this.pImg, -1, n, D, this.Hp * 4, this.pTable, this.pStarts, this.pOffs, this.pVals);
      this.forward(n);
      const A = this.z[L];
      for (let r = 0; r < n; r++) {
        let best = 0;
        for (let o = 1; o < O; o++) if (A[r * O + o] > A[r * O + best]) best = o;
        out[c + r] = best;
      }
    }
  }
}
