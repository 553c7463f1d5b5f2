/**
 * A network on the engine: a list of layers (src/engine/layers.ts) ending in softmax-with-loss, all
 * of its memory in one arena (src/engine/arena.ts), trained by the optimizers as kernels over whole
 * blocks. Every network mnist-ts trains runs here: the book's 784-50-10 net is
 * [affine 50, sigmoid, affine 10] + softmax-with-loss.
 *
 * Arena layout (byte offsets, 16-byte aligned):
 *   params   W1 [D × H1p], b1 [H1p], W2 [H1p × H2p], b2 [H2p], …     (p: padded widths)
 *   grads    the same layout
 *   slots    one or two blocks of the same layout (momentum's v, Adam's m and v, Adadelta's averages, …)
 *   input    the pixel table, one batch of bytes, its CSR (starts, offsets, values), labels
 *   layers   activations and their gradients [maxRows × width p], Wᵀ scratch, dropout masks
 *   images   packed training/evaluation images (keepImages), grown on demand
 * Parameters go in and out in the reference nets' logical float64 layout (W1 [D × H1] row-major, …),
 * so model.json and checkpoints do not depend on the engine.
 */
import { PIXEL_SCALE } from "../data/mnist.js";
import type { Rng } from "../book/rng.js";
import { ADADELTA_EPS, slotCount, type OptimizerConfig, type OptimizerState } from "../reference/optimizers.js";
import { Arena, type KernelOp, type StepThreads } from "./arena.js";
import { cutRange } from "./split.js";
import { Affine, BatchNormalization, Dropout, Flatten, Relu, Sigmoid, SoftmaxWithLoss, Tanh, type ImageLayout, type Layer, type ParamTensor, type Pass, type SparseInput } from "./layers.js";
import { Convolution, Pooling } from "./conv.js";
import type { Dtype } from "./wasm.js";
import { inferShapes, type LayerSpec } from "../reference/layer-spec.js";
import { MultiLayerNet } from "../reference/multi-layer-net.js";
import { TwoLayerNet } from "../reference/two-layer-net.js";
import { SequentialNet } from "../reference/sequential-net.js";

export interface NetworkSpec {
  dtype: Dtype;
  /** Pixels per image (784). */
  inputSize: number;
  /** One sample's shape, [C, H, W] (default: a square single-channel image of inputSize pixels). */
  inputShape?: readonly number[];
  /** The layers (the grammar's typed list); the last one gives the class scores. */
  layers: LayerSpec[];
  /** λ of the L2 penalty ½ λ Σ W² (weights only). */
  weightDecay: number;
  optimizer: OptimizerConfig;
  /** Rows of the largest batch or prediction chunk. */
  maxRows: number;
}

/** Rows per prediction chunk. */
export const PREDICT_CHUNK = 1000;

/** A network's activations and their gradients for one batch row stay under this (conv nets predict in smaller chunks). */
const CHUNK_BYTES = 256 * 1024 * 1024;

/**
 * Rows per prediction chunk for `spec`: PREDICT_CHUNK, or fewer where a row's activations are
 * large (a conv net's images), so a network's memory stays bounded. Rows are independent, so the
 * chunk changes no prediction.
 */
export function predictRows(spec: Pick<NetworkSpec, "inputSize" | "inputShape" | "layers" | "dtype">): number {
  const shapes = inferShapes(spec.layers, inputShapeOf(spec), -1);
  const S = spec.dtype === "float32" ? 4 : 8;
  let values = spec.inputSize;
  for (const sh of shapes) values += 2 * sh.reduce((a, b) => a + b, 1);
  return Math.max(1, Math.min(PREDICT_CHUNK, Math.floor(CHUNK_BYTES / (values * S))));
}

/** Optimizer settings for a network that only predicts (no slots). */
export const NO_OPTIMIZER: OptimizerConfig = { optimizer: "sgd", momentum: 0.9, rmsDecay: 0.99, beta1: 0.9, beta2: 0.999, adadeltaRho: 0.9 };

