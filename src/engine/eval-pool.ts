/**
 * Accuracy passes over whole splits on `threads` threads: this one plus the threads − 1 workers of
 * a WorkerPool (pool.ts), each with its own copy of the network (the same spec, so the same
 * parameter block). Every split is cut into `threads` contiguous parts (part 0 here, part k on
 * worker k − 1); each thread counts its correct predictions and the counts are summed. A row's
 * prediction does not depend on which thread computes it, so the accuracy is the same for any
 * thread count.
 * With threads > 1 the splits' pixel bytes are copied once into shared memory. Each thread packs
 * its part of each split (Network.keepImages) at the first evaluation.
 */
import type { MnistSplit } from "../data/mnist.js";
import { Network, NO_OPTIMIZER, PREDICT_CHUNK, predictRows, type NetworkSpec } from "./network.js";
import { WorkerPool, type WorkerHost } from "./pool.js";

export interface EvalJob {
  split: number;
  start: number;
  count: number;
}

/** Contiguous part `part` of `parts` of [0, count). */
export function partRange(count: number, parts: number, part: number): { start: number; count: number } {
  const start = Math.floor((count * part) / parts);
  return { start, count: Math.floor((count * (part + 1)) / parts) - start };
}

/** Correct predictions on rows [start, start + count) of `split`, packed in `net` at the first call. */
export function countCorrect(net: Network, split: { images: Uint8Array; labels: Uint8Array }, start: number, count: number, scratch: Int32Array): number {
  net.keepImages(split.images, start, count);
  let correct = 0;
  for (let c = 0; c < count; c += scratch.length) {
    const n = Math.min(scratch.length, count - c);
    const out = scratch.subarray(0, n);
    net.predictRange(split.images, start + c, n, out);
    for (let r = 0; r < n; r++) if (out[r] === split.labels[start + c + r]) correct++;
  }
  return correct;
}

type SharedSplit = { images: Uint8Array; labels: Uint8Array };
interface EvalContext {
  net: Network;
  splits: SharedSplit[];
  scratch: Int32Array;
}

/** Worker side of "evaluate-setup": a network of `spec` and views of the shared splits, kept as context `ctx`. */
export function evaluateSetup(p: { ctx: number; spec: NetworkSpec; splits: SharedSplit[] }, host: WorkerHost): void {
  host.contexts.set(p.ctx, { net: new Network(p.spec), splits: p.splits, scratch: new Int32Array(PREDICT_CHUNK) } satisfies EvalContext);
}

/** Worker side of "evaluate": correct predictions of the parameters `params` on each job's rows. */
export function evaluateJob(p: { ctx: number; params: Uint8Array; jobs: EvalJob[] }, host: WorkerHost): number[] {
  const c = host.contexts.get(p.ctx) as EvalContext | undefined;
  if (!c) throw new Error(`no evaluation context ${p.ctx} on this worker`);
  c.net.writeParamBytes(p.params);
  return p.jobs.map((j) => countCorrect(c.net, c.splits[j.split], j.start, j.count, c.scratch));
}

export class EvalPool {
  readonly threads: number;
  private readonly net: Network;
  private readonly splits: MnistSplit[];
  private readonly pool?: WorkerPool;
  /** Whether close() closes the pool (made here from a thread count). */
  private readonly ownsPool: boolean;
  private readonly ctx: number = 0;
  private readonly setup: Promise<unknown> = Promise.resolve();
  private readonly scratch = new Int32Array(PREDICT_CHUNK);
  private readonly params: Uint8Array;

  /**
   * `net` is the training network (its parameters are read at each evaluation). `threads`: a
   * thread count (a pool of threads − 1 workers is made, and closed by close()), or the run's
   * pool, shared (threads = its workers + 1).
   */
  constructor(net: Network, splits: MnistSplit[], threads: number | WorkerPool) {
    this.net = net;
    this.ownsPool = typeof threads === "number";
    this.pool = typeof threads === "number" ? WorkerPool.forThreads(threads) : threads;
    this.threads = (this.pool?.size ?? 0) + 1;
    this.params = new Uint8Array(net.paramByteLength);
    const pool = this.pool;
    if (pool) {
      // pixel bytes and labels in shared memory, so the workers read the same copy
      this.splits = splits.map((s) => {
        const images = new Uint8Array(new SharedArrayBuffer(s.images.length));
        images.set(s.images);
        const labels = new Uint8Array(new SharedArrayBuffer(s.labels.length));
        labels.set(s.labels);
        return { ...s, images, labels };
      });
      const spec: NetworkSpec = { ...net.spec, optimizer: NO_OPTIMIZER, maxRows: predictRows(net.spec) };
      const shared = this.splits.map((s) => ({ images: s.images, labels: s.labels }));
      this.ctx = pool.newContext();
      this.setup = Promise.all(Array.from({ length: pool.size }, (_, w) => pool.run(w, "evaluate-setup", { ctx: this.ctx, spec, splits: shared })));
      this.setup.catch(() => {}); // reported by accuracy()
    } else {
      this.splits = splits;
    }
  }

  /** The shared copy of split `i` (the caller may train from it). */
  split(i: number): MnistSplit {
    return this.splits[i];
  }

  /** Accuracy of the network's current parameters on each of `which` (split indices). */
  async accuracy(which: number[]): Promise<number[]> {
    const T = this.threads;
    const replies: Promise<number[]>[] = [];
    const pool = this.pool;
    if (pool) {
      this.net.readParamBytes(this.params);
      for (let w = 1; w < T; w++) {
        const jobs: EvalJob[] = which.map((split) => ({ split, ...partRange(this.splits[split].count, T, w) }));
        replies.push(pool.run<number[]>(w - 1, "evaluate", { ctx: this.ctx, params: this.params, jobs }));
      }
    }
    // (awaited below; a throw here must not leave them unhandled)
    const all = Promise.all(replies);
    all.catch(() => {});
    const mine = which.map((split) => {
      const { start, count } = partRange(this.splits[split].count, T, 0);
      return countCorrect(this.net, this.splits[split], start, count, this.scratch);
    });
    // a failed setup explains a failed evaluation better than its own error ("no evaluation context")
    const others = await all.catch(async (e) => {
      await this.setup;
      throw e;
    });
    return which.map((split, j) => {
      let correct = mine[j];
      for (const o of others) correct += o[j];
      return correct / this.splits[split].count;
    });
  }

  /** Close the pool made here, or free this evaluation's networks on a shared one. */
  async close(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    if (this.ownsPool) return pool.close();
    await Promise.all(Array.from({ length: pool.size }, (_, w) => pool.run(w, "drop", { ctx: this.ctx }).catch(() => {})));
  }
}
