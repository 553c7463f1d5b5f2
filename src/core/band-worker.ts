/** The worker thread of BandHelper: runs the posted tasks on the shared memory. */
import { workerData } from "node:worker_threads";
import type { Dtype } from "../train/hyperparameters.js";
import { ARGS, CLAIMED, DONE, F64, READY, SEQ, TASK, TASKS, type BandKernels } from "./band-helper.js";
import { instantiateKernels, type WasmMemory } from "./wasm.js";

const { dtype, memory, sab } = workerData as { dtype: Dtype; memory: WasmMemory; sab: SharedArrayBuffer };
const ctrl = new Int32Array(sab);
const f64 = new Float64Array(sab);
/** Polls of the task counter before sleeping (about a millisecond). */
const SPIN = 100_000;
try {
  const k = instantiateKernels<BandKernels>(dtype, memory);
  const args = ctrl.subarray(ARGS);
  Atomics.store(ctrl, READY, 1);
  let last = 0;
  for (;;) {
    let s = Atomics.load(ctrl, SEQ);
    for (let spin = 0; s === last; s = Atomics.load(ctrl, SEQ)) {
      if (++spin > SPIN) {
        Atomics.wait(ctrl, SEQ, last);
        spin = 0;
      }
    }
    if (s < 0) break;
    last = s;
    if (Atomics.compareExchange(ctrl, CLAIMED, s - 1, s) !== s - 1) continue; // taken back
    TASKS[ctrl[TASK]](k, args, f64[F64]);
    Atomics.store(ctrl, DONE, s);
  }
} catch (e) {
  Atomics.store(ctrl, READY, -1);
  throw e;
}
