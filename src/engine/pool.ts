/**
 * The engine's one worker pool: the worker threads of a run and the one way to talk to them. Its
 * users are thin modules over it: evaluation (eval-pool.ts), the numerical gradient
 * (numerical-gradient-pool.ts) and the book's loss pass on a second thread (loss-pipeline.ts).
 *
 * Threads. A run with `--threads T` has T threads: the main one and a pool of T − 1 workers
 * (`WorkerPool.forThreads`; none for T = 1). Every use shares them: evaluation cuts each split into
 * T parts, part 0 on the main thread and part k on worker k − 1; the numerical gradient's W1 rows
 * go in T parts the same way; the loss pass lives on the last worker. With T = 2 that is one worker
 * for both evaluation and the loss pass: they never overlap (the trainer takes the pending loss
 * before every evaluation), so a second thread set would only cost its memory and start-up.
 *
 * Protocol. A job is a message `{ id, kind, payload }` to one worker, answered by
 * `{ id, value }` or `{ id, error }`; `run` returns its promise, rejected with the worker's
 * message (and its stack as the cause) when the job throws, or when the worker dies. A job may
 * leave state on its worker (a network, views of shared splits) under a context id
 * (`newContext`) for later jobs. A worker does its jobs in the order they were posted.
 *
 * Latency. A message round trip through the main thread's event loop costs 30–60 µs on a
 * busy 2-core VM, a large part of the book's loss pass (≈ 0.1 ms) and too much for it, once per
 * iteration: the loss pass's per-iteration traffic goes through a lane instead. A lane is a job
 * that stays open (its reply comes when it ends or fails) and is fed through a SharedArrayBuffer of
 * its own, with no message per iteration. So a worker never returns to its event loop: it sleeps in
 * `Atomics.wait` on one word of its own, its bell, which the main thread rings after posting a
 * message or filling a lane; awake, it takes its messages synchronously (`receiveMessageOnPort`),
 * then lets each open lane serve what was posted to it. One wake-up mechanism for both, and the
 * lane's latency is that of the former loss worker (a futex wake-up, no event loop on either side).
 *
 * Lifetime. Idle workers are unref'd, so a pool that is never closed (after an error) does not
 * keep the process alive; a worker is ref'd while a job that keeps it (`keepAlive`, the default)
 * is out. `close()` terminates every worker (a sleeping or busy one alike) and rejects what is
 * still out.
 */
import { Worker } from "node:worker_threads";
import { defaultThreads, workerScript } from "./threads.js";

export { defaultThreads };

/** The kinds of job the worker script (pool-worker.ts) knows. */
export type JobKind = "evaluate-setup" | "evaluate" | "numerical-gradient" | "loss-lane" | "kernel-lane" | "drop";

export interface JobMessage {
  id: number;
  kind: JobKind;
  payload: unknown;
}

export type JobReply = { id: number; value?: unknown; error?: undefined } | { id: number; error: { message: string; stack?: string } };

/** What the pool hands each worker at start. */
export interface WorkerInit {
  /** One Int32 bell per worker (Atomics.wait / notify). */
  bells: SharedArrayBuffer;
  index: number;
}

/** Worker side: what a job's handler gets besides its payload. */
export interface WorkerHost {
  /** State kept on this worker by earlier jobs, by context id (WorkerPool.newContext). */
  contexts: Map<number, unknown>;
}

/**
 * Worker side: an open lane, returned by a job's handler instead of a value. The worker calls
 * `poll` at each wake-up, after taking its messages; the job is answered when `poll` returns true
 * (the lane is over) or throws (then `failed` runs, after the error was sent).
 */
export interface Lane {
  poll(): boolean;
  failed(): void;
  /** Whether the worker should watch its bell for a while after a poll before sleeping (default no). */
  spin?(): boolean;
}

/** Worker side: a job kind's handler; returns the reply's value, or a Lane. */
export type Handler = (payload: never, host: WorkerHost) => unknown;

export function isLane(v: unknown): v is Lane {
  return typeof v === "object" && v !== null && typeof (v as Lane).poll === "function" && typeof (v as Lane).failed === "function";
}

