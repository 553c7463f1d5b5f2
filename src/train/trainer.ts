/**
 * The training loop as a library: the book's minibatch SGD (ch04/train_neuralnet.py). It emits
 * events to its listeners and does no printing or file I/O; the CLI's reporters subscribe.
 *
 * Per iteration i (0-based, as in the book): draw batchSize indices with replacement, compute the
 * gradient, update, then record the loss of the updated network on the same batch (the book's
 * extra forward pass; with threads > 1 on the fast path it may run on a worker during iteration
 * i + 1, its event then coming one iteration late, still in order and before any evaluation or
 * checkpoint). When i % evalEvery === 0 (i = 0 included), accuracy over the training and
 * test sets. If the last iteration is not such a point, one more evaluation follows it, so the
 * final model's accuracy is always reported.
 *
 * Robustness: a non-finite loss stops the run at once (`diverged` in the result); an abort stops it
 * after the iteration in progress with no final evaluation, so that a run resumed from the
 * returned `state` (options.resumeFrom) continues the exact same computation: same RNG stream,
 * parameters, iteration and evaluation counters, hence bit-identical parameters and CSV rows.
 */
import { availableParallelism } from "node:os";
import { EvalPool } from "../core/eval-pool.js";
import { fastKernelsAvailable, FastNet, PREDICT_CHUNK } from "../core/fast-net.js";
import { LossPipeline } from "../core/loss-pipeline.js";
import { Rng, type RngState } from "../core/rng.js";
import type { MnistSplit } from "../data/mnist.js";
import { NumericalGradientPool } from "../model/numerical-gradient-pool.js";
import { PARAM_NAMES, TwoLayerNet, type Grads, type Params } from "../model/two-layer-net.js";
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
  /** Set when the loss became NaN or infinite: training stopped after that iteration. */
  diverged?: { iteration: number; loss: number };
  /**
   * The state after the last completed iteration, before any final evaluation: what a checkpoint
   * stores to resume an interrupted run.
   */
  state: TrainState;
}

/** Everything needed to continue a run exactly where it stopped (a checkpoint's contents). */
export interface TrainState {
  /** Iterations completed: the next iteration to run. */
  iteration: number;
  /** Evaluations emitted so far: the index of the next one. */
  epoch: number;
  /** Iteration of the last evaluation (-1 when none). */
  evaluatedAt: number;
  /** Loss of the last completed iteration (NaN when none). */
  finalLoss: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Seconds of training so far (added to on resume, so elapsed times continue). */
  elapsedS: number;
  rng: RngState;
  /** Copies of the parameters. */
  params: Params;
}

