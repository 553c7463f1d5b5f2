/**
 * A second thread for a FastNet's two 784-wide products. The hidden units are cut into two bands,
 * each in its own cache lines of every row (see FastNet's `bands`); this thread computes band A and
 * the helper band B, on the same shared WebAssembly memory: the helper expands the batch into its
 * own CSR buffers and owns band B of W1 and of its gradient, so neither thread writes a line the
 * other reads, but for Z and dZ rows. Each value is the same arithmetic in the same order as on one
 * thread, so the results are bit for bit those of one thread.
 *
 * No message per call: a SharedArrayBuffer holds the task and its arguments, and counters. The
 * helper polls for about a millisecond after each task before it sleeps. A task the helper has
 * not claimed by the time this thread has done its own band is taken back and run here, so a busy
 * or sleeping second core costs about the one-thread time, never a wait.
 */
import { Worker } from "node:worker_threads";
import type { Dtype } from "../train/hyperparameters.js";
import type { WasmMemory } from "./wasm.js";
import { workerScript } from "./worker-script.js";

/** Words of the control block (Int32). */
export const SEQ = 0; // number of the last task posted (−1: quit)
export const CLAIMED = 1; // number of the last task claimed, by either thread
export const DONE = 2; // number of the last task the helper finished
export const READY = 3; // 1 once the helper runs, −1 if it failed
export const TASK = 4; // index into TASKS
export const ARGS = 6; // the task's integer arguments
export const MAX_ARGS = 16;
/** Float64 slot (the learning rate), after the integer words. */
export const F64 = (ARGS + MAX_ARGS) / 2;

/** The kernels a task calls (a subset of wasm/kernels.wat.js's exports). */
export interface BandKernels {
  expand(pStarts: number, ent: number, idx: number, first: number, n: number, rowBytes: number, starts: number, offs: number, vals: number): number;
  hidden(starts: number, offs: number, vals: number, n: number, W: number, b: number, Z: number, HV: number, act: number, stride: number): void;
  grad_w1(starts: number, offs: number, vals: number, n: number, dZ: number, G: number, HV: number, stride: number): void;
  sgd_rows(W: number, G: number, D: number, rowBytes: number, nv: number, lr: number): void;
}

/** The tasks, run the same way by the helper or, taken back, by the posting thread. */
export const TASKS: ((k: BandKernels, a: Int32Array, lr: number) => void)[] = [
  // 0: expand the batch (a[0..8]) into the helper's CSR, then hidden band B (a[9..14]) on it
  (k, a) => {
    k.expand(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
    k.hidden(a[6], a[7], a[8], a[4], a[9], a[10], a[11], a[12], a[13], a[14]);
  },
  // 1: hidden band B on the helper's CSR (a[0..9])
  (k, a) => k.hidden(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]),
  // 2: W1's gradient for band B (a[0..7]), then band B's update (a[8..11], lr)
  (k, a, lr) => {
    k.grad_w1(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
    k.sgd_rows(a[8], a[9], a[10], a[11], a[6], lr);
  },
];
export const EXPAND_HIDDEN = 0;
export const HIDDEN = 1;
export const GRAD_SGD = 2;

export class BandHelper {
  private readonly ctrl: Int32Array;
  private readonly f64: Float64Array;
  private readonly worker: Worker;
  private seq = 0;
  private pending = 0;
  private failure?: Error;
  /** Tasks run by the helper and taken back (for measurements and tests). */
  readonly counts = { helper: 0, here: 0 };

  constructor(dtype: Dtype, memory: WasmMemory) {
    const sab = new SharedArrayBuffer(4 * (ARGS + MAX_ARGS) + 8);
    this.ctrl = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.worker = new Worker(workerScript("band-worker.js"), { workerData: { dtype, memory, sab } });
    this.worker.unref();
    this.worker.on("error", (e) => (this.failure ??= e));
    this.worker.on("exit", (code) => (this.failure ??= new Error(`the band helper exited (code ${code})`)));
  }

  /** Whether the helper has started (until then every task is run here). */
  get ready(): boolean {
    return Atomics.load(this.ctrl, READY) === 1 && !this.failure;
  }

  /** Post task `task` with `args` (and `lr`); `join` waits for it or takes it back. */
  post(task: number, args: number[], lr = 0): void {
    const { ctrl } = this;
    if (this.pending) throw new Error("BandHelper.post: the previous task was not joined");
    const seq = ++this.seq;
    ctrl[TASK] = task;
    for (let i = 0; i < args.length; i++) ctrl[ARGS + i] = args[i];
    this.f64[F64] = lr;
    this.pending = seq;
    Atomics.store(ctrl, SEQ, seq);
    Atomics.notify(ctrl, SEQ, 1);
  }

  /** The posted task done: by the helper (wait for it) or here, with `k`, if not claimed yet. */
  join(k: BandKernels): void {
    const { ctrl } = this;
    const seq = this.pending;
    this.pending = 0;
    if (Atomics.compareExchange(ctrl, CLAIMED, seq - 1, seq) === seq - 1) {
      this.counts.here++;
      TASKS[ctrl[TASK]](k, ctrl.subarray(ARGS), this.f64[F64]);
      return;
    }
    // claimed: its band takes about as long as ours did, so poll
    while (Atomics.load(ctrl, DONE) !== seq) {
      if (Atomics.load(ctrl, READY) < 0) throw new Error("the band helper failed", { cause: this.failure });
    }
    this.counts.helper++;
  }

  async close(): Promise<void> {
    Atomics.store(this.ctrl, SEQ, -1);
    Atomics.notify(this.ctrl, SEQ, 1);
    await this.worker.terminate();
  }
}
