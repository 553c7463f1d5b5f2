/**
 * The minibatches: drawn with replacement (the book's np.random.choice), or the next slice of a
 * per-epoch permutation (`shuffle`), always from the run's generator. Its state is what a
 * checkpoint stores to resume mid-epoch.
 */
import type { Rng } from "../book/rng.js";

export class Sampler {
  private readonly indices: Int32Array;
  private order: Int32Array;
  private pos: number;

  constructor(
    readonly mode: "replacement" | "shuffle",
    private readonly count: number,
    batchSize: number,
    private readonly rng: Rng,
    saved?: { order: Int32Array; pos: number },
  ) {
    this.indices = new Int32Array(batchSize);
    this.order = saved ? saved.order.slice() : new Int32Array(0);
    this.pos = saved?.pos ?? 0;
  }

  /** This iteration's batch (a reused array). */
  next(): Int32Array {
    const B = this.indices.length;
    if (this.mode === "replacement") return this.rng.choice(this.count, B, this.indices);
    if (this.order.length === 0 || this.pos + B > this.order.length) {
      // a new epoch: Fisher-Yates shuffle of 0..count−1
      const order = this.order.length ? this.order : new Int32Array(this.count);
      for (let k = 0; k < order.length; k++) order[k] = k;
      for (let k = order.length - 1; k > 0; k--) {
        const j = this.rng.int(k + 1);
        const tmp = order[k];
        order[k] = order[j];
        order[j] = tmp;
      }
      this.order = order;
      this.pos = 0;
    }
    this.indices.set(this.order.subarray(this.pos, this.pos + B));
    this.pos += B;
    return this.indices;
  }

  /** What a checkpoint stores (shuffle only). */
  get state(): { order: Int32Array; pos: number } | undefined {
    return this.mode === "shuffle" ? { order: this.order.slice(), pos: this.pos } : undefined;
  }
}
