/**
 * One WebAssembly memory per network, in the style of llm.c's single allocation: the parameters,
 * their gradients and the optimizer's slots as three (or four) blocks of the same layout, then the
 * activations and scratch buffers, then (grown on demand) the packed training images. Everything is
 * addressed by byte offsets; the typed-array views are made on demand, so a memory that grows
 * never leaves a stale view behind.
 */
import { cutRange } from "./split.js";
import { instantiateKernels, type Dtype, type WasmMemory } from "./wasm.js";

/** The kernels of wasm/kernels.wat.js (pointers are byte offsets, widths in 16-byte vectors). */
export interface Kernels {
  memory: WasmMemory;
  // the sparse input: CSR of byte rows, packed rows, and the CSR of packed rows
  csr(img: number, idx: number, n: number, D: number, rowBytes: number, table: number, starts: number, offs: number, vals: number): number;
  pack(img: number, n: number, D: number, starts: number, ent: number, base: number): number;
  expand(pStarts: number, ent: number, idx: number, first: number, n: number, rowBytes: number, starts: number, offs: number, vals: number): number;
  // affine layers
  hidden(starts: number, offs: number, vals: number, n: number, W: number, b: number, Z: number, HV: number, act: number): void;
  grad_w1_rows(starts: number, offs: number, vals: number, n: number, dZ: number, G: number, HV: number): void;
  by_pixel(starts: number, offs: number, vals: number, n: number, D: number, rowBytes: number, cs: number, crow: number, cval: number): void;
  grad_w1(dZ: number, G: number, HV: number, D: number, rowBytes: number, cs: number, crow: number, cval: number): void;
  logits(X: number, n: number, KV: number, W: number, b: number, Y: number, MV: number): void;
  transpose_w2(W: number, WT: number, K: number, KV: number, M: number, MV: number): void;
  sum_rows(X: number, n: number, V: number, out: number, rowBytes: number): void;
  dropout_mask(U: number, at: number, n: number, units: number, M: number, rowBytes: number, p: number, keep: number): void;
  uniforms(out: number, n: number, st: number): void;
  gemm(S0: number, qStride: number, iStride: number, nq: number, count: number, M0: number, mStride: number, yV: number, B: number, Y: number, yStride: number): void;
  // images kept channels last (src/engine/conv.ts)
  im2col(X: number, inRow: number, m: number, H: number, W: number, Cs: number, FH: number, FW: number, stride: number, pad: number, OH: number, OW: number, col: number, rowBytes: number): void;
  col2im(dX: number, inRow: number, m: number, H: number, W: number, Cs: number, FH: number, FW: number, stride: number, pad: number, OH: number, OW: number, col: number, rowBytes: number): void;
  maxpool(X: number, inRow: number, m: number, H: number, W: number, Cs: number, PH: number, PW: number, stride: number, pad: number, OH: number, OW: number, Y: number, outRow: number, arg: number): void;
  maxpool_bwd(dY: number, outRow: number, m: number, used: number, dX: number, inRow: number, arg: number): void;
  // element-wise
  sigmoid(Z: number, nv: number): void;
  sigmoid_bwd(D: number, Z: number, nv: number): void;
  relu(Z: number, nv: number): void;
  relu_bwd(D: number, Z: number, nv: number): void;
  tanh_bwd(D: number, Z: number, nv: number): void;
  mul(D: number, M: number, nv: number): void;
  softmax_dy(A: number, n: number, O: number, OV: number, lab: number, dY: number): void;
  // optimizers over whole blocks (each zeroes G)
  opt_sgd(W: number, G: number, nv: number, lr: number): void;
  opt_momentum(W: number, G: number, M: number, nv: number, lr: number, mu: number): void;
  opt_nesterov(W: number, G: number, M: number, nv: number, lr: number, mu: number, mumu: number, c: number): void;
  opt_adagrad(W: number, G: number, M: number, nv: number, lr: number): void;
  opt_rmsprop(W: number, G: number, M: number, nv: number, lr: number, rho: number, omr: number): void;
  opt_adam(W: number, G: number, M: number, Q: number, nv: number, lrt: number, b1: number, b2: number): void;
  opt_adadelta(W: number, G: number, M: number, Q: number, nv: number, lr: number, rho: number, omr: number, eps: number): void;
  add_decay(G: number, W: number, nv: number, lambda: number): void;
}

