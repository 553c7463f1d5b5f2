/** A worker thread of EvalPool: counts correct predictions on its part of each split. */
import { parentPort, workerData } from "node:worker_threads";
import type { Params } from "../reference/two-layer-net.js";
import type { Dtype } from "./wasm.js";
import { countCorrect, type EvalJob } from "./eval-pool.js";
import { FastNet, PREDICT_CHUNK } from "./fast-net.js";

const { dtype, D, H, O, splits } = workerData as {
  dtype: Dtype;
  D: number;
  H: number;
  O: number;
  splits: { images: Uint8Array; labels: Uint8Array }[];
};
const net = new FastNet(dtype, D, H, O, PREDICT_CHUNK);
const scratch = new Int32Array(PREDICT_CHUNK);
parentPort!.on("message", (m: { params: Params; jobs: EvalJob[] }) => {
  net.setParams(m.params);
  parentPort!.postMessage(m.jobs.map((j) => countCorrect(net, splits[j.split], j.start, j.count, scratch)));
});