export interface TrainListener {
  start?(e: { totalIterations: number; trainSize: number; testSize: number; hyperparameters: ResolvedHyperparameters }): void;
  iteration?(e: IterationEvent): void;
  epoch?(e: EpochEvent): void;
  done?(e: TrainResult): void;
  /** Every `checkpointEvery` completed iterations: a snapshot (copies) to store. */
  checkpoint?(e: TrainState): void;
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
  /** Continue from a state returned in TrainResult.state or passed to a `checkpoint` listener. */
  resumeFrom?: TrainState;
  /** Emit a `checkpoint` event every N completed iterations (never at the last one). */
  checkpointEvery?: number;
  /**
   * --grad numerical: the fast incremental gradient, or with `naive: true` the book's loop (two
   * forward passes per parameter; very slow).
   */
  numerical?: { naive?: boolean };
  /**
   * Threads for the accuracy passes, the book's loss pass (fast path: run on a worker during the
   * next iteration when that is measured faster) and the numerical gradient (default: every core);
   * results do not depend on it.
   */
  threads?: number;
  /** The loss pass on a worker: `auto` (default) when measured faster, `always` whenever it may (for tests). */
  lossThread?: "auto" | "always";
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
  const resume = options.resumeFrom;
  const net = resume ? restoredNet(D, 10, hp, rng, resume) : initialNet(D, 10, hp, rng);
  const B = hp.batchSize;
  const t = new Uint8Array(B); // [B] its labels
  const indices = new Int32Array(B);
  const yieldEveryMs = options.yieldEveryMs ?? 50;
  const checkpointEvery = options.checkpointEvery ?? 0;
  const dtype = hp.dtype ?? "float32";
  // float64 without built kernels falls back to the reference kernels: the same results, slower
  const useFast = hp.grad === "analytic" && (options.kernels ?? "fast") === "fast" && (dtype === "float32" || fastKernelsAvailable(dtype));
  const fast = useFast ? new FastNet(dtype, D, net.hiddenSize, net.outputSize, Math.max(B, PREDICT_CHUNK)) : undefined;
  fast?.setParams(net.params);
  const x = new Float64Array(fast ? 0 : B * D); // [B × D] the minibatch, normalized (reference path)
  const threads = options.threads ?? availableParallelism();
  const pool = fast ? new EvalPool(fast, dtype, [trainSet, testSet], threads) : undefined;
  const trainImages = pool ? pool.split(0).images : trainSet.images;
  fast?.keepTrainingImages(trainImages);
  // With a second thread, the book's loss pass of iteration i runs there during iteration i + 1.
  const pipeline = fast && pool && threads > 1 ? new LossPipeline(fast, dtype, trainImages, pool.split(0).labels, B, options.lossThread) : undefined;
  // One worker pool for the whole run; idle workers do not keep the process alive after an error.
  const numerical =
    hp.grad === "numerical" && !options.numerical?.naive ? new NumericalGradientPool(threads) : undefined;

  emit("start", { totalIterations: hp.iters, trainSize: trainSet.count, testSize: testSet.count, hyperparameters: hp });
  // Elapsed time continues from the checkpoint's.
  const t0 = performance.now() - (resume?.elapsedS ?? 0) * 1000;
  let lastYield = performance.now();
  let epoch = resume?.epoch ?? 0;
  let finalLoss = resume?.finalLoss ?? Number.NaN;
  let trainAccuracy = resume?.trainAccuracy ?? Number.NaN;
  let testAccuracy = resume?.testAccuracy ?? Number.NaN;
  let evaluatedAt = resume?.evaluatedAt ?? -1;
  let diverged: TrainResult["diverged"];
  let i = resume?.iteration ?? 0;
  const evaluate = async (iteration: number) => {
    if (pool) [trainAccuracy, testAccuracy] = await pool.accuracy([0, 1]);
    else {
      trainAccuracy = accuracyOnSplit(net, trainSet);
      testAccuracy = accuracyOnSplit(net, testSet);
    }
    evaluatedAt = iteration;
    emit("epoch", { epoch: epoch++, iteration, trainAccuracy, testAccuracy, elapsedS: (performance.now() - t0) / 1000 });
  };
  const snapshot = (): TrainState => {
    fast?.getParams(net.params);
    return {
      iteration: i,
      epoch,
      evaluatedAt,
      finalLoss,
      trainAccuracy,
      testAccuracy,
      elapsedS: (performance.now() - t0) / 1000,
      rng: rng.getState(),
      params: { W1: net.params.W1.slice(), b1: net.params.b1.slice(), W2: net.params.W2.slice(), b2: net.params.b2.slice() },
    };
  };

  // Pipelined loss (threads > 1): iteration `pending` has been posted to the worker and its event
  // is not emitted yet; `beforeDraw` is the generator's state before the next iteration's draw.
  // Iterations that are followed by an evaluation or a checkpoint, and the last, compute their
  // loss here, after taking the pending one, so events and snapshots come as without the worker.
  let pending = -1;
  let beforeDraw: RngState | undefined;
  /**
   * Take the pending loss and emit its iteration. When that loss is not finite or a stop was
   * requested, return true: the run stops after the pending iteration, and if the next
   * iteration has already been computed (`stepped`) its update and draw are undone.
   */
  const settle = async (stepped: boolean): Promise<boolean> => {
    if (pending < 0) return false;
    const it = pending;
    pending = -1;
    finalLoss = await pipeline!.take();
    emit("iteration", { iteration: it, loss: finalLoss });
    const divergedNow = !Number.isFinite(finalLoss);
    if (divergedNow) diverged = { iteration: it, loss: finalLoss };
    if (!divergedNow && !options.signal?.aborted) return false;
    if (stepped) {
      pipeline!.restore();
      rng.setState(beforeDraw!);
    }
    i = it + 1;
    return true;
  };

