/**
 * The training loop as a library: the book's minibatch SGD (ch04 train_neuralnet.py, ch06
 * common/trainer.py). It emits events to its listeners and does no printing or file I/O; the CLI's
 * reporters subscribe. How each step is computed (the engine, the reference nets, the numerical
 * gradient) is chosen in compute.ts; the images and settings' rules are in plan.ts.
 *
 * Per iteration i (0-based, as in the book): draw a batch (sampler.ts), with `augment` replace it
 * by augmented copies of its images (augmentation.ts), take a gradient step, then record the loss:
 * the book's, of the updated network on the same batch with dropout off (`lossPass: "after"`), or
 * with `lossPass: "before"` that of the forward pass that made the gradient. With a second thread
 * (and no augmentation) the book's loss pass may run on a worker during iteration i + 1, its event
 * then coming one iteration late, still in order and before any evaluation or checkpoint.
 * When i % evalEvery === 0 (i = 0 included), accuracy over the training and test sets (and the
 * validation set); if the last iteration is not such a point, one more evaluation follows it.
 *
 * A non-finite loss stops the run at once (`diverged`); an abort stops it after the iteration in
 * progress with no final evaluation, so that a run resumed from the returned `state`
 * (options.resumeFrom) continues the same computation bit for bit.
 */
import { Rng, type RngState } from "../book/rng.js";
import { defaultThreads } from "../engine/threads.js";
import { parseLayerList } from "../reference/layer-spec.js";
import { MultiLayerNet } from "../reference/multi-layer-net.js";
import { buildReferenceNet } from "../reference/net-from-spec.js";
import { SequentialNet } from "../reference/sequential-net.js";
import { TwoLayerNet } from "../reference/two-layer-net.js";
import { BatchAugmenter } from "./augmentation.js";
import { computeFor } from "./compute.js";
import { hiddenSizes, isBookNet, type ResolvedHyperparameters } from "./hyperparameters.js";
import { type OptimizerState } from "../reference/optimizers.js";
import { checkSettings, itersPerEpoch, runSplits } from "./plan.js";
import { Sampler } from "./sampler.js";
import { scheduledLr } from "./schedule.js";
import type { TrainData, TrainedNet, TrainListener, TrainOptions, TrainResult, TrainState } from "./types.js";

export type { EpochEvent, IterationEvent, TrainData, TrainedNet, TrainListener, TrainOptions, TrainResult, TrainState } from "./types.js";

/** One epoch's iterations (the book's iter_per_epoch); see plan.ts. */
export const defaultEvalEvery = itersPerEpoch;

/**
 * The network a run starts from: the book's init, drawing from the run's generator. A `layers`
 * list is a SequentialNet on images of `inputShape` ([1, 28, 28]), its weights drawn layer by
 * layer and its dropout masks drawn from the same generator as training goes (as MultiLayerNet's).
 */
export function initialNet(inputSize: number, outputSize: number, hp: ResolvedHyperparameters, rng: Rng, inputShape: readonly number[] = [1, 28, 28]): TrainedNet {
  if (hp.layers !== undefined) {
    const { layers } = parseLayerList(hp.layers, inputShape, outputSize);
    return buildReferenceNet(layers, rng, { init: hp.init, weightInitStd: hp.weightInitStd, weightDecay: hp.weightDecay, inputShape, classes: outputSize });
  }
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

const copyParams = (p: Record<string, Float64Array>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.slice()]));