/** The layers of a fully connected net: [affine h, activation(, dropout)] per hidden size, then affine classes. */
export function denseLayers(hidden: readonly number[], classes: number, activation: "sigmoid" | "relu" | "tanh", dropout = 0): LayerSpec[] {
  const out: LayerSpec[] = [];
  for (const h of hidden) {
    out.push({ type: "affine", units: h }, { type: activation });
    if (dropout > 0) out.push({ type: "dropout", ratio: dropout });
  }
  out.push({ type: "affine", units: classes });
  return out;
}

/** The engine's spec of a reference net (TwoLayerNet, MultiLayerNet): the same layers and parameters. */
export function specOf(
  net: TwoLayerNet | MultiLayerNet | SequentialNet,
  dtype: Dtype,
  maxRows: number,
  optimizer: OptimizerConfig = NO_OPTIMIZER,
): NetworkSpec {
  if (net instanceof SequentialNet) {
    if (!net.specs) throw new RangeError("this SequentialNet has no layer list (build it with buildReferenceNet)");
    const inputSize = net.inputShape.reduce((a, b) => a * b, 1);
    return { dtype, inputSize, inputShape: net.inputShape, layers: [...net.specs], weightDecay: net.weightDecay, optimizer, maxRows };
  }
  if (net instanceof TwoLayerNet) {
    return { dtype, inputSize: net.inputSize, layers: denseLayers([net.hiddenSize], net.outputSize, "sigmoid"), weightDecay: 0, optimizer, maxRows };
  }
  const hidden = net.sizes.slice(1, -1);
  return { dtype, inputSize: net.inputSize, layers: denseLayers(hidden, net.outputSize, net.activation, net.dropout), weightDecay: net.weightDecay, optimizer, maxRows };
}

/** The shape of one input sample: [C, H, W] for MNIST images ([1, 28, 28]); its size is the spec's inputSize. */
function inputShapeOf(spec: Pick<NetworkSpec, "inputSize" | "inputShape">): readonly number[] {
  if (spec.inputShape) return spec.inputShape;
  const side = Math.round(Math.sqrt(spec.inputSize));
  return side * side === spec.inputSize ? [1, side, side] : [spec.inputSize];
}

/** Checks a layer list against the input: one-line messages naming the layer. */
export function checkLayers(inputSize: number, layers: LayerSpec[], inputShape?: readonly number[]): void {
  if (!(inputSize >= 1)) throw new RangeError(`input size ${inputSize}`);
  if (layers.length === 0) throw new RangeError("the layer list is empty");
  inferShapes(layers, inputShapeOf({ inputSize, inputShape }), -1);
}

export class Network {
  readonly spec: NetworkSpec;
  readonly a: Arena;
  readonly layers: Layer[];
  readonly head: SoftmaxWithLoss;
  /** Learned parameter tensors in the reference order: W1, b1, W2, b2, … (gamma1, beta1 where batch norms are) */
  readonly tensors: ParamTensor[];
  /** Saved, never learned: batch norm's runningMean1, runningVar1, … */
  readonly stateTensors: ParamTensor[];
  /** Whether the first layer reads the batch's non-zero pixels (an affine layer) or the image (any other). */
  private readonly sparse: boolean;
  /** The image batch [maxRows × D] (normalized pixels) when the first layer is not an affine one. */
  private pDense = 0;
  /** Optimizer updates so far (Adam's k). */
  updates = 0;
  private readonly pParams: number;
  private readonly pGrads: number;
  private readonly pSlots: number[];
  private readonly paramValues: number;
  private readonly input: SparseInput;
  private readonly pTable: number;
  private readonly pImg: number;
  private readonly pIdx: number;
  /** Bytes of a row of W1 (the CSR's offsets are pixel × this). */
  private readonly rowBytes1: number;
  private readonly packed: { images: Uint8Array; from: number; count: number; pStarts: number; pEnt: number }[] = [];

