/**
 * Accuracy passes over whole splits on `threads` threads: this one plus threads − 1 worker_threads,
 * each with its own copy of the network (the same spec, so the same parameter block). Every split is cut into `threads` contiguous parts (part 0 here); each
 * thread counts its correct predictions and the counts are summed. A row's prediction does not
 * depend on which thread computes it, so the accuracy is the same for any thread count.
 * With threads > 1 the splits' pixel bytes are copied once into shared memory. Each thread packs
 * its part of each split (Network.keepImages) at the first evaluation.
 */
import { Worker } from "node:worker_threads";
import type { MnistSplit } from "../data/mnist.js";
import { NO_OPTIMIZER, PREDICT_CHUNK, predictRows, type Network, type NetworkSpec } from "./network.js";
import { workerScript } from "./threads.js";

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

export class EvalPool {
  readonly threads: number;
  private readonly net: Network;
  private readonly splits: MnistSplit[];
  private readonly workers: Worker[] = [];
  private readonly scratch = new Int32Array(PREDICT_CHUNK);
  private readonly params: Uint8Array;

  /** `net` is the training network (its parameters are read at each evaluation). */
  constructor(net: Network, splits: MnistSplit[], threads: number) {
    this.net = net;
    this.threads = threads;
    this.params = new Uint8Array(net.paramByteLength);
    const spec: NetworkSpec = { ...net.spec, optimizer: NO_OPTIMIZER, maxRows: predictRows(net.spec) };
    if (threads > 1) {
      // pixel bytes and labels in shared memory, so the workers read the same copy
      this.splits = splits.map((s) => {
        const images = new Uint8Array(new SharedArrayBuffer(s.images.length));
        images.set(s.images);
        const labels = new Uint8Array(new SharedArrayBuffer(s.labels.length));
        labels.set(s.labels);
        return { ...s, images, labels };
      });
      for (let w = 1; w < threads; w++) {
        const worker = new Worker(workerScript("eval-worker"), {
          workerData: { spec, splits: this.splits.map((s) => ({ images: s.images, labels: s.labels })) },
        });
        worker.unref();
        this.workers.push(worker);
      }
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
    if (T > 1) {
      this.net.readParamBytes(this.params);
      for (let w = 1; w < T; w++) {
        const jobs: EvalJob[] = which.map((split) => ({ split, ...partRange(this.splits[split].count, T, w) }));
        const worker = this.workers[w - 1];
        replies.push(
          new Promise<number[]>((resolve, reject) => {
            const onMessage = (m: number[]) => {
              worker.off("error", onError);
              resolve(m);
            };
            const onError = (e: Error) => {
              worker.off("message", onMessage);
              reject(e);
            };
            worker.once("message", onMessage);
            worker.once("error", onError);
            worker.postMessage({ params: this.params, jobs });
          }),
        );
      }
    }
    const mine = which.map((split) => {
      const { start, count } = partRange(this.splits[split].count, T, 0);
      return countCorrect(this.net, this.splits[split], start, count, this.scratch);
    });
    const others = await Promise.all(replies);
    return which.map((split, j) => {
      let correct = mine[j];
      for (const o of others) correct += o[j];
      return correct / this.splits[split].count;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
