/**
 * The fast numerical gradient on worker threads. The main thread does the forward pass and the
 * per-batch quantities (numerical-gradient.ts) into one SharedArrayBuffer; the W1 rows — nearly all
 * the work — are split over the workers by their number of non-zero pixels, while the main thread
 * does b1, W2 and b2. Each parameter is computed the same way in any thread, so the gradient is
 * identical for every thread count. Create one pool per training run and close() it at the end;
 * idle workers are unref'd, so a pool that is never closed (after an error) does not keep the
 * process alive.
 */
import { defaultThreads, workerScript } from "./threads.js";
import { Worker } from "node:worker_threads";
import type { FloatArray, Labels } from "../book/functions.js";
import { fastNumericalGradient, gradB1, gradB2, gradW2, prepareBase, type Base, type NetLike } from "../reference/numerical-gradient.js";
import type { Grads } from "../reference/two-layer-net.js";

/** Where each array of a Base sits in the shared buffer: [offset, length] in float64 elements. */
export type Layout = Record<string, [number, number]>;

export interface Job {
  id: number;
  buffer: SharedArrayBuffer;
  layout: Layout;
  dims: Base["dims"];
  rows: [number, number];
  /** Offset (float64 elements) of the W1 gradient in the buffer. */
  out: number;
}

export type JobReply = { id: number; error?: string };

/** A Base from its layout in a shared buffer (used by the workers). */
export function baseFromLayout(buffer: SharedArrayBuffer, layout: Layout, dims: Base["dims"]): Base {
  const arrays: Record<string, Float64Array> = {};
  for (const [name, [offset, length]] of Object.entries(layout)) arrays[name] = new Float64Array(buffer, offset * 8, length);
  return { ...(arrays as unknown as Omit<Base, "dims">), dims };
}

/** Bump allocator over a SharedArrayBuffer that grows (is replaced) when a batch needs more. */
class SharedArena {
  buffer = new SharedArrayBuffer(8);
  private used = 0;
  private needed = 0;
  reset(): void {
    this.used = 0;
    this.needed = 0;
  }
  take = (length: number): Float64Array => {
    this.needed += length;
    if (this.used + length > this.buffer.byteLength / 8) return new Float64Array(length); // sized up on the next call
    const a = new Float64Array(this.buffer, this.used * 8, length);
    this.used += length;
    return a;
  };
  /** True when everything taken since reset() fitted; otherwise grow for next time. */
  fits(): boolean {
    if (this.needed * 8 <= this.buffer.byteLength && this.used === this.needed) return true;
    this.buffer = new SharedArrayBuffer(Math.ceil(this.needed * 1.25) * 8);
    return false;
  }
  offsetOf(a: Float64Array): number {
    if (a.buffer !== this.buffer) throw new Error("array is not in the arena");
    return a.byteOffset / 8;
  }
}

export { defaultThreads };

export class NumericalGradientPool {
  readonly threads: number;
  private workers: Worker[] = [];
  private arena = new SharedArena();
  private nextId = 1;
  private pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private failure?: Error;
  private closed = false;
  private busy = false;

  /** threads ≤ 1 computes on the calling thread, with no workers. */
  constructor(threads: number = defaultThreads()) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive whole number (got ${threads})`);
    this.threads = threads;
    if (threads === 1) return;
    const url = workerScript("numerical-gradient-worker");
    for (let w = 0; w < threads; w++) {
      const worker = new Worker(url);
      worker.unref();
      worker.on("message", (m: JobReply) => this.settle(m.id, m.error === undefined ? undefined : new Error(m.error)));
      worker.on("error", (e) => this.fail(e));
      worker.on("exit", (code) => {
        if (!this.closed) this.fail(new Error(`numerical-gradient worker exited with code ${code}`));
      });
      this.workers.push(worker);
    }
  }

  private settle(id: number, error?: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (error) p.reject(error);
    else p.resolve();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(e);
    }
  }

  async gradient(net: NetLike, x: FloatArray, t: Labels): Promise<Grads> {
    if (this.closed) throw new Error("the numerical-gradient pool is closed");
    if (this.failure) throw this.failure;
    if (this.workers.length === 0) return fastNumericalGradient(net, x, t);
    if (this.busy) throw new Error("NumericalGradientPool.gradient: one call at a time (await the previous one)");
    this.busy = true;
    try {
      return await this.parallelGradient(net, x, t);
    } finally {
      this.busy = false;
    }
  }

  private async parallelGradient(net: NetLike, x: FloatArray, t: Labels): Promise<Grads> {
    const dimsIn = { I: net.inputSize, H: net.hiddenSize, O: net.outputSize };
    let base: Base;
    let outW1: Float64Array;
    for (;;) {
      this.arena.reset();
      base = prepareBase(net.params, dimsIn, x, t, this.arena.take);
      outW1 = this.arena.take(dimsIn.I * dimsIn.H);
      if (this.arena.fits()) break;
    }
    const { I, H, O } = base.dims;
    const layout: Layout = {};
    for (const [name, a] of Object.entries(base)) if (a instanceof Float64Array) layout[name] = [this.arena.offsetOf(a), a.length];

    const jobs = this.splitRows(base).map(([start, end]) => {
      const id = this.nextId++;
      const worker = this.workers[(id - 1) % this.workers.length];
      const job: Job = { id, buffer: this.arena.buffer, layout, dims: base.dims, rows: [start, end], out: this.arena.offsetOf(outW1) + start * H };
      return new Promise<void>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.ref(); // keep the process alive while a job is out
        worker.postMessage(job);
      }).finally(() => worker.unref());
    });
    const grads: Grads = { W1: new Float64Array(I * H), b1: new Float64Array(H), W2: new Float64Array(H * O), b2: new Float64Array(O) };
    gradB1(base, grads.b1);
    gradW2(base, grads.W2);
    gradB2(base, grads.b2);
    await Promise.all(jobs);
    grads.W1.set(outW1);
    return grads;
  }

  /** W1 rows in one contiguous range per worker, balanced by non-zero pixels (the work). */
  private splitRows(b: Base): [number, number][] {
    const { N, I } = b.dims;
    const work = new Float64Array(I);
    let total = 0;
    for (let i = 0; i < I; i++) {
      let c = 1; // a little fixed cost per row
      for (let n = 0; n < N; n++) if (b.x[n * I + i] !== 0) c += 1;
      work[i] = c;
      total += c;
    }
    const parts = this.workers.length;
    const ranges: [number, number][] = [];
    let start = 0, acc = 0;
    for (let p = 0; p < parts; p++) {
      const target = (total * (p + 1)) / parts;
      let end = start;
      while (end < I && (p === parts - 1 || acc + work[end] <= target)) acc += work[end++];
      if (end === start && end < I) acc += work[end++];
      ranges.push([start, end]);
      start = end;
    }
    return ranges.filter(([s, e]) => e > s);
  }

  /** Terminate the workers (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error("the numerical-gradient pool was closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}