  constructor(spec: NetworkSpec) {
    checkLayers(spec.inputSize, spec.layers, spec.inputShape);
    this.spec = spec;
    const a = (this.a = new Arena(spec.dtype));
    const D = spec.inputSize, maxRows = spec.maxRows;
    const input: SparseInput = (this.input = { starts: 0, offs: 0, vals: 0, D, cs: 0, crow: 0, cval: 0 });
    // a first affine layer reads the batch's non-zero pixels; any other first layer the image itself
    this.sparse = spec.layers[0].type === "affine";
    const shape = inputShapeOf(spec);
    let layout: ImageLayout | undefined = shape.length === 3 ? { C: shape[0], H: shape[1], W: shape[2], Cs: shape[0] } : undefined;
    // the layers, each on the previous one's output
    const layers: Layer[] = [];
    const learned: ParamTensor[] = [];
    const state: ParamTensor[] = [];
    let units = D, V = Math.ceil(D / a.lanes), weighted = 0, norms = 0;
    for (const s of spec.layers) {
      let layer: Layer;
      if (s.type === "affine") {
        const first = layers.length === 0; // the pixels' affine layer reads the non-zero pixels, not an image
        const af = new Affine(a, units, V, s.units, ++weighted, first ? input : undefined, first ? undefined : layout);
        learned.push(...af.declareParams());
        layer = af;
      } else if (s.type === "conv") {
        const conv = new Convolution(a, layout!, s, ++weighted);
        learned.push(...conv.declareParams());
        layer = conv;
      } else if (s.type === "maxpool") layer = new Pooling(a, layout!, s.kernel, s.stride ?? s.kernel[0], s.pad);
      else if (s.type === "batchnorm") {
        const bn = new BatchNormalization(a, units, V, ++norms, layout);
        learned.push(...bn.declareParams());
        state.push(...bn.declareState());
        layer = bn;
      } else if (s.type === "dropout") layer = new Dropout(a, units, V, s.ratio, layout);
      else if (s.type === "flatten") layer = new Flatten(a, units, V, units, layout);
      else layer = new (s.type === "sigmoid" ? Sigmoid : s.type === "relu" ? Relu : Tanh)(a, units, V, units, layout);
      layers.push(layer);
      units = layer.units;
      V = layer.V;
      layout = layer.layout;
    }
    this.layers = layers;
    // float32: σ right after the pixels' affine layer runs inside its kernel (float64 keeps Math.exp)
    const [first, second] = layers;
    if (spec.dtype === "float32" && first instanceof Affine && first.sparse && second instanceof Sigmoid) first.fusedSigmoid = second.fused = true;
    // parameters (the learned ones, then batch norm's running statistics: no gradient, so no
    // optimizer ever moves them), gradients, slots: blocks of one layout
    this.tensors = learned;
    this.stateTensors = state;
    let off = 0;
    for (const t of [...learned, ...state]) {
      t.p = off;
      off += t.stored * a.S;
    }
    const paramBytes = off;
    this.paramValues = paramBytes / a.S;
    this.pParams = a.alloc(paramBytes);
    this.pGrads = a.alloc(paramBytes);
    this.pSlots = Array.from({ length: slotCount(spec.optimizer.optimizer) }, () => a.alloc(paramBytes));
    for (const t of [...learned, ...state]) {
      t.g = this.pGrads + t.p;
      t.p += this.pParams;
    }
    // the input: pixel table, a batch of bytes, its CSR (+ 3 entries: expand writes four at a time)
    this.pTable = a.values(256);
    this.pImg = a.alloc(maxRows * D + 16);
    input.starts = a.alloc((maxRows + 1) * 4);
    this.pIdx = a.alloc(maxRows * 4);
    const pLab = a.alloc(maxRows * 4);
    input.offs = a.alloc((maxRows * D + 3) * 4);
    input.vals = a.values(maxRows * D + 3);
    if (this.sparse) {
      input.cs = a.alloc((D + 1) * 4);
      input.crow = a.alloc(maxRows * D * 4);
      input.cval = a.values(maxRows * D);
      this.rowBytes1 = layers[0].V * 16;
    } else {
      this.rowBytes1 = 0;
      this.pDense = a.alloc(maxRows * Math.ceil(D / a.lanes) * 16);
    }
    // activations: a layer's input is the previous output; an activation works in place
    let prev: Layer | undefined;
    for (const l of layers) {
      if (prev) {
        l.x = prev.y;
        l.dx = prev.dy;
      } else if (!this.sparse) {
        // the image batch; the first layer never needs its gradient
        l.x = this.pDense;
        l.dx = a.alloc(maxRows * l.V * 16);
      }
      if (l.inPlace) {
        l.y = l.x;
        l.dy = l.dx;
      } else {
        l.y = a.alloc(maxRows * l.V * 16);
        l.dy = a.alloc(maxRows * l.V * 16);
      }
      l.reserve(maxRows);
      prev = l;
    }
    const last = layers[layers.length - 1];
    this.head = new SoftmaxWithLoss(a, last.units, last.V, last.y, last.dy, pLab);
    a.commit();
    a.f(this.pTable, 256).set(PIXEL_SCALE);
    for (const l of layers) l.committed();
  }


