/**
 * The book's loss pass on a second thread. The loss of iteration i is the loss of the network
 * after update i on batch i, and those are the weights iteration i + 1's gradient starts from; so
 * while this thread computes iteration i + 1's gradient and update, a worker with its own copy of the
 * network (same spec, so the same parameter block; the shared training images packed in it once)
 * computes loss(i) from a copy of the parameters after update i and batch i's indices. Same
 * kernels, same weights, same rows: the losses are bit for bit those of Network.trainStep.
 *
 * The worker is the last one of the run's WorkerPool (pool.ts), shared with evaluation; the pass
 * is a lane there: one job that stays open, fed through one SharedArrayBuffer mailbox with no
 * message per iteration (a message round trip costs most of a loss pass): a state word, the loss,
 * the batch indices and the parameters' byte range; `post` rings the worker's bell. The lane is
 * opened at the first loss that may be deferred (not at construction), so the worker does the
 * first evaluation before packing the training images for the lane. One job at a time: `post`
 * needs the previous job taken. When `take` finds the job not yet claimed by the worker (it has not
 * been scheduled: a busy machine, still starting, or busy with another job), it takes the job back
 * and computes it here, on a small copy of the network of its own, so a busy second core costs
 * little more than the one-thread step.
 * The parameter copy also lets the caller roll its network back to the posted weights (`restore`).
 */
import { Network, NO_OPTIMIZER, type NetworkSpec } from "./network.js";
import { WorkerPool, type Lane } from "./pool.js";

/** Values of the mailbox's state word. */
export const IDLE = 0;
export const POSTED = 1;
/** The worker has claimed the posted job. */
export const RUNNING = 2;
export const DONE = 3;
export const FAILED = 4;
export const QUIT = 5;

/** The mailbox's views over one SharedArrayBuffer (built the same way on both threads). */
export function mailbox(sab: SharedArrayBuffer, batchSize: number, paramBytes: number) {
  const pParams = paramsOffset(batchSize);
  return {
    state: new Int32Array(sab, 0, 1),
    /** Set to 1 by the worker once it is ready for jobs. */
    ready: new Int32Array(sab, 4, 1),
    loss: new Float64Array(sab, 8, 1),
    /** Rows in the posted batch. */
    rows: new Int32Array(sab, 16, 1),
    indices: new Int32Array(sab, 24, batchSize),
    params: new Uint8Array(sab, pParams, paramBytes),
  };
}

function paramsOffset(batchSize: number): number {
  return Math.ceil((24 + 4 * batchSize) / 16) * 16;
}

interface LanePayload {
  spec: NetworkSpec;
  batchSize: number;
  sab: SharedArrayBuffer;
  images: Uint8Array;
  labels: Uint8Array;
}

/** Worker side of "loss-lane": a network with the training images packed, serving the mailbox until QUIT. */
export function lossLane(p: LanePayload): Lane {
  const box = mailbox(p.sab, p.batchSize, 0);
  const net = new Network(p.spec);
  const params = new Uint8Array(p.sab, box.params.byteOffset, net.paramByteLength);
  // the training images packed once in this worker (≈ 36 MB for MNIST's 60,000)
  net.keepImages(p.images);
  Atomics.store(box.ready, 0, 1);
  return {
    poll() {
      const s = Atomics.load(box.state, 0);
      if (s === QUIT) return true;
      // claim the job (the main thread may have taken it back)
      if (s !== POSTED || Atomics.compareExchange(box.state, 0, POSTED, RUNNING) !== POSTED) return false;
      net.writeParamBytes(params);
      box.loss[0] = net.batchLoss(p.images, p.labels, box.indices.subarray(0, box.rows[0]));
      Atomics.compareExchange(box.state, 0, RUNNING, DONE); // not over a QUIT
      Atomics.notify(box.state, 0);
      return false;
    },
    failed() {
      Atomics.store(box.state, 0, FAILED);
      Atomics.notify(box.state, 0);
    },
  };
}

export class LossPipeline {
  private readonly net: Network;
  private readonly always: boolean;
  private readonly images: Uint8Array;
  private readonly labels: Uint8Array;
  /** For the jobs taken back (made when first needed). */
  private local?: Network;
  /** Jobs computed by the worker and taken back (for measurements). */
  readonly counts = { worker: 0, here: 0 };
  private readonly pool: WorkerPool;
  /** Whether close() closes the pool (made here). */
  private readonly ownsPool: boolean;
  /** The pool's worker that runs the lane. */
  private readonly worker: number;
  private readonly spec: NetworkSpec;
  private readonly box: ReturnType<typeof mailbox>;
  private readonly payload: LanePayload;
  private started = false;
  private failure?: Error;
  private closed = false;

  /**
   * `net` is the training network; `images`/`labels` the training split, in shared memory.
   * `always`: defer every loss that may be deferred, measuring nothing (for tests). `pool`: the
   * run's pool (its last worker runs the lane); without one, a pool of one worker is made here
   * and closed by close().
   */
  constructor(net: Network, images: Uint8Array, labels: Uint8Array, batchSize: number, mode: "auto" | "always" = "auto", pool?: WorkerPool) {
    this.net = net;
    this.always = mode === "always";
    this.images = images;
    this.labels = labels;
    const bytes = net.paramByteLength;
    const sab = new SharedArrayBuffer(paramsOffset(batchSize) + bytes);
    this.box = mailbox(sab, batchSize, bytes);
    this.spec = { ...net.spec, optimizer: NO_OPTIMIZER, maxRows: batchSize };
    this.payload = { spec: this.spec, batchSize, sab, images, labels };
    this.ownsPool = pool === undefined;
    this.pool = pool ?? new WorkerPool(1);
    this.worker = this.pool.size - 1;
  }

