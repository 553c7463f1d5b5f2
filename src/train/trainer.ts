/**
 * The training loop as a library: the book's minibatch SGD (ch04/train_neuralnet.py). It emits
 * events to its listeners and does no printing or file I/O; the CLI's reporters subscribe.
 *
 * Per iteration i (0-based, as in the book): draw batchSize indices with replacement, compute the
 * gradient, update, then record the loss of the updated network on the same batch (the book's
 * extra forward pass). When i % evalEvery === 0 (i = 0 included), accuracy over the training and
 * test sets. If the last iteration is not such a point, one more evaluation follows it, so the
 * final model's accuracy is always reported.
 */
import { EvalPool } from "../core/eval-pool.js";
import { fastKernelsAvailable, FastNet, PREDICT_CHUNK } from "../core/fast-net.js";
import { Rng } from "../core/rng.js";
import type { MnistSplit } from "../data/mnist.js";
import { TwoLayerNet, type Grads } from "../model/two-layer-net.js";
import { accuracyOnSplit, gatherBatch } from "./evaluate.js";
import type { ResolvedHyperparameters } from "./hyperparameters.js";

export interface IterationEvent {
  iteration: number;
  loss: number;
}

export interface EpochEvent {
  /** Index of this evaluation: 0 at iteration 0, then one per evalEvery iterations. */
  epoch: number;
  iteration: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Seconds since training started. */
  elapsedS: number;
}

export interface TrainResult {
  net: TwoLayerNet;
  /** Number of iterations completed. */
  iterations: number;
  finalLoss: number;
  trainAccuracy: number;
  testAccuracy: number;
  wallTimeS: number;
  /** True when a stop was requested (signal) before all iterations ran. */
  interrupted: boolean;
}

export interface TrainListener {
  start?(e: { totalIterations: number; trainSize: number; testSize: number; hyperparameters: ResolvedHyperparameters }): void;
  iteration?(e: IterationEvent): void;
  epoch?(e: EpochEvent): void;
  done?(e: TrainResult): void;
}

export interface TrainData {
  train: MnistSplit;
  test: MnistSplit;
}

export interface TrainOptions {
  listeners?: TrainListener[];
  /** Aborting stops the run after the iteration in progress. */
  signal?: AbortSignal;
  /** How often the loop yields to the event loop (ms), so timers, progress bars and signals run. */
  yieldEveryMs?: number;
  /**
   * `fast` (default for analytic gradients): the WebAssembly kernels in hp.dtype (float64: bit for
   * bit the reference run). `reference`: the plain float64 TypeScript kernels.
   */
  kernels?: "fast" | "reference";
}

/** One epoch = max(floor(trainSize / batchSize), 1) iterations (the book's iter_per_epoch). */
export function defaultEvalEvery(trainSize: number, batchSize: number): number {
  return Math.max(Math.floor(trainSize / batchSize), 1);
}

/** The network a run starts from: the book's init, drawing from the run's generator. */
export function initialNet(inputSize: number, outputSize: number, hp: ResolvedHyperparameters, rng: Rng): TwoLayerNet {
  return new TwoLayerNet(inputSize, hp.hiddenSize, outputSize, { weightInitStd: hp.weightInitStd, rng });
}

export async function train(data: TrainData, hp: ResolvedHyperparameters, options: TrainOptions = {}): Promise<TrainResult> {
  const listeners = options.listeners ?? [];
  const emit = <K extends keyof TrainListener>(kind: K, e: Parameters<NonNullable<TrainListener[K]>>[0]) => {
    for (const l of listeners) (l[kind] as ((e: unknown) => void) | undefined)?.call(l, e);
  };
  const trainSet = limitSplit(data.train, hp.trainLimit);
  const testSet = limitSplit(data.test, hp.testLimit);
  const D = trainSet.rows * trainSet.cols;
  const rng = new Rng(hp.seed);
  const net = initialNet(D, 10, hp, rng);
  const B = hp.batchSize;
  const t = new Uint8Array(B); // [B] its labels
  const indices = new Int32Array(B);
  const yieldEveryMs = options.yieldEveryMs ?? 50;
  const dtype = hp.dtype ?? "float32";
  // float64 without built kernels falls back to the reference kernels: the same results, slower
  const useFast = hp.grad === "analytic" && (options.kernels ?? "fast") === "fast" && (dtype === "float32" || fastKernelsAvailable(dtype));
  const fast = useFast ? new FastNet(dtype, D, net.hiddenSize, net.outputSize, Math.max(B, PREDICT_CHUNK)) : undefined;
  fast?.setParams(net.params);
  const x = new Float64Array(fast ? 0 : B * D); // [B × D] the minibatch, normalized (reference path)
  const pool = fast ? new EvalPool(fast, dtype, [trainSet, testSet], hp.threads ?? 1) : undefined;
  const trainImages = pool ? pool.split(0).images : trainSet.images;
  fast?.keepTrainingImages(trainImages);

  emit("start", { totalIterations: hp.iters, trainSize: trainSet.count, testSize: testSet.count, hyperparameters: hp });
  const t0 = performance.now();
  let lastYield = t0;
  let epoch = 0;
  let finalLoss = Number.NaN;
  let trainAccuracy = Number.NaN;
  let testAccuracy = Number.NaN;
  let evaluatedAt = -1;
  let i = 0;
  const evaluate = async (iteration: number) => {
    if (pool) [trainAccuracy, testAccuracy] = await pool.accuracy([0, 1]);
    else {
      trainAccuracy = accuracyOnSplit(net, trainSet);
      testAccuracy = accuracyOnSplit(net, testSet);
    }
    evaluatedAt = iteration;
    emit("epoch", { epoch: epoch++, iteration, trainAccuracy, testAccuracy, elapsedS: (performance.now() - t0) / 1000 });
  };

  let completed = 0;
  try {
    for (; i < hp.iters; i++) {
      if (options.signal?.aborted) break;
      rng.choice(trainSet.count, B, indices);
      if (fast) {
        finalLoss = fast.trainStep(trainImages, trainSet.labels, indices, hp.lr);
      } else {
        gatherBatch(trainSet, indices, x, t);
        const grads: Grads = hp.grad === "analytic" ? net.gradient(x, t) : net.numericalGradient(x, t);
        net.sgdStep(grads, hp.lr);
        finalLoss = net.loss(x, t);
      }
      emit("iteration", { iteration: i, loss: finalLoss });
      if (i % hp.evalEvery === 0) await evaluate(i);
      const now = performance.now();
      if (now - lastYield >= yieldEveryMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    completed = i;
    fast?.getParams(net.params);
    if (completed > 0 && evaluatedAt !== completed - 1) await evaluate(completed - 1);
  } finally {
    await pool?.close();
  }
  const result: TrainResult = {
    net,
    iterations: completed,
    finalLoss,
    trainAccuracy,
    testAccuracy,
    wallTimeS: (performance.now() - t0) / 1000,
    interrupted: completed < hp.iters,
  };
  emit("done", result);
  return result;
}

/** The first `limit` examples of a split (views, no copies). */
export function limitSplit(split: MnistSplit, limit?: number): MnistSplit {
  if (limit === undefined || limit >= split.count) return split;
  const D = split.rows * split.cols;
  return { ...split, count: limit, images: split.images.subarray(0, limit * D), labels: split.labels.subarray(0, limit) };
}
