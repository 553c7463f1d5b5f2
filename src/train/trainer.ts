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
import { EvalPool } from "../engine/eval-pool.js";
import { fastKernelsAvailable, FastNet, PREDICT_CHUNK } from "../engine/fast-net.js";
import { LossPipeline } from "../engine/loss-pipeline.js";
import { Rng, type RngState } from "../book/rng.js";
import type { MnistSplit } from "../data/mnist.js";
import { FastMlp } from "../engine/fast-mlp.js";
import { MultiLayerNet } from "../reference/multi-layer-net.js";
import { NumericalGradientPool } from "../engine/numerical-gradient-pool.js";
import { TwoLayerNet, type Grads } from "../reference/two-layer-net.js";
import { accuracyOnSplit, gatherBatch } from "./evaluate.js";
import { hiddenSizes, isBookNet, type ResolvedHyperparameters } from "./hyperparameters.js";
import { Optimizer, type OptimizerConfig, type OptimizerState } from "../reference/optimizers.js";
import { scheduledLr } from "./schedule.js";

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
  /** Accuracy on the held-out validation images (with valSize). */
  valAccuracy?: number;
  /** Seconds since training started. */
  elapsedS: number;
}

export interface TrainResult {
  /** The book's TwoLayerNet, or an MultiLayerNet when a beyond-chapter-4 option is set (see isBookNet). */
  net: TwoLayerNet | MultiLayerNet;
  /** Number of iterations completed. */
  iterations: number;
  finalLoss: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** With valSize: validation accuracy of the final (with earlyStop: restored best) weights. */
  valAccuracy?: number;
  /** With earlyStop, when it stopped the run: where, and the evaluation whose weights were restored. */
  earlyStopped?: { iteration: number; bestIteration: number; bestValAccuracy: number };
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
  /** Copies of the parameters (W1, b1, W2, b2 for the book's net; W1…Wn, b1…bn for an MultiLayerNet). */
  params: Record<string, Float64Array>;
  /** Last validation accuracy (NaN when none). */
  valAccuracy?: number;
  /** Optimizer slots (momentum, Adam moments, …) and step count. */
  optimizer?: OptimizerState;
  /** --sampling shuffle: this epoch's permutation and the position of the next batch in it. */
  sampler?: { order: Int32Array; pos: number };
  /** --early-stop: the best evaluation so far and the evaluations since without improvement. */
  best?: { valAccuracy: number; iteration: number; params: Record<string, Float64Array>; bad: number };
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
export function initialNet(inputSize: number, outputSize: number, hp: ResolvedHyperparameters, rng: Rng): TwoLayerNet | MultiLayerNet {
  if (isBookNet(hp)) return new TwoLayerNet(inputSize, hiddenSizes(hp)[0], outputSize, { weightInitStd: hp.weightInitStd, rng });
  return new MultiLayerNet([inputSize, ...hiddenSizes(hp), outputSize], {
    activation: hp.activation,
    init: hp.init,
    weightInitStd: hp.weightInitStd,
    weightDecay: hp.weightDecay,
    dropout: hp.dropout,
    rng,
  });
}

/** The optimizer settings of a run (the book's defaults for what is missing). */
export function optimizerConfig(hp: Partial<ResolvedHyperparameters>): OptimizerConfig {
  return { optimizer: hp.optimizer ?? "sgd", momentum: hp.momentum ?? 0.9, rmsDecay: hp.rmsDecay ?? 0.99, beta1: hp.beta1 ?? 0.9, beta2: hp.beta2 ?? 0.999 };
}

const copyParams = (p: Record<string, Float64Array>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.slice()]));

/** How an MultiLayerNet run computes: the fast float32 kernels or the reference float64 MultiLayerNet. */
interface MlpDriver {
  step(indices: Int32Array, lr: number): number;
  accuracy(splits: MnistSplit[]): number[];
  /** Bring net.params up to date. */
  sync(): void;
  /** Load net.params into the driver. */
  load(): void;
  optimizerState(): OptimizerState;
  setOptimizerState(s: OptimizerState): void;
}