  /** Open the lane on the worker (once). */
  private start(): void {
    if (this.started) return;
    this.started = true;
    this.pool.run(this.worker, "loss-lane", this.payload, { keepAlive: false }).then(
      () => {},
      (e: Error) => (this.failure ??= e),
    );
  }

  // Whether to use the worker: the pipeline only pays when the second core is free, so the
  // iteration time is measured both ways now and then (PROBE iterations each, median) and the
  // faster way is kept for the next KEEP iterations. Results do not depend on it.
  private static readonly PROBE = 48;
  private static readonly KEEP = 1500;
  private phase: "probe-worker" | "probe-here" | "keep" = "probe-worker";
  private phaseLeft = LossPipeline.PROBE;
  private useWorker = true;
  private lastT = -1;
  private lastMode = false;
  private readonly dts = { worker: [] as number[], here: [] as number[] };
  /** Decisions taken (for measurements). */
  readonly decisions: boolean[] = [];

  /**
   * Called once per iteration, after its step: whether its loss should go to the worker. `free`
   * says the caller may defer it (false when it needs the loss at once); the time since the
   * previous call is recorded when both were free, under the way the previous one was run.
   */
  defer(free: boolean): boolean {
    if (free) this.start();
    if (this.always) return free;
    const t = performance.now();
    if (this.lastT >= 0) (this.lastMode ? this.dts.worker : this.dts.here).push(t - this.lastT);
    if (!free || Atomics.load(this.box.ready, 0) === 0) {
      // (until the worker has started, the losses are computed here and nothing is measured)
      this.lastT = -1;
      return false;
    }
    this.lastT = t;
    if (--this.phaseLeft < 0) this.nextPhase();
    this.lastMode = this.phase === "probe-worker" ? true : this.phase === "probe-here" ? false : this.useWorker;
    return this.lastMode;
  }

  private nextPhase(): void {
    if (this.phase === "probe-worker") {
      this.phase = "probe-here";
      this.phaseLeft = LossPipeline.PROBE;
    } else if (this.phase === "probe-here") {
      const median = (a: number[]) => (a.length ? a.sort((x, y) => x - y)[a.length >> 1] : Infinity);
      this.useWorker = median(this.dts.worker) <= median(this.dts.here);
      this.decisions.push(this.useWorker);
      this.dts.worker.length = this.dts.here.length = 0;
      this.phase = "keep";
      this.phaseLeft = LossPipeline.KEEP;
    } else {
      this.phase = "probe-worker";
      this.phaseLeft = LossPipeline.PROBE;
    }
    this.phaseLeft--;
  }

  /** Whether the worker has started (until then `take` computes every loss here). */
  get ready(): boolean {
    return Atomics.load(this.box.ready, 0) === 1;
  }

  /** Start the loss of the network's current parameters on batch `indices` (the previous job taken). */
  post(indices: Int32Array): void {
    const { box } = this;
    if (Atomics.load(box.state, 0) === POSTED) throw new Error("LossPipeline.post: the previous loss was not taken");
    this.start();
    this.net.readParamBytes(box.params);
    box.indices.set(indices);
    box.rows[0] = indices.length;
    Atomics.store(box.state, 0, POSTED);
    this.pool.ring(this.worker);
  }

  /** The posted job's loss: the worker's, or computed here if the worker has not claimed it. */
  async take(): Promise<number> {
    const { box } = this;
    for (;;) {
      if (Atomics.compareExchange(box.state, 0, POSTED, IDLE) === POSTED) {
        this.counts.here++;
        const net = (this.local ??= new Network(this.spec));
        net.writeParamBytes(box.params);
        return net.batchLoss(this.images, this.labels, box.indices.subarray(0, box.rows[0]));
      }
      // claimed: block briefly (the loss is nearly ready); if not, let the event loop run so a
      // failed worker is noticed
      Atomics.wait(box.state, 0, RUNNING, 20);
      const s = Atomics.load(box.state, 0);
      if (s === DONE) {
        Atomics.store(box.state, 0, IDLE);
        this.counts.worker++;
        return box.loss[0];
      }
      if (s === FAILED) {
        // the worker sent its error before it marked the mailbox: it is on its way
        while (!this.failure) await new Promise<void>((resolve) => setImmediate(resolve));
        throw new Error(`the loss worker failed: ${this.failure.message}`, { cause: this.failure });
      }
      if (s !== RUNNING) throw new Error(`LossPipeline.take: no loss was posted (state ${s})`);
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.failure && Atomics.load(box.state, 0) !== DONE) throw this.failure;
    }
  }

  /** Put the parameters of the last posted job back into the network. */
  restore(): void {
    this.net.writeParamBytes(this.box.params);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.box.state, 0, QUIT);
    Atomics.notify(this.box.state, 0);
    // on a shared pool the lane ends at the worker's next wake-up (its reply is not awaited: idle,
    // the pool does not keep the process alive)
    if (this.started) this.pool.ring(this.worker);
    if (this.ownsPool) await this.pool.close();
  }
}
