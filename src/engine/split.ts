/**
 * The training step on every thread of the run. A layer cuts its work into parts (samples of a
 * batch, rows or columns of a product, ranges of the parameter block), part 0 runs on this thread
 * and part k on worker k − 1 of the pool (pool.ts), all on the network's one shared WebAssembly
 * memory. Every output value is still computed by one thread, in the same order, so a cut changes
 * no value: results are the same bit for bit for any `--threads`.
 *
 * Each worker runs a "kernel-lane" (a lane of the pool: no message per call): this thread writes
 * the part's kernel calls and a new sequence number into the lane's control block, rings the
 * worker's bell, runs its own part, then waits until the worker has published the same number.
 */
import type { Arena, KernelOp, Kernels, StepThreads } from "./arena.js";
import type { WorkerPool } from "./pool.js";
import { instantiateKernels, type Dtype, type WasmMemory } from "./wasm.js";


/** The kernels a part may call, by number in the control block. */
const KERNELS = [
  "gemm", "im2col", "col2im", "hidden", "transpose_w2", "grad_w1",
  "opt_sgd", "opt_momentum", "opt_nesterov", "opt_adagrad", "opt_rmsprop", "opt_adam", "opt_adadelta",
  "relu", "relu_bwd", "mul", "maxpool", "maxpool_bwd", "sum_rows", "dropout_mask",
] as const satisfies readonly (keyof Kernels)[];
const KERNEL_ID = new Map<string, number>(KERNELS.map((name, i) => [name, i]));

// The control block: Int32 words (the request number, the last one done or −1 when the lane
// failed, the stop flag, whether the worker watches its bell between parts), then from byte 16
// Float64 words: the number of calls, then each call's kernel number, argument count and
// arguments (whole numbers and floats alike are exact in a double).
const SEQ = 0, DONE = 1, STOP = 2, SPIN = 3, HEADER = 16, CALL_WORDS = 4096;
/** How long this thread watches for a worker's answer before sleeping on it (while watching is on). */
const SPIN_MS = 1;
/**
 * Watching saves a wake-up per part on a quiet machine (configs/fast.json: 0.82× the time), but
 * when another process wants the cores it takes the time the other thread needs (the same run
 * beside a busy loop: 1.74× the time). So it stays on only while the process gets about a core a
 * thread: its CPU time over the wall time of the steps, measured over windows of CHECK_MS of them
 * (two low ones running turn it off). Turned off, it is tried again after RETRY_MS, then twice as
 * long each time it fails, up to 32 s.
 */
const CHECK_MS = 100, RETRY_MS = 4000, RETRY_MAX_MS = 32_000;
/** A pause between two parts longer than this is not part of a step (evaluation, files, the user). */
const GAP_MS = 20;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** [from, to) of part p of `total` cut into `parts`, the cuts on multiples of `unit`. */
export function cutRange(total: number, parts: number, p: number, unit = 1): [number, number] {
  const at = (q: number) => Math.min(total, Math.round((total * q) / parts / unit) * unit);
  return [at(p), p === parts - 1 ? total : at(p + 1)];
}

/**
 * [from, to) of part p of rows [0, n) cut into `parts` holding about equal counts, as the running
 * counts `ends` (n + 1 of them, ascending: a CSR's row starts) give them: the rows of a sparse
 * batch by their non-zero pixels, since the work goes by those.
 */
export function cutByCount(ends: ArrayLike<number>, n: number, parts: number, p: number): [number, number] {
  const at = (q: number) => {
    if (q <= 0) return 0;
    if (q >= parts) return n;
    const target = ends[0] + ((ends[n] - ends[0]) * q) / parts;
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && target - ends[lo - 1] < ends[lo] - target ? lo - 1 : lo;
  };
  return [at(p), at(p + 1)];
}

export interface KernelLanePayload {
  memory: WasmMemory;
  dtype: Dtype;
  control: SharedArrayBuffer;
}