  let interrupted = false;
  let state: TrainState;
  try {
    while (i < hp.iters) {
      if (options.signal?.aborted) {
        await settle(false);
        break;
      }
      if (pending >= 0) beforeDraw = rng.getState();
      rng.choice(trainSet.count, B, indices);
      let deferred = false;
      if (pipeline) {
        fast!.step(trainImages, trainSet.labels, indices, hp.lr);
        const needed = i % hp.evalEvery === 0 || i === hp.iters - 1 || (checkpointEvery > 0 && (i + 1) % checkpointEvery === 0);
        const here = !pipeline.defer(!needed);
        const loss = here ? fast!.loss(trainSet.labels, indices) : Number.NaN;
        if (await settle(true)) break;
        if (here) finalLoss = loss;
        else {
          pipeline.post(indices);
          pending = i++;
          deferred = true;
        }
      } else if (fast) {
        finalLoss = fast.trainStep(trainImages, trainSet.labels, indices, hp.lr);
      } else {
        gatherBatch(trainSet, indices, x, t);
        const grads: Grads =
          hp.grad === "analytic" ? net.gradient(x, t) : numerical ? await numerical.gradient(net, x, t) : net.numericalGradient(x, t);
        net.sgdStep(grads, hp.lr);
        finalLoss = net.loss(x, t);
      }
      if (!deferred) {
        emit("iteration", { iteration: i, loss: finalLoss });
        if (!Number.isFinite(finalLoss)) {
          // Once NaN/Infinity is in the weights it never leaves: stop now, evaluate nothing.
          diverged = { iteration: i, loss: finalLoss };
          i++;
          break;
        }
        if (i % hp.evalEvery === 0) await evaluate(i);
        i++;
        if (checkpointEvery > 0 && i % checkpointEvery === 0 && i < hp.iters) emit("checkpoint", snapshot());
      }
      const now = performance.now();
      if (now - lastYield >= yieldEveryMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    interrupted = i < hp.iters && !diverged;
    // The state before any final evaluation: resuming from it replays exactly what an uninterrupted run does.
    state = snapshot();
    if (!interrupted && !diverged && i > 0 && evaluatedAt !== i - 1) await evaluate(i - 1);
  } finally {
    await numerical?.close();
    await pipeline?.close();
    await pool?.close();
  }
  const completed = i;
  const result: TrainResult = {
    net,
    iterations: completed,
    finalLoss,
    trainAccuracy,
    testAccuracy,
    wallTimeS: (performance.now() - t0) / 1000,
    interrupted,
    ...(diverged ? { diverged } : {}),
    state,
  };
  emit("done", result);
  return result;
}

/** The network of a resumed run: the checkpoint's parameters, and the generator where it stopped. */
function restoredNet(inputSize: number, outputSize: number, hp: ResolvedHyperparameters, rng: Rng, state: TrainState): TwoLayerNet {
  const net = new TwoLayerNet(inputSize, hp.hiddenSize, outputSize, { weightInitStd: 0 });
  for (const name of PARAM_NAMES) {
    if (state.params[name].length !== net.params[name].length) {
      throw new RangeError(`resume state: ${name} has ${state.params[name].length} values, expected ${net.params[name].length}`);
    }
    net.params[name].set(state.params[name]);
  }
  rng.setState(state.rng);
  return net;
}

/** The first `limit` examples of a split (views, no copies). */
export function limitSplit(split: MnistSplit, limit?: number): MnistSplit {
  if (limit === undefined || limit >= split.count) return split;
  const D = split.rows * split.cols;
  return { ...split, count: limit, images: split.images.subarray(0, limit * D), labels: split.labels.subarray(0, limit) };
}