export interface RunOptions {
  /** Keep the process alive while the job is out (false for lanes, which stay open). */
  keepAlive?: boolean;
}

interface Pending {
  worker: number;
  kind: JobKind;
  keepAlive: boolean;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class WorkerPool {
  /** Worker threads (the main thread not counted). */
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly bells: Int32Array;
  private readonly pending = new Map<number, Pending>();
  /** Jobs out per worker that keep it ref'd. */
  private readonly held: number[];
  private readonly alive: boolean[];
  private nextId = 1;
  private nextContext = 1;
  private failure?: Error;
  private closed = false;

  /** The pool of a run with `threads` threads in all: threads − 1 workers, none for one thread. */
  static forThreads(threads: number = defaultThreads()): WorkerPool | undefined {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive whole number (got ${threads})`);
    return threads > 1 ? new WorkerPool(threads - 1) : undefined;
  }

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a worker pool needs at least one worker (got ${size})`);
    this.size = size;
    const bells = new SharedArrayBuffer(4 * size);
    this.bells = new Int32Array(bells);
    this.held = new Array<number>(size).fill(0);
    this.alive = new Array<boolean>(size).fill(true);
    const script = workerScript("pool-worker");
    for (let w = 0; w < size; w++) {
      const init: WorkerInit = { bells, index: w };
      const worker = new Worker(script, { workerData: init });
      worker.on("message", (m: JobReply) => this.settle(m));
      worker.on("error", (e) => this.fail(w, new Error(`worker ${w} of the pool failed: ${e.message}`, { cause: e })));
      worker.on("exit", (code) => {
        this.alive[w] = false;
        if (!this.closed) this.fail(w, new Error(`worker ${w} of the pool exited (code ${code})`));
      });
      worker.unref(); // after the listeners: adding a "message" listener refs the worker's port again
      this.workers.push(worker);
    }
  }

  /** A new id for state that jobs keep on the workers. */
  newContext(): number {
    return this.nextContext++;
  }

  /** Workers not yet exited. */
  get running(): number {
    return this.alive.filter(Boolean).length;
  }

  /** Post job `kind` to worker `worker`; its reply settles the promise. */
  run<T = unknown>(worker: number, kind: JobKind, payload: unknown, options: RunOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error("the worker pool is closed"));
    if (this.failure) return Promise.reject(this.failure);
    if (!Number.isInteger(worker) || worker < 0 || worker >= this.size) {
      return Promise.reject(new RangeError(`no worker ${worker} in a pool of ${this.size}`));
    }
    const id = this.nextId++;
    const keepAlive = options.keepAlive ?? true;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { worker, kind, keepAlive, resolve: resolve as (v: unknown) => void, reject });
      if (keepAlive && this.held[worker]++ === 0) this.workers[worker].ref();
      const message: JobMessage = { id, kind, payload };
      this.workers[worker].postMessage(message);
      this.ring(worker);
    });
  }

  /** Wake worker `worker` (after posting to one of its lanes). */
  ring(worker: number): void {
    Atomics.add(this.bells, worker, 1);
    Atomics.notify(this.bells, worker);
  }

  private release(p: Pending): void {
    if (p.keepAlive && --this.held[p.worker] === 0) this.workers[p.worker].unref();
  }

  private settle(m: JobReply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.release(p);
    if (m.error === undefined) p.resolve(m.value);
    else {
      const remote = new Error(m.error.message);
      if (m.error.stack) remote.stack = m.error.stack;
      p.reject(new Error(`${p.kind} job on worker ${p.worker}: ${m.error.message}`, { cause: remote }));
    }
  }

  /** Reject the jobs out on `worker` (or every worker), and every later job. */
  private fail(worker: number | undefined, e: Error): void {
    this.failure ??= e;
    for (const [id, p] of this.pending) {
      if (worker !== undefined && p.worker !== worker) continue;
      this.pending.delete(id);
      this.release(p);
      p.reject(e);
    }
  }

  /** Terminate every worker and reject the jobs still out (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(undefined, new Error("the worker pool was closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