function mlpDriver(net: MultiLayerNet, hp: ResolvedHyperparameters, trainSet: MnistSplit, rng: Rng, fastKernels: boolean): MlpDriver {
  const B = hp.batchSize;
  const cfg = optimizerConfig(hp);
  if (fastKernels) {
    const fast = new FastMlp(
      { sizes: net.sizes, activation: net.activation, weightDecay: net.weightDecay, dropout: net.dropout, optimizer: cfg },
      Math.max(B, PREDICT_CHUNK),
    );
    fast.setParams(net.params);
    fast.keepTrainingImages(trainSet.images);
    const scratch = new Int32Array(PREDICT_CHUNK);
    return {
      step: (indices, lr) => fast.trainStep(trainSet.images, trainSet.labels, indices, lr, rng),
      accuracy: (splits) =>
        splits.map((s) => {
          let correct = 0;
          for (let c = 0; c < s.count; c += scratch.length) {
            const n = Math.min(scratch.length, s.count - c);
            fast.predictRange(s.images, c, n, scratch);
            for (let r = 0; r < n; r++) if (scratch[r] === s.labels[c + r]) correct++;
          }
          return correct / s.count;
        }),
      sync: () => fast.getParams(net.params),
      load: () => fast.setParams(net.params),
      optimizerState: () => fast.getOptimizerState(),
      setOptimizerState: (st) => fast.setOptimizerState(st),
    };
  }
  // the reference: float64 MultiLayerNet on normalized batches
  const D = net.inputSize;
  const x = new Float64Array(B * D);
  const t = new Uint8Array(B);
  const sizes: Record<string, number> = {};
  for (const name of net.paramNames) sizes[name] = net.params[name].length;
  const opt = new Optimizer(cfg, sizes, "float64");
  return {
    step: (indices, lr) => {
      gatherBatch(trainSet, indices, x, t);
      const masks = net.dropoutMasks(B, rng);
      const grads = net.gradient(x, t, masks);
      const loss = net.loss(x, t, masks);
      opt.begin(lr);
      for (const name of net.paramNames) opt.update(name, net.params[name], grads[name], lr);
      return loss;
    },
    accuracy: (splits) => splits.map((s) => accuracyOnSplit(net, s)),
    sync: () => {},
    load: () => {},
    optimizerState: () => opt.getState(),
    setOptimizerState: (st) => opt.setState(st),
  };
}