/** Worker side of "kernel-lane": this worker's instance of the kernels on the network's memory. */
export function kernelLane(p: KernelLanePayload) {
  const k = instantiateKernels<Kernels>(p.dtype, p.memory) as unknown as Record<string, (...a: number[]) => void>;
  const c = new Int32Array(p.control, 0, HEADER / 4);
  const calls = new Float64Array(p.control, HEADER, CALL_WORDS);
  let served = Atomics.load(c, DONE);
  return {
    poll(): boolean {
      if (Atomics.load(c, STOP) !== 0) return true;
      const seq = Atomics.load(c, SEQ);
      if (seq !== served) {
        for (let i = 0, w = 1; i < calls[0]; i++) {
          const fn = k[KERNELS[calls[w]]], n = calls[w + 1];
          fn(...calls.subarray(w + 2, w + 2 + n));
          w += 2 + n;
        }
        served = seq;
        Atomics.store(c, DONE, seq);
        Atomics.notify(c, DONE);
      }
      return false;
    },
    spin: () => Atomics.load(c, SPIN) === 1,
    failed(): void {
      Atomics.store(c, DONE, -1);
      Atomics.notify(c, DONE);
    },
  };
}

/**
 * When the step's threads watch for each other (see CHECK_MS): fed the wall and CPU time of the
 * steps' stretches, it answers whether watching is on.
 */
export class SpinPolicy {
  private on = true;
  private retryMs = RETRY_MS;
  private retryAt = 0;
  private wallMs = 0;
  private cpuMs = 0;
  private checks = 0;
  private low = 0;

  constructor(private readonly threads: number) {}

  observe(wallMs: number, cpuMs: number, now: number): boolean {
    this.wallMs += wallMs;
    this.cpuMs += cpuMs;
    if (this.wallMs < CHECK_MS) return this.on;
    const cores = this.cpuMs / this.wallMs;
    this.wallMs = this.cpuMs = 0;
    // (the first window is the workers' start: setting up, compiling, evaluating)
    if (this.checks++ === 0) return this.on;
    if (this.on) {
      if (cores >= this.threads - 0.5) {
        this.low = 0;
        this.retryMs = RETRY_MS;
      } else if (++this.low === 2) {
        // (two windows running, so that a hiccup of the machine does not turn it off)
        this.on = false;
        this.low = 0;
        this.retryAt = now + this.retryMs;
        this.retryMs = Math.min(2 * this.retryMs, RETRY_MAX_MS);
      }
    } else if (now >= this.retryAt) this.on = true;
    return this.on;
  }
}

/** The threads of a run's training step: this one and a kernel lane on every worker of `pool`. */
export class StepSplit implements StepThreads {
  readonly parts: number;
  /** Below this many multiply-adds (≈ 0.1 ms here) work is not cut: waking a worker would cost more (tests set 0). */
  minWork = 1 << 20;
  private readonly k: Kernels;
  private readonly lanes: { c: Int32Array; calls: Float64Array }[] = [];
  private seq = 0;
  private failure?: Error;
  /** Whether the threads watch for each other before sleeping (SPIN_MS). */
  private readonly spin: SpinPolicy;
  private spinning = true;
  /** Where the last part ended, and where the window of steps being measured began (wall and CPU ms). */
  private lastEnd = -Infinity;
  private windowWall = 0;
  private windowCpu = 0;

  constructor(private readonly a: Arena, private readonly pool: WorkerPool) {
    this.k = a.k;
    this.parts = 1 + pool.size;
    this.spin = new SpinPolicy(this.parts);
    for (let w = 0; w < pool.size; w++) {
      const control = new SharedArrayBuffer(HEADER + 8 * CALL_WORDS);
      this.lanes.push({ c: new Int32Array(control, 0, HEADER / 4), calls: new Float64Array(control, HEADER, CALL_WORDS) });
      Atomics.store(this.lanes[w].c, SPIN, 1);
      const payload: KernelLanePayload = { memory: a.k.memory, dtype: a.dtype, control };
      pool.run(w, "kernel-lane", payload, { keepAlive: false }).catch((e: Error) => (this.failure ??= e));
    }
  }