export async function train(data: TrainData, hp: ResolvedHyperparameters, options: TrainOptions = {}): Promise<TrainResult> {
  const listeners = options.listeners ?? [];
  const emit = <K extends keyof TrainListener>(kind: K, e: Parameters<NonNullable<TrainListener[K]>>[0]) => {
    for (const l of listeners) (l[kind] as ((e: unknown) => void) | undefined)?.call(l, e);
  };
  checkSettings(hp, data.train.count);
  const { train: trainSet, val: valSet, test: testSet } = runSplits(data, hp);
  const evalSplits = valSet ? [trainSet, testSet, valSet] : [trainSet, testSet];
  const rng = new Rng(hp.seed);
  const resume = options.resumeFrom;
  const net = initialNet(trainSet.rows * trainSet.cols, 10, hp, rng, [1, trainSet.rows, trainSet.cols]);
  const params = net.params as Record<string, Float64Array>;
  /** Batch norm's running statistics (a layer net's), saved and restored with the parameters. */
  const netState = net instanceof SequentialNet && Object.keys(net.state).length > 0 ? net.state : undefined;
  if (resume) restoreParams(params, resume.params, rng, resume, netState);
  const B = hp.batchSize;
  const perEpoch = itersPerEpoch(trainSet.count, B);
  const sampler = new Sampler(hp.sampling ?? "replacement", trainSet.count, B, rng, resume?.sampler);
  const lossBefore = hp.lossPass === "before";
  const checkpointEvery = options.checkpointEvery ?? 0;
  const augmenter = hp.augment
    ? new BatchAugmenter(trainSet, B, hp.seed, { shift: hp.augmentShift ?? 2, rotate: hp.augmentRotate ?? 10, scale: hp.augmentScale ?? 0.1 })
    : undefined;
  const compute = computeFor(net, hp, evalSplits, rng, {
    threads: options.threads ?? defaultThreads(),
    workers: options.workers,
    kernels: options.kernels ?? "fast",
    numerical: options.numerical,
    // the pipelined loss undoes one step on a late stop: with-replacement draws and plain SGD only;
    // it reads the training split by index, so never an augmented batch
    pipelineAllowed: !lossBefore && hp.sampling !== "shuffle" && (hp.optimizer ?? "sgd") === "sgd" && !hp.augment,
    lossThread: options.lossThread,
  });
  const pipeline = compute.pipeline;
  if (resume?.optimizer) compute.setOptimizerState(resume.optimizer);
  const yieldEveryMs = options.yieldEveryMs ?? 50;

  emit("start", { totalIterations: hp.iters, trainSize: trainSet.count, testSize: testSet.count, hyperparameters: hp });
  const t0 = performance.now() - (resume?.elapsedS ?? 0) * 1000; // elapsed time continues from the checkpoint's
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
  let best = resume?.best
    ? { ...resume.best, params: copyParams(resume.best.params), ...(resume.best.netState ? { netState: copyParams(resume.best.netState) } : {}) }
    : undefined;

  const evaluate = async (iteration: number) => {
    const acc = await compute.accuracy();
    [trainAccuracy, testAccuracy] = acc;
    if (valSet) valAccuracy = acc[2];
    evaluatedAt = iteration;
    emit("epoch", {
      evaluation: epoch++,
      epoch: (iteration + 1) / perEpoch,
      iteration,
      trainAccuracy,
      testAccuracy,
      ...(valSet ? { valAccuracy } : {}),
      elapsedS: (performance.now() - t0) / 1000,
    });
  };
  const snapshot = (): TrainState => {
    compute.syncParams();
    return {
      iteration: i,
      epoch,
      evaluatedAt,
      finalLoss,
      trainAccuracy,
      testAccuracy,
      elapsedS: (performance.now() - t0) / 1000,
      rng: rng.getState(),
      params: copyParams(params),
      ...(netState ? { netState: copyParams(netState) } : {}),
      ...(valSet ? { valAccuracy } : {}),
      ...((hp.optimizer ?? "sgd") !== "sgd" ? { optimizer: compute.optimizerState() } : {}),
      ...(sampler.state ? { sampler: sampler.state } : {}),
      ...(best ? { best: { ...best, params: copyParams(best.params), ...(best.netState ? { netState: copyParams(best.netState) } : {}) } } : {}),
    };
  };

  // Pipelined loss (threads > 1): iteration `pending` was posted to the worker and its event is not
  // emitted yet; `beforeDraw` is the generator's state before the next iteration's draw. Iterations
  // followed by an evaluation or a checkpoint, and the last, compute their loss here.
  let pending = -1;
  let beforeDraw: RngState | undefined;
  /** Take the pending loss and emit it; true when the run must stop there (undoing a step already taken when `stepped`). */
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
      const lr = scheduledLr(hp.lrSchedule ?? "constant", hp.lr, i, hp.iters, (hp.lrStepEpochs ?? 10) * perEpoch, hp.lrGamma ?? 0.1);
      if (pending >= 0) beforeDraw = rng.getState();
      const indices = sampler.next();
      const loss = await compute.step(indices, lr, lossBefore, augmenter?.batch(i, indices));
      if (pipeline) {
        const needed = i % hp.evalEvery === 0 || i === hp.iters - 1 || (checkpointEvery > 0 && (i + 1) % checkpointEvery === 0);
        const here = !pipeline.defer(!needed);
        const now = here ? compute.loss(indices) : Number.NaN;
        if (await settle(true)) break;
        if (!here) {
          pipeline.post(indices);
          pending = i++;
          await yieldNow();
          continue;
        }
        finalLoss = now;
      } else finalLoss = lossBefore ? loss : compute.loss(indices);
      emit("iteration", { iteration: i, loss: finalLoss });
      if (!Number.isFinite(finalLoss)) {
        // once NaN/Infinity is in the weights it never leaves: stop now, evaluate nothing
        diverged = { iteration: i, loss: finalLoss };
        i++;
        break;
      }
      if (i % hp.evalEvery === 0) {
        await evaluate(i);
        if (hp.earlyStop !== undefined) {
          if (!best || valAccuracy > best.valAccuracy) {
            compute.syncParams();
            best = { valAccuracy, iteration: i, params: copyParams(params), ...(netState ? { netState: copyParams(netState) } : {}), bad: 0 };
          } else if (++best.bad >= hp.earlyStop) {
            earlyStopped = { iteration: i, bestIteration: best.iteration, bestValAccuracy: best.valAccuracy };
            i++;
            break;
          }
        }
      }
      i++;
      if (checkpointEvery > 0 && i % checkpointEvery === 0 && i < hp.iters) emit("checkpoint", snapshot());
      await yieldNow();
    }
    interrupted = i < hp.iters && !diverged && !earlyStopped;
    // the state before any final evaluation: resuming from it replays what an uninterrupted run does
    state = snapshot();
    const finalEval = !interrupted && !diverged && i > 0;
    if (finalEval && best && hp.earlyStop !== undefined) {
      // early stopping returns the best weights seen on the validation set; the last evaluation is theirs
      if (!(best.iteration === evaluatedAt && evaluatedAt === i - 1)) {
        for (const [name, v] of Object.entries(best.params)) params[name].set(v);
        if (netState && best.netState) for (const [name, v] of Object.entries(best.netState)) netState[name].set(v);
        compute.loadParams();
        await evaluate(i - 1);
      }
    } else if (finalEval && evaluatedAt !== i - 1) await evaluate(i - 1);
  } finally {
    await compute.close();
  }
  compute.syncParams();
  const result: TrainResult = {
    net,
    iterations: i,
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

  /** Let timers, progress bars and signals run every yieldEveryMs. */
  async function yieldNow(): Promise<void> {
    if (performance.now() - lastYield < yieldEveryMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    lastYield = performance.now();
  }
}

/** A resumed run: the checkpoint's parameters (and batch-norm statistics), and the generator where it stopped. */
function restoreParams(params: Record<string, Float64Array>, saved: Record<string, Float64Array>, rng: Rng, state: TrainState, netState?: Record<string, Float64Array>): void {
  const restore = (into: Record<string, Float64Array>, from: Record<string, Float64Array> | undefined) => {
    for (const name of Object.keys(into)) {
      if (!from?.[name] || from[name].length !== into[name].length) {
        throw new RangeError(`resume state: ${name} has ${from?.[name]?.length ?? 0} values, expected ${into[name].length}`);
      }
      into[name].set(from[name]);
    }
  };
  restore(params, saved);
  if (netState) restore(netState, state.netState);
  rng.setState(state.rng);
}

export { limitSplit, tailSplit } from "./plan.js";
export { optimizerConfig } from "./compute.js";
export type { OptimizerState };
