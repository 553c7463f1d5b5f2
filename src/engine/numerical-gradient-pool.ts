/**
 * The fast numerical gradient on worker threads. The main thread does the forward pass and the
 * per-batch quantities (numerical-gradient.ts) into one SharedArrayBuffer; the W1 rows — nearly all
 * the work — are split in `threads` parts by their number of non-zero pixels, part 0 done here and
 * part k by worker k − 1 of a WorkerPool (pool.ts), while the main thread also does b1, W2 and b2.
 * Each parameter is computed the same way in any thread, so the gradient is identical for every
 * thread count. Create one pool per training run and close() it at the end; idle workers are
 * unref'd, so a pool that is never closed (after an error) does not keep the process alive.
 */
import type { FloatArray, Labels } from "../book/functions.js";
import { fastNumericalGradient, gradB1, gradB2, gradW1Rows, gradW2, prepareBase, type Base, type NetLike } from "../reference/numerical-gradient.js";
import type { Grads } from "../reference/two-layer-net.js";
import { defaultThreads, WorkerPool } from "./pool.js";

/** Where each array of a Base sits in the shared buffer: [offset, length] in float64 elements. */
export type Layout = Record<string, [number, number]>;

/** A "numerical-gradient" job: W1 rows [rows[0], rows[1]) into the buffer at `out`. */
export interface Job {
  buffer: SharedArrayBuffer;
  layout: Layout;
  dims: Base["dims"];
  rows: [number, number];
  /** Offset (float64 elements) of the W1 gradient in the buffer. */
  out: number;
}

/** A Base from its layout in a shared buffer (used by the workers). */
export function baseFromLayout(buffer: SharedArrayBuffer, layout: Layout, dims: Base["dims"]): Base {
  const arrays: Record<string, Float64Array> = {};
  for (const [name, [offset, length]] of Object.entries(layout)) arrays[name] = new Float64Array(buffer, offset * 8, length);
  return { ...(arrays as unknown as Omit<Base, "dims">), dims };
}

/** Worker side of "numerical-gradient": the job's W1 rows into the shared buffer. */
export function gradientRowsJob(job: Job): void {
  const [start, end] = job.rows;
  gradW1Rows(baseFromLayout(job.buffer, job.layout, job.dims), start, end, new Float64Array(job.buffer, job.out * 8, (end - start) * job.dims.H));
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
  private readonly pool?: WorkerPool;
  /** Whether close() closes the pool (made here from a thread count). */
  private readonly ownsPool: boolean;
  private arena = new SharedArena();
  private closed = false;
  private busy = false;

  /**
   * `threads`: a thread count (threads ≤ 1 computes on the calling thread, with no workers; more
   * makes a pool of threads − 1 workers, closed by close()), or a run's pool, shared.
   */
  constructor(threads: number | WorkerPool = defaultThreads()) {
    this.ownsPool = typeof threads === "number";
    this.pool = typeof threads === "number" ? WorkerPool.forThreads(threads) : threads;
    this.threads = (this.pool?.size ?? 0) + 1;
  }

  async gradient(net: NetLike, x: FloatArray, t: Labels): Promise<Grads> {
    if (this.closed) throw new Error("the numerical-gradient pool is closed");
    if (!this.pool) return fastNumericalGradient(net, x, t);
    if (this.busy) throw new Error("NumericalGradientPool.gradient: one call at a time (await the previous one)");
    this.busy = true;
    try {
      return await this.parallelGradient(this.pool, net, x, t);
    } finally {
      this.busy = false;
    }
  }

  private async parallelGradient(pool: WorkerPool, net: NetLike, x: FloatArray, t: Labels): Promise<Grads> {
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

    // part 0 here, part k on worker k − 1
    const [mine, ...theirs] = this.splitRows(base, this.threads);
    const jobs = theirs.map(([start, end], k) => {
      const job: Job = { buffer: this.arena.buffer, layout, dims: base.dims, rows: [start, end], out: this.arena.offsetOf(outW1) + start * H };
      return pool.run(k, "numerical-gradient", job);
    });
    const all = Promise.all(jobs);
    all.catch(() => {}); // awaited below; a throw here must not leave it unhandled
    if (mine) gradW1Rows(base, mine[0], mine[1], outW1.subarray(mine[0] * H, mine[1] * H));
    const grads: Grads = { W1: new Float64Array(I * H), b1: new Float64Array(H), W2: new Float64Array(H * O), b2: new Float64Array(O) };
    gradB1(base, grads.b1);
    gradW2(base, grads.W2);
    gradB2(base, grads.b2);
    await all;
    grads.W1.set(outW1);
    return grads;
  }

  /** W1 rows in `parts` contiguous ranges, balanced by non-zero pixels (the work); empty ones dropped. */
  private splitRows(b: Base, parts: number): [number, number][] {
    const { N, I } = b.dims;
    const work = new Float64Array(I);
    let total = 0;
    for (let i = 0; i < I; i++) {
      let c = 1; // a little fixed cost per row
      for (let n = 0; n < N; n++) if (b.x[n * I + i] !== 0) c += 1;
      work[i] = c;
      total += c;
    }
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

  /** Close the pool made here (idempotent); a shared pool is left to its owner. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool?.close();
  }
}