  run(ops: (part: number, parts: number) => KernelOp[]): void {
    if (this.failure) throw new Error(`a worker of the training step failed: ${this.failure.message}`);
    const t0 = performance.now();
    // a pause (evaluation, files, the user) is not part of a step: a new window begins here
    if (t0 - this.lastEnd >= GAP_MS) {
      this.windowWall = t0;
      this.windowCpu = cpuMs();
    }
    const seq = ++this.seq;
    for (let w = 0; w < this.lanes.length; w++) {
      const { c, calls } = this.lanes[w];
      let at = 1, n = 0;
      for (const [name, ...args] of ops(w + 1, this.parts)) {
        if (at + 2 + args.length > CALL_WORDS) throw new RangeError("too many kernel calls for one part of a step");
        calls[at] = KERNEL_ID.get(name)!;
        calls[at + 1] = args.length;
        calls.set(args, at + 2);
        at += 2 + args.length;
        n++;
      }
      calls[0] = n;
      Atomics.store(c, SEQ, seq);
      this.pool.ring(w);
    }
    this.a.runHere(ops(0, this.parts));
    for (const { c } of this.lanes) this.wait(c, seq);
    const t1 = (this.lastEnd = performance.now());
    // (the CPU clock is a system call: read once a window, not at every part)
    if (t1 - this.windowWall >= CHECK_MS) {
      const cpu = cpuMs();
      const on = this.spin.observe(t1 - this.windowWall, cpu - this.windowCpu, t1);
      if (on !== this.spinning) this.setSpinning(on);
      this.windowWall = t1;
      this.windowCpu = cpu;
    }
  }

  private setSpinning(on: boolean): void {
    this.spinning = on;
    for (const { c } of this.lanes) Atomics.store(c, SPIN, on ? 1 : 0);
  }

  /**
   * gemm cut by output rows or by output columns, whichever makes the threads read less twice:
   * cutting rows makes every thread read all of M (count × yV vectors), cutting columns all of S
   * (nq rows × count). Products too small to pay for a wake-up stay whole.
   */
  gemm(...g: Parameters<Kernels["gemm"]>): void {
    const [S0, qStride, iStride, nq, count, M0, mStride, yV, B, Y, yStride] = g;
    const lanes = 16 / this.a.S, parts = this.parts;
    const byCols = nq < yV * lanes && yV >= 4 * parts;
    if (nq * count * yV * lanes < this.minWork || (!byCols && nq < 2 * parts)) return this.k.gemm(...g);
    this.run((p) => {
      const [from, to] = cutRange(byCols ? yV : nq, parts, p, byCols ? 4 : 2);
      if (to === from) return [];
      return [
        byCols
          ? ["gemm", S0, qStride, iStride, nq, count, M0 + 16 * from, mStride, to - from, B >= 0 ? B + 16 * from : B, Y + 16 * from, yStride]
          : ["gemm", S0 + from * qStride, qStride, iStride, to - from, count, M0, mStride, yV, B, Y + from * yStride, yStride],
      ];
    });
  }

  private wait(c: Int32Array, seq: number): void {
    // the worker's part ends about when this thread's does: watch for it before sleeping, since
    // waking from Atomics.wait costs ≈ 0.1–0.2 ms on a virtual machine
    if (this.spinning) {
      const until = performance.now() + SPIN_MS;
      for (let i = 1; Atomics.load(c, DONE) !== seq; i++) if ((i & 255) === 0 && performance.now() > until) break;
    }
    if (Atomics.load(c, DONE) === seq) return;
    // A part takes milliseconds: a worker silent for two minutes of this thread's waiting is gone
    // (this thread does not return to its event loop here, so the pool cannot tell). A wait that
    // took far longer than asked is not counted: the process was stopped (Ctrl-Z), not the worker.
    let waited = 0;
    for (;;) {
      const d = Atomics.load(c, DONE);
      if (d === seq) return;
      if (d === -1 || waited > 120_000) throw new Error("a worker of the training step failed or stopped answering");
      const t0 = Date.now();
      Atomics.wait(c, DONE, d, 1000);
      const dt = Date.now() - t0;
      if (dt < 5000) waited += dt;
    }
  }

  /**
   * Close the lanes (the pool stays open). Each ends at its worker's next wake-up; its reply is
   * not awaited, since an idle pool does not keep the process alive.
   */
  close(): void {
    for (let w = 0; w < this.lanes.length; w++) {
      Atomics.store(this.lanes[w].c, STOP, 1);
      this.pool.ring(w);
    }
  }
}
