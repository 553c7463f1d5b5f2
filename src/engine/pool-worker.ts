/**
 * The one worker script of WorkerPool (pool.ts): sleeps on its bell, takes its messages
 * synchronously, runs each job by its kind and answers it, then serves its open lanes. It never
 * returns to its event loop; WorkerPool.close() terminates it.
 */
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { evaluateJob, evaluateSetup } from "./eval-pool.js";
import { lossLane } from "./loss-pipeline.js";
import { gradientRowsJob } from "./numerical-gradient-pool.js";
import { kernelLane } from "./split.js";
import { isLane, type Handler, type JobKind, type JobMessage, type JobReply, type Lane, type WorkerHost, type WorkerInit } from "./pool.js";

if (!parentPort) throw new Error("pool-worker must run in a worker thread");
const port = parentPort;
const { bells, index } = workerData as WorkerInit;
const bell = new Int32Array(bells, 4 * index, 1);

const handlers: Record<JobKind, Handler> = {
  "evaluate-setup": evaluateSetup,
  evaluate: evaluateJob,
  "numerical-gradient": gradientRowsJob,
  "loss-lane": lossLane,
  "kernel-lane": kernelLane,
  drop: (payload: { ctx: number }, host) => void host.contexts.delete(payload.ctx),
};

const host: WorkerHost = { contexts: new Map() };
const lanes = new Map<number, Lane>();

const errorOf = (e: unknown) => (e instanceof Error ? { message: e.message, stack: e.stack } : { message: String(e) });

function runJob(job: JobMessage): void {
  let reply: JobReply;
  try {
    const handler = Object.hasOwn(handlers, job.kind) ? handlers[job.kind] : undefined;
    if (!handler) throw new Error(`unknown job kind ${JSON.stringify(job.kind)}`);
    const value = handler(job.payload as never, host);
    if (isLane(value)) {
      lanes.set(job.id, value);
      return;
    }
    reply = { id: job.id, value };
  } catch (e) {
    reply = { id: job.id, error: errorOf(e) };
  }
  port.postMessage(reply);
}

function serveLanes(): void {
  for (const [id, lane] of lanes) {
    let over: boolean;
    try {
      over = lane.poll();
    } catch (e) {
      lanes.delete(id);
      port.postMessage({ id, error: errorOf(e) } satisfies JobReply);
      lane.failed();
      continue;
    }
    if (over) {
      lanes.delete(id);
      port.postMessage({ id } satisfies JobReply);
    }
  }
}

// A kernel lane's next part usually comes within microseconds, and waking from Atomics.wait costs
// far more (≈ 0.1–0.2 ms on a virtual machine): while the lane asks for it, watch the bell for a
// while before sleeping.
const SPIN_MS = 0.5;
const spinning = () => {
  for (const lane of lanes.values()) if (lane.spin?.()) return true;
  return false;
};

for (;;) {
  const rung = Atomics.load(bell, 0);
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) runJob(m.message as JobMessage);
  serveLanes();
  if (spinning()) {
    const until = performance.now() + SPIN_MS;
    for (let i = 1; Atomics.load(bell, 0) === rung; i++) if ((i & 255) === 0 && performance.now() > until) break;
  }
  Atomics.wait(bell, 0, rung);
}