export type FArray = Float32Array | Float64Array;

/** One kernel call: its name and arguments. */
export type KernelOp = [name: keyof Kernels, ...args: number[]];

/** The threads a training step's work is cut between (split.ts). */
export interface StepThreads {
  /** This thread and the workers. */
  readonly parts: number;
  /** Work (multiply-adds, or about that) below which a cut costs more than it saves. */
  readonly minWork: number;
  /** Run `ops(p, parts)` for every part p at once: part 0 on this thread. */
  run(ops: (part: number, parts: number) => KernelOp[]): void;
  gemm: Kernels["gemm"];
}

export class Arena {
  readonly dtype: Dtype;
  /** Bytes per value. */
  readonly S: number;
  /** Values per 16-byte vector. */
  readonly lanes: number;
  readonly k: Kernels;
  /** While set (during a training step), the work is cut between threads (split.ts). */
  split?: StepThreads;
  private top = 0;
  private committed = false;

  constructor(dtype: Dtype) {
    this.dtype = dtype;
    this.S = dtype === "float32" ? 4 : 8;
    this.lanes = 16 / this.S;
    this.k = instantiateKernels<Kernels>(dtype);
  }

  /** The kernel's gemm, on every thread while `split` is set. */
  gemm(...g: Parameters<Kernels["gemm"]>): void {
    if (this.split) this.split.gemm(...g);
    else this.k.gemm(...g);
  }

  /**
   * Work cut into parts that write disjoint memory: `ops(p, parts)` for every part, at once while
   * `split` is set and the `work` (multiply-adds, or about that) pays for it, else as one part here.
   */
  run(ops: (part: number, parts: number) => KernelOp[], work: number): void {
    if (this.split && work >= this.split.minWork) this.split.run(ops);
    else this.runHere(ops(0, 1));
  }

  /**
   * An element-wise kernel `name`(pointers…, nv) over nv vectors, cut by whole cache lines between
   * the threads (each value costs about what a few multiply-adds do: it is a load and a store).
   */
  elementwise(name: keyof Kernels, ptrs: readonly number[], nv: number): void {
    this.run((p, parts) => {
      const [v0, v1] = cutRange(nv, parts, p, 4);
      return v1 === v0 ? [] : [[name, ...ptrs.map((q) => q + 16 * v0), v1 - v0]];
    }, 4 * nv * this.lanes);
  }

  runHere(ops: KernelOp[]): void {
    const k = this.k as unknown as Record<string, (...a: number[]) => void>;
    for (const [name, ...args] of ops) k[name](...args);
  }

  /** n values rounded up to whole vectors. */
  padded(n: number): number {
    return Math.ceil(n / this.lanes) * this.lanes;
  }

  /** Reserve `bytes` (16-byte aligned) before commit(); returns the offset. */
  alloc(bytes: number): number {
    if (this.committed) throw new Error("arena: alloc after commit");
    const p = this.top;
    this.top += Math.ceil(bytes / 16) * 16;
    return p;
  }

  /** Reserve n values. */
  values(n: number): number {
    return this.alloc(n * this.S);
  }

  /** Grow the memory to hold everything reserved. */
  commit(): void {
    this.ensure(this.top);
    this.committed = true;
  }

  /** Grow the memory (by whole pages) to at least `end` bytes: room for data added later. */
  ensure(end: number): void {
    const mem = this.k.memory;
    if (end > mem.buffer.byteLength) mem.grow(Math.ceil((end - mem.buffer.byteLength) / 65536));
  }

  get end(): number {
    return this.k.memory.buffer.byteLength;
  }

  /** A view of n values at p. */
  f(p: number, n: number): FArray {
    return this.dtype === "float32" ? new Float32Array(this.k.memory.buffer, p, n) : new Float64Array(this.k.memory.buffer, p, n);
  }

  /** A float64 view of n numbers at p (whatever the dtype). */
  f64(p: number, n: number): Float64Array {
    return new Float64Array(this.k.memory.buffer, p, n);
  }

  i32(p: number, n: number): Int32Array {
    return new Int32Array(this.k.memory.buffer, p, n);
  }

  u8(p = 0, n?: number): Uint8Array {
    return new Uint8Array(this.k.memory.buffer, p, n);
  }
}