  get outputSize(): number {
    return this.head.O;
  }

  /** The parameter block's size in bytes (see readParamBytes). */
  get paramByteLength(): number {
    return this.paramValues * this.a.S;
  }

  /**
   * Load parameters from the reference layout (float64; rounded for float32): every learned
   * tensor must be there; batch norm's running statistics are loaded when present.
   */
  setParams(p: Record<string, ArrayLike<number>>): void {
    for (const t of [...this.tensors, ...this.stateTensors]) {
      const src = p[t.name];
      if (!src && this.stateTensors.includes(t)) continue;
      if (!src || src.length !== t.rows * t.cols) throw new RangeError(`parameters: ${t.name} has ${src?.length ?? 0} values, expected ${t.rows * t.cols}`);
      this.unpack(src, t, this.a.f(t.p, t.stored));
    }
  }

  /** Write the parameters (and running statistics) into the reference layout: every tensor `p` has a name for. */
  getParams(p: Record<string, Float64Array>): void {
    for (const t of [...this.tensors, ...this.stateTensors]) if (p[t.name]) this.pack(this.a.f(t.p, t.stored), t, p[t.name]);
  }

  /** New float64 arrays of the parameters and running statistics (reference layout). */
  params(): Record<string, Float64Array> {
    const out: Record<string, Float64Array> = {};
    for (const t of [...this.tensors, ...this.stateTensors]) out[t.name] = new Float64Array(t.rows * t.cols);
    this.getParams(out);
    return out;
  }

