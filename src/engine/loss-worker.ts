/** The worker thread of LossPipeline: the book's loss pass, one posted job at a time. */
import { workerData } from "node:worker_threads";
import { DONE, FAILED, mailbox, POSTED, QUIT, RUNNING } from "./loss-pipeline.js";
import { Network, type NetworkSpec } from "./network.js";

const { spec, batchSize, sab, images, labels } = workerData as {
  spec: NetworkSpec;
  batchSize: number;
  sab: SharedArrayBuffer;
  images: Uint8Array;
  labels: Uint8Array;
};
const box = mailbox(sab, batchSize, 0);
try {
  const net = new Network(spec);
  const params = new Uint8Array(sab, box.params.byteOffset, net.paramByteLength);
  // the training images packed once in this thread's module (≈ 36 MB for MNIST's 60,000)
  net.keepImages(images);
  Atomics.store(box.ready, 0, 1);
  for (;;) {
    let s = Atomics.load(box.state, 0);
    while (s !== POSTED && s !== QUIT) {
      Atomics.wait(box.state, 0, s);
      s = Atomics.load(box.state, 0);
    }
    if (s === QUIT) break;
    // claim the job (the main thread may have taken it back)
    if (Atomics.compareExchange(box.state, 0, POSTED, RUNNING) !== POSTED) continue;
    net.writeParamBytes(params);
    box.loss[0] = net.batchLoss(images, labels, box.indices.subarray(0, box.rows[0]));
    Atomics.compareExchange(box.state, 0, RUNNING, DONE); // not over a QUIT
    Atomics.notify(box.state, 0);
  }
} catch (e) {
  Atomics.store(box.state, 0, FAILED);
  Atomics.notify(box.state, 0);
  throw e;
}