export async function train(data: TrainData, hp: ResolvedHyperparameters, options: TrainOptions = {}): Promise<TrainResult> {
  const listeners = options.listeners ?? [];
  const emit = <K extends keyof TrainListener>(kind: K, e: Parameters<NonNullable<TrainListener[K]>>[0]) => {
    for (const l of listeners) (l[kind] as ((e: unknown) => void) | undefined)?.call(l, e);
  };
  const trainAll = limitSplit(data.train, hp.trainLimit);
  const valSize = hp.valSize ?? 0;
  if (valSize >= trainAll.count) throw new RangeError(`valSize ${valSize} leaves no training images (of ${trainAll.count})`);
  if (hp.earlyStop !== undefined && valSize === 0) throw new RangeError("earlyStop needs a validation set (valSize)");
  // The validation images are the last valSize training images; the test set is never looked at to choose anything.
  const trainSet = valSize > 0 ? limitSplit(trainAll, trainAll.count - valSize) : trainAll;
  const valSet = valSize > 0 ? tailSplit(trainAll, valSize) : undefined;
  const testSet = limitSplit(data.test, hp.testLimit);
  const D = trainSet.rows * trainSet.cols;
  const rng = new Rng(hp.seed);
  const resume = options.resumeFrom;
  const net = initialNet(D, 10, hp, rng);
  if (resume) restoreParams(net.params as Record<string, Float64Array>, resume.params, rng, resume);
  const B = hp.batchSize;
  const shuffle = hp.sampling === "shuffle";
  if (shuffle && B > trainSet.count) throw new RangeError(`--sampling shuffle needs batchSize ≤ the ${trainSet.count} training images`);
  const itersPerEpoch = defaultEvalEvery(trainSet.count, B);
  const t = new Uint8Array(B); // [B] its labels
  const indices = new Int32Array(B);
  const yieldEveryMs = options.yieldEveryMs ?? 50;
  const checkpointEvery = options.checkpointEvery ?? 0;
  const dtype = hp.dtype ?? "float32";
  const book = net instanceof TwoLayerNet ? net : undefined;
  const mlp = net instanceof MultiLayerNet ? net : undefined;
  if (mlp && hp.grad === "numerical") throw new RangeError("--grad numerical is for the book's two-layer net only");
  const kernels = options.kernels ?? "fast";
  // float64 without built kernels falls back to the reference kernels: the same results, slower
  const useFast = !!book && hp.grad === "analytic" && kernels === "fast" && (dtype === "float32" || fastKernelsAvailable(dtype));
  const fast = useFast && book ? new FastNet(dtype, D, book.hiddenSize, book.outputSize, Math.max(B, PREDICT_CHUNK)) : undefined;
  fast?.setParams(book!.params);
  const x = new Float64Array(book && !fast ? B * D : 0); // [B × D] the minibatch, normalized (reference path)
  const threads = options.threads ?? availableParallelism();
  const evalSplits = valSet ? [trainSet, testSet, valSet] : [trainSet, testSet];
  const pool = fast ? new EvalPool(fast, dtype, evalSplits, threads) : undefined;
  const trainImages = pool ? pool.split(0).images : trainSet.images;
  fast?.keepImages(trainImages);
  // The MultiLayerNet: float32 on the fast kernels; float64 (or kernels: "reference") on the reference MultiLayerNet.
  const driver = mlp ? mlpDriver(mlp, hp, trainSet, rng, kernels === "fast" && dtype === "float32") : undefined;
  const optimizer = book ? undefined : driver;
  if (resume?.optimizer && optimizer) optimizer.setOptimizerState(resume.optimizer);
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
  let valAccuracy = resume?.valAccuracy ?? Number.NaN;
  let evaluatedAt = resume?.evaluatedAt ?? -1;
  let diverged: TrainResult["diverged"];
  let earlyStopped: TrainResult["earlyStopped"];
  let i = resume?.iteration ?? 0;
  const sampler = shuffle ? (resume?.sampler ? { order: resume.sampler.order.slice(), pos: resume.sampler.pos } : { order: new Int32Array(0), pos: 0 }) : undefined;
  // With a second thread, the book's loss pass of iteration i runs there during iteration i + 1
  // (with-replacement sampling: a late divergence or stop undoes one draw by restoring the generator).
  const pipeline =
    fast && pool && threads > 1 && !sampler ? new LossPipeline(fast, dtype, trainImages, pool.split(0).labels, B, options.lossThread) : undefined;
  let best = resume?.best ? { ...resume.best, params: copyParams(resume.best.params) } : undefined;
  const syncParams = () => {
    fast?.getParams(book!.params);
    driver?.sync();
  };
  const loadParams = () => {
    if (fast) fast.setParams(book!.params);
    driver?.load();
  };
  const evaluate = async (iteration: number) => {
    let acc: number[];
    if (pool) acc = await pool.accuracy(evalSplits.map((_, k) => k));
    else if (driver) acc = driver.accuracy(evalSplits);
    else acc = evalSplits.map((s) => accuracyOnSplit(book!, s));
    [trainAccuracy, testAccuracy] = acc;
    if (valSet) valAccuracy = acc[2];
    evaluatedAt = iteration;
    emit("epoch", {
      epoch: epoch++,
      iteration,
      trainAccuracy,
      testAccuracy,
      ...(valSet ? { valAccuracy } : {}),
      elapsedS: (performance.now() - t0) / 1000,
    });
  };
  const snapshot = (): TrainState => {
    syncParams();
    return {
      iteration: i,
      epoch,
      evaluatedAt,
      finalLoss,
      trainAccuracy,
      testAccuracy,
      elapsedS: (performance.now() - t0) / 1000,
      rng: rng.getState(),
      params: copyParams(net.params as Record<string, Float64Array>),
      ...(valSet ? { valAccuracy } : {}),
      ...(optimizer && hp.optimizer !== "sgd" ? { optimizer: optimizer.optimizerState() } : {}),
      ...(sampler ? { sampler: { order: sampler.order.slice(), pos: sampler.pos } } : {}),
      ...(best ? { best: { ...best, params: copyParams(best.params) } } : {}),
    };
  };
  /** This iteration's batch: with replacement (the book), or the next slice of a per-epoch permutation. */
  const drawBatch = () => {
    if (!sampler) {
      rng.choice(trainSet.count, B, indices);
      return;
    }
    if (sampler.order.length === 0 || sampler.pos + B > sampler.order.length) {
      // a new epoch: Fisher-Yates shuffle of 0..count−1
      const order = sampler.order.length ? sampler.order : new Int32Array(trainSet.count);
      for (let k = 0; k < order.length; k++) order[k] = k;
      for (let k = order.length - 1; k > 0; k--) {
        const j = rng.int(k + 1);
        const tmp = order[k];
        order[k] = order[j];
        order[j] = tmp;
      }
      sampler.order = order;
      sampler.pos = 0;
    }
    indices.set(sampler.order.subarray(sampler.pos, sampler.pos + B));
    sampler.pos += B;
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
      const lr = scheduledLr(hp.lrSchedule ?? "constant", hp.lr, i, hp.iters, (hp.lrStepEpochs ?? 10) * itersPerEpoch, hp.lrGamma ?? 0.1);
      if (pending >= 0) beforeDraw = rng.getState();
      drawBatch();
      let deferred = false;
      if (driver) {
        finalLoss = driver.step(indices, lr);
      } else if (pipeline) {
        fast!.step(trainImages, trainSet.labels, indices, lr);
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
        finalLoss = fast.trainStep(trainImages, trainSet.labels, indices, lr);
      } else {
        gatherBatch(trainSet, indices, x, t);
        const grads: Grads =
          hp.grad === "analytic" ? book!.gradient(x, t) : numerical ? await numerical.gradient(book!, x, t) : book!.numericalGradient(x, t);
        book!.sgdStep(grads, lr);
        finalLoss = book!.loss(x, t);
      }
      if (!deferred) {
        emit("iteration", { iteration: i, loss: finalLoss });
        if (!Number.isFinite(finalLoss)) {
          // Once NaN/Infinity is in the weights it never leaves: stop now, evaluate nothing.
          diverged = { iteration: i, loss: finalLoss };
          i++;
          break;
        }
        if (i % hp.evalEvery === 0) {
          await evaluate(i);
          if (hp.earlyStop !== undefined) {
            if (!best || valAccuracy > best.valAccuracy) {
              syncParams();
              best = { valAccuracy, iteration: i, params: copyParams(net.params as Record<string, Float64Array>), bad: 0 };
            } else if (++best.bad >= hp.earlyStop) {
              earlyStopped = { iteration: i, bestIteration: best.iteration, bestValAccuracy: best.valAccuracy };
              i++;
              break;
            }
          }
        }
        i++;
        if (checkpointEvery > 0 && i % checkpointEvery === 0 && i < hp.iters) emit("checkpoint", snapshot());
      }
      const now = performance.now();
      if (now - lastYield >= yieldEveryMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    interrupted = i < hp.iters && !diverged && !earlyStopped;
    // The state before any final evaluation: resuming from it replays exactly what an uninterrupted run does.
    state = snapshot();
    const finalEval = !interrupted && !diverged && i > 0;
    if (finalEval && best && hp.earlyStop !== undefined) {
      // early stopping returns the best weights seen on the validation set; the last evaluation is theirs
      if (!(best.iteration === evaluatedAt && evaluatedAt === i - 1)) {
        for (const [name, v] of Object.entries(best.params)) (net.params as Record<string, Float64Array>)[name].set(v);
        loadParams();
        await evaluate(i - 1);
      }
    } else if (finalEval && evaluatedAt !== i - 1) await evaluate(i - 1);
  } finally {
    await numerical?.close();
    await pipeline?.close();
    await pool?.close();
  }
  syncParams();
  const completed = i;
  const result: TrainResult = {
    net,
    iterations: completed,
    finalLoss,
    trainAccuracy,
    testAccuracy,
    ...(valSet ? { valAccuracy } : {}),
    ...(earlyStopped ? { earlyStopped } : {}),
    wallTimeS: (performance.now() - t0) / 1000,
    interrupted,
    ...(diverged ? { diverged } : {}),
    state,
  };
  emit("done", result);
  return result;
}

/** A resumed run: the checkpoint's parameters, and the generator where it stopped. */
function restoreParams(params: Record<string, Float64Array>, saved: Record<string, Float64Array>, rng: Rng, state: TrainState): void {
  for (const name of Object.keys(params)) {
    if (!saved[name] || saved[name].length !== params[name].length) {
      throw new RangeError(`resume state: ${name} has ${saved[name]?.length ?? 0} values, expected ${params[name].length}`);
    }
    params[name].set(saved[name]);
  }
  rng.setState(state.rng);
}

/** The first `limit` examples of a split (views, no copies). */
export function limitSplit(split: MnistSplit, limit?: number): MnistSplit {
  if (limit === undefined || limit >= split.count) return split;
  const D = split.rows * split.cols;
  return { ...split, count: limit, images: split.images.subarray(0, limit * D), labels: split.labels.subarray(0, limit) };
}

/** The last `count` examples of a split (views). */
export function tailSplit(split: MnistSplit, count: number): MnistSplit {
  const D = split.rows * split.cols;
  const from = split.count - count;
  return { ...split, count, images: split.images.subarray(from * D), labels: split.labels.subarray(from) };
}
