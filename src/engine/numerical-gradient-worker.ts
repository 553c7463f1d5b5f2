/** Worker thread of NumericalGradientPool: computes a range of W1 rows into the shared buffer. */
import { parentPort } from "node:worker_threads";
import { gradW1Rows } from "../reference/numerical-gradient.js";
import { baseFromLayout, type Job, type JobReply } from "./numerical-gradient-pool.js";

if (!parentPort) throw new Error("numerical-gradient-worker must run in a worker thread");
const port = parentPort;

port.on("message", (job: Job) => {
  let reply: JobReply;
  try {
    const base = baseFromLayout(job.buffer, job.layout, job.dims);
    const [start, end] = job.rows;
    gradW1Rows(base, start, end, new Float64Array(job.buffer, job.out * 8, (end - start) * job.dims.H));
    reply = { id: job.id };
  } catch (e) {
    reply = { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