  private unpack(src: ArrayLike<number>, t: ParamTensor, dst: Float32Array | Float64Array): void {
    dst.fill(0);
    if (t.index) for (let i = 0; i < t.index.length; i++) dst[t.index[i]] = src[i];
    else for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.cols; c++) dst[r * t.pcols + c] = src[r * t.cols + c];
  }

  private pack(src: Float32Array | Float64Array, t: ParamTensor, dst: Float64Array): void {
    if (t.index) for (let i = 0; i < t.index.length; i++) dst[i] = src[t.index[i]];
    else for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.cols; c++) dst[r * t.cols + c] = src[r * t.pcols + c];
  }

  /** The optimizer's step count and slots, in the reference layout (what a checkpoint stores). */
  optimizerState(): OptimizerState {
    const slots: Record<string, Float64Array[]> = {};
    for (const t of this.tensors) {
      slots[t.name] = this.pSlots.map((block) => {
        const out = new Float64Array(t.rows * t.cols);
        this.pack(this.a.f(block + (t.p - this.pParams), t.stored), t, out);
        return out;
      });
    }
    return { step: this.updates, slots };
  }

  setOptimizerState(state: OptimizerState): void {
    for (const t of this.tensors) {
      const saved = state.slots[t.name];
      if (!saved || saved.length !== this.pSlots.length || saved.some((s) => s.length !== t.rows * t.cols)) {
        throw new RangeError(`optimizer state: the slots of ${t.name} do not match this ${this.spec.optimizer.optimizer} optimizer`);
      }
      this.pSlots.forEach((block, k) => this.unpack(saved[k], t, this.a.f(block + (t.p - this.pParams), t.stored)));
    }
    this.updates = state.step;
  }

  /** Copy the parameter block (this layout) into `dst`, e.g. for a worker's copy of the network. */
  readParamBytes(dst: Uint8Array): void {
    dst.set(this.a.u8(this.pParams, this.paramByteLength));
  }

  /** Load a block from readParamBytes of a network of the same spec. */
  writeParamBytes(src: Uint8Array): void {
    if (src.length !== this.paramByteLength) throw new RangeError(`parameter block of ${src.length} bytes, expected ${this.paramByteLength}`);
    this.a.u8().set(src, this.pParams);
  }

  // ---- the input ----

  /** The packed rows holding image rows [start, start + count) of `images`, if any. */
  private packedFor(images: Uint8Array, start: number, count: number) {
    return this.packed.find((d) => d.images === images && start >= d.from && start + count <= d.from + d.count);
  }

  /** Whether rows [from, from + count) of `images` are kept (keepImages). */
  keeps(images: Uint8Array, from = 0, count = images.length / this.spec.inputSize): boolean {
    return this.packedFor(images, from, count) !== undefined;
  }

  /**
   * Keep rows [from, from + count) of `images` packed in the arena: one 32-bit entry per non-zero
   * pixel (≈ 150 of 784 in MNIST), made once. Batches and predictions on these rows then start from
   * the packed form instead of scanning 784 bytes a row: the same CSR, so the same values.
   */
  keepImages(images: Uint8Array, from = 0, count = images.length / this.spec.inputSize): void {
    if (!this.sparse || this.keeps(images, from, count)) return;
    const { a } = this;
    const D = this.spec.inputSize, maxRows = this.spec.maxRows;
    const pStarts = a.end;
    const pEnt = pStarts + Math.ceil(((count + 1) * 4) / 16) * 16;
    let entries = 0;
    for (let c = 0; c < count; c += maxRows) {
      const n = Math.min(maxRows, count - c);
      a.ensure(pEnt + (entries + n * D + 3) * 4); // room for the worst case: every pixel non-zero
      const src = (from + c) * D;
      a.u8().set(images.subarray(src, src + n * D), this.pImg);
      entries += a.k.pack(this.pImg, n, D, pStarts + c * 4, pEnt + entries * 4, entries);
    }
    this.packed.push({ images, from, count, pStarts, pEnt });
  }

  /** The batch `indices` of `images` in CSR form (from the packed rows when they are kept). */
  private loadBatch(images: Uint8Array, indices: ArrayLike<number>): void {
    const n = indices.length;
    const { a, input } = this;
    const D = this.spec.inputSize;
    if (!this.sparse) {
      for (let r = 0; r < n; r++) this.loadImage(images, indices[r], r);
      return;
    }
    let lo = Infinity, hi = -Infinity;
    for (let r = 0; r < n; r++) {
      if (indices[r] < lo) lo = indices[r];
      if (indices[r] > hi) hi = indices[r];
    }
    const d = n > 0 ? this.packedFor(images, lo, hi - lo + 1) : undefined;
    if (d) {
      const idx = a.i32(this.pIdx, n);
      for (let r = 0; r < n; r++) idx[r] = indices[r] - d.from;
      a.k.expand(d.pStarts, d.pEnt, this.pIdx, 0, n, this.rowBytes1, input.starts, input.offs, input.vals);
      return;
    }
    const mem = a.u8();
    for (let r = 0; r < n; r++) mem.set(images.subarray(indices[r] * D, (indices[r] + 1) * D), this.pImg + r * D);
    a.k.csr(this.pImg, -1, n, D, this.rowBytes1, this.pTable, input.starts, input.offs, input.vals);
  }

  /** Image `index` of `images`, normalized, into row r of the image batch. */
  private loadImage(images: Uint8Array, index: number, r: number): void {
    const D = this.spec.inputSize, row = Math.ceil(D / this.a.lanes) * this.a.lanes;
    const x = this.a.f(this.pDense + r * row * this.a.S, D);
    for (let p = 0, src = index * D; p < D; p++) x[p] = PIXEL_SCALE[images[src + p]];
  }

  /** Rows [start, start + n) of `images` in CSR form. */
  private loadRange(images: Uint8Array, start: number, n: number): void {
    const { a, input } = this;
    const D = this.spec.inputSize;
    if (!this.sparse) {
      for (let r = 0; r < n; r++) this.loadImage(images, start + r, r);
      return;
    }
    const d = this.packedFor(images, start, n);
    if (d) a.k.expand(d.pStarts, d.pEnt, -1, start - d.from, n, this.rowBytes1, input.starts, input.offs, input.vals);
    else {
      a.u8().set(images.subarray(start * D, (start + n) * D), this.pImg);
      a.k.csr(this.pImg, -1, n, D, this.rowBytes1, this.pTable, input.starts, input.offs, input.vals);
    }
  }

  // ---- forward, backward, update ----

  private forward(pass: Pass): void {
    for (const l of this.layers) l.forward(pass);
  }

  /** ½ λ Σ W² (0 without weight decay), summed in the reference's order. */
  decayLoss(): number {
    const lambda = this.spec.weightDecay;
    if (lambda === 0) return 0;
    let s = 0;
    for (const t of this.tensors) {
      if (!t.decay) continue;
      const w = this.a.f(t.p, t.stored);
      if (t.index) for (const i of t.index) s += w[i] * w[i];
      else for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.cols; c++) s += w[r * t.pcols + c] * w[r * t.pcols + c];
    }
    return 0.5 * lambda * s;
  }

  /**
   * One training step on the batch `indices` of `images`/`labels`: forward (dropout from `rng`),
   * back-propagation, weight decay, the optimizer's update with learning rate lr. Returns the loss
   * of that forward pass (the network before the update, dropout on) when `lossBefore`, else NaN.
   * The batch stays loaded for `loss`.
   */
  step(images: Uint8Array, labels: ArrayLike<number>, indices: ArrayLike<number>, lr: number, rng?: Rng, lossBefore = false): number {
    return this.onEveryThread(() => {
      const loss = this.backprop(images, labels, indices, rng, lossBefore);
      this.update(lr);
      return loss;
    });
  }

  /**
   * Where the training step's products may be cut between the run's threads (split.ts). Set
   * only around a step and the book's loss pass: an evaluation keeps the workers for its own rows.
   */
  stepSplit?: StepThreads;

  private onEveryThread<T>(f: () => T): T {
    this.a.split = this.stepSplit;
    try {
      return f();
    } finally {
      this.a.split = undefined;
    }
  }

  /** Forward (a training pass) and back-propagation into the gradient block; the loss when `withLoss`. */
  private backprop(images: Uint8Array, labels: ArrayLike<number>, indices: ArrayLike<number>, rng: Rng | undefined, withLoss: boolean): number {
    const n = indices.length;
    const pass: Pass = { n, train: true, rng };
    this.loadBatch(images, indices);
    this.forward(pass);
    const loss = withLoss ? this.head.forward(n, labels, indices) + this.decayLoss() : Number.NaN;
    this.head.backward(n, labels, indices);
    for (let i = this.layers.length - 1; i >= 0; i--) this.layers[i].backward(pass, i > 0);
    return loss;
  }

  /**
   * The gradient of the training loss (without weight decay) on the batch, in the reference
   * layout, with no update: for gradient checks and tests. A training pass: batch norm's running
   * statistics move and dropout draws from `rng`, as in step.
   */
  gradient(images: Uint8Array, labels: ArrayLike<number>, indices: ArrayLike<number>, rng?: Rng): Record<string, Float64Array> {
    this.backprop(images, labels, indices, rng, false);
    const out: Record<string, Float64Array> = {};
    for (const t of this.tensors) {
      out[t.name] = new Float64Array(t.rows * t.cols);
      this.pack(this.a.f(t.g, t.stored), t, out[t.name]);
      this.a.f(t.g, t.stored).fill(0);
    }
    return out;
  }

  /** The book's loss of the current network on the batch last loaded: a forward pass, dropout off. */
  loss(labels: ArrayLike<number>, indices: ArrayLike<number>): number {
    const n = indices.length;
    return this.onEveryThread(() => {
      this.forward({ n, train: false });
      return this.head.forward(n, labels, indices) + this.decayLoss();
    });
  }

  /** One book iteration: step, then the loss of the updated network on the same batch. */
  trainStep(images: Uint8Array, labels: ArrayLike<number>, indices: ArrayLike<number>, lr: number, rng?: Rng): number {
    this.step(images, labels, indices, lr, rng);
    return this.loss(labels, indices);
  }

  /** The loss of the current network on the batch `indices` (loaded here). */
  batchLoss(images: Uint8Array, labels: ArrayLike<number>, indices: ArrayLike<number>): number {
    this.loadBatch(images, indices);
    return this.loss(labels, indices);
  }

  /** Weight decay's gradient, then the optimizer over the whole parameter block (the book's formulas, PyTorch's Adadelta). */
  private update(lr: number): void {
    const { k, lanes } = this.a;
    const lambda = this.spec.weightDecay;
    if (lambda !== 0) for (const t of this.tensors) if (t.decay) k.add_decay(t.g, t.p, t.stored / lanes, lambda);
    const c = this.spec.optimizer;
    const P = this.pParams, G = this.pGrads, [M, Q] = this.pSlots, nv = this.paramValues / lanes;
    this.updates++;
    // an update reads and writes each value on its own: the block is cut into ranges between the threads
    const by = (name: KernelOp[0], slots: number, ...scalars: number[]) =>
      this.a.run((p, parts) => {
        const [v0, v1] = cutRange(nv, parts, p);
        const at = (q: number) => q + 16 * v0;
        return v1 === v0 ? [] : [[name, at(P), at(G), ...[M, Q].slice(0, slots).map(at), v1 - v0, ...scalars]];
      }, 8 * this.paramValues);
    switch (c.optimizer) {
      case "sgd":
        return by("opt_sgd", 0, lr);
      case "momentum":
        return by("opt_momentum", 1, lr, c.momentum);
      case "nesterov":
        return by("opt_nesterov", 1, lr, c.momentum, c.momentum * c.momentum, (1 + c.momentum) * lr);
      case "adagrad":
        return by("opt_adagrad", 1, lr);
      case "rmsprop":
        return by("opt_rmsprop", 1, lr, c.rmsDecay, 1 - c.rmsDecay);
      case "adam": {
        const lrT = (lr * Math.sqrt(1 - c.beta2 ** this.updates)) / (1 - c.beta1 ** this.updates);
        return by("opt_adam", 2, lrT, 1 - c.beta1, 1 - c.beta2);
      }
      case "adadelta":
        return by("opt_adadelta", 2, lr, c.adadeltaRho, 1 - c.adadeltaRho, ADADELTA_EPS);
    }
  }

  // ---- inference ----

  /** Class scores (logits, before softmax) of images [start, start + n ≤ maxRows): a view, [n × Op]. */
  private scores(images: Uint8Array, start: number, n: number): { A: Float32Array | Float64Array; w: number } {
    this.loadRange(images, start, n);
    this.forward({ n, train: false });
    const w = this.head.OV * this.a.lanes;
    return { A: this.a.f(this.head.x, n * w), w };
  }

  /** Predicted class (argmax of the scores, first on ties) of images [start, start + count) into out. */
  predictRange(images: Uint8Array, start: number, count: number, out: Int32Array): void {
    const O = this.head.O;
    for (let c = 0; c < count; c += this.spec.maxRows) {
      const n = Math.min(this.spec.maxRows, count - c);
      const { A, w } = this.scores(images, start + c, n);
      for (let r = 0; r < n; r++) {
        let best = 0;
        let bestV = A[r * w];
        for (let o = 1; o < O; o++) {
          const v = A[r * w + o];
          if (v > bestV) {
            bestV = v;
            best = o;
          }
        }
        out[c + r] = best;
      }
    }
  }

  /** Logits [count × O] of images [start, start + count) (float64 copies). */
  logits(images: Uint8Array, start = 0, count = images.length / this.spec.inputSize): Float64Array {
    const O = this.head.O;
    const out = new Float64Array(count * O);
    for (let c = 0; c < count; c += this.spec.maxRows) {
      const n = Math.min(this.spec.maxRows, count - c);
      const { A, w } = this.scores(images, start + c, n);
      for (let r = 0; r < n; r++) for (let o = 0; o < O; o++) out[(c + r) * O + o] = A[r * w + o];
    }
    return out;
  }
}
