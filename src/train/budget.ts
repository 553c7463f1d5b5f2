/**
 * What a run will need, known before anything large is allocated: its parameter count, an upper
 * estimate of its working memory, and the size of the JSON files that store it. The CLI compares
 * these with the machine and with what the readers accept, so sizes the schema allows end in a
 * one-line refusal up front rather than a crash hours later.
 */
import { slotCount } from "../reference/optimizers.js";
import { parseLayerList } from "../reference/layer-spec.js";
import { countValues, paramShapes } from "../reference/net-from-spec.js";
import { Convolution } from "../engine/conv.js";
import { predictRows } from "../engine/network.js";
import { hiddenSizes, type Hyperparameters } from "./hyperparameters.js";

/** Every per-worker copy of a network evaluates chunks of this many images (the kernels' chunk). */
const EVAL_CHUNK = 1000;
/** A worker thread's own cost (V8 isolate, module instances) beyond its network. */
const WORKER_BYTES = 24 * 1024 * 1024;
/** The MNIST training and test images as bytes, and the kernels' packed copy of them. */
const DATA_BYTES = 3 * 70_000 * 784;
/** A WebAssembly (wasm32) memory holds at most 4 GiB; the kernels keep a network's buffers in one. */
export const WASM_MEMORY_BYTES = 4 * 1024 ** 3;
/**
 * The longest a float64 is written in JSON, with its comma ("-1.2345678901234567e-100,"): files
 * holding N numbers are at most N × this many bytes.
 */
export const JSON_NUMBER_BYTES = 25;

export interface RunBudget {
  /** Weights and biases of the network. */
  params: number;
  /** Upper estimate of the process's memory for the run, in bytes. */
  memoryBytes: number;
  /** Upper estimate of one network's WebAssembly memory (params, gradients, activations, images). */
  wasmBytes: number;
  /** Upper bound of model.json's size. */
  modelJsonBytes: number;
  /** Upper bound of the numbers checkpoint.json holds (parameters, slots, best weights, the shuffle order). */
  checkpointNumbers: number;
  /** Upper bound of checkpoint.json's size. */
  checkpointJsonBytes: number;
}

export function layerSizes(hp: Pick<Hyperparameters, "hiddenSize">): number[] {
  return [784, ...hiddenSizes(hp), 10];
}

/**
 * A layer list's parameters, its saved state (batch norm's statistics), the values one image
 * passes through (every layer's output) and the engine's im2col buffers (one per conv, bounded
 * whatever the batch: src/engine/conv.ts).
 */
function layerNetSizes(layers: string): { params: number; state: number; units: number; colValues: number } {
  const { layers: specs, shapes } = parseLayerList(layers);
  const ps = paramShapes(specs);
  let units = 784, colValues = 0;
  specs.forEach((spec, i) => {
    units += shapes[i].reduce((a, b) => a * b, 1);
    if (spec.type === "conv") colValues += Convolution.colValues;
  });
  return { params: countValues(ps.params), state: countValues(ps.state), units, colValues };
}

export function runBudget(hp: Hyperparameters, threads: number): RunBudget {
  const sizes = layerSizes(hp);
  let params = 0;
  let state = 0;
  let units = sizes.reduce((a, b) => a + b, 0);
  let colValues = 0;
  let evalRows = EVAL_CHUNK;
  if (hp.layers !== undefined) {
    ({ params, state, units, colValues } = layerNetSizes(hp.layers));
    evalRows = predictRows({ inputSize: 784, layers: parseLayerList(hp.layers).layers, dtype: "float64" });
  }
  else for (let l = 1; l < sizes.length; l++) params += sizes[l - 1] * sizes[l] + sizes[l];
  const slots = slotCount(hp.optimizer);
  const best = hp.earlyStop !== undefined ? 1 : 0;
  const bytes = 8; // float64: the reference arrays, and the kernels' widest dtype
  // parameters, gradients, optimizer slots, the best weights, the kernels' copy, a checkpoint snapshot
  const paramCopies = 2 + slots + best + 2;
  // activations and their gradients for one minibatch (pre- and post-activation, back-propagated)
  const batchBytes = hp.batchSize * (units * 3 + 784) * bytes + colValues * bytes;
  // --augment: the augmented copy of a batch, its bytes and labels
  const augmentBytes = hp.augment ? hp.batchSize * 785 : 0;
  const evalBytes = evalRows * units * 2 * bytes + colValues * bytes;
  const wasmBytes = params * bytes * 3 + batchBytes + evalBytes + DATA_BYTES;
  // the parameters, each optimizer slot and the best weights; a shuffle permutation of the training
  // set; counters, accuracies and the generator's state
  const checkpointNumbers = params * (1 + slots + best) + state * (1 + best) + 60_000 + 1000;
  return {
    params,
    // each worker holds a copy of the network and its evaluation chunk
    memoryBytes: params * bytes * paramCopies + batchBytes + augmentBytes + DATA_BYTES + threads * (params * bytes + evalBytes + WORKER_BYTES),
    wasmBytes,
    modelJsonBytes: (params + state) * JSON_NUMBER_BYTES + 64 * 1024,
    checkpointNumbers,
    checkpointJsonBytes: checkpointNumbers * JSON_NUMBER_BYTES + 64 * 1024,
  };
}

/** Describe the network for messages: "784-100-10 (79,510 parameters)", or "layer net (…)". */
export function describeSize(hp: Pick<Hyperparameters, "hiddenSize" | "layers">, params: number): string {
  // (grouped by hand: the first toLocaleString of a process loads ICU's data, ≈ 50 ms at every run's start)
  const grouped = String(params).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${hp.layers !== undefined ? "layer" : layerSizes(hp).join("-")} net (${grouped} parameters)`;
}

export const gb = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GB`;
export const mb = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MB`;
