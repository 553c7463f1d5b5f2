/** A worker thread of EvalPool: counts correct predictions on its part of each split. */
import { parentPort, workerData } from "node:worker_threads";
import { countCorrect, type EvalJob } from "./eval-pool.js";
import { Network, PREDICT_CHUNK, type NetworkSpec } from "./network.js";

const { spec, splits } = workerData as { spec: NetworkSpec; splits: { images: Uint8Array; labels: Uint8Array }[] };
const net = new Network(spec);
const scratch = new Int32Array(PREDICT_CHUNK);
parentPort!.on("message", (m: { params: Uint8Array; jobs: EvalJob[] }) => {
  net.writeParamBytes(m.params);
  parentPort!.postMessage(m.jobs.map((j) => countCorrect(net, splits[j.split], j.start, j.count, scratch)));
});
