/**
 * mnist-train: parse and validate options → load MNIST → train → write the run folder → summary.
 * Wiring only: the math lives in src/reference, src/engine and src/train, the run folder's files in src/run.
 */
import { createHash } from "node:crypto";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, promises as fs } from "node:fs";
import os, { availableParallelism } from "node:os";
import path from "node:path";
import { Option, type Command } from "commander";
import { DivergedError, FileFormatError, MnistError, UsageError, WriteError } from "../errors.js";
import { defaultThreads, WorkerPool } from "../engine/pool.js";
import { errorCode, parseJsonText, readJsonFile, writeFileAtomic, writeFileAtomicSync } from "../io/files.js";
import { describeZodIssue, kebab } from "../io/zod-message.js";
import { toModelJson } from "../run/model-json.js";
import { finishRunFolder } from "../report/finish-run.js";
import { terminalLossChart } from "../report/terminal-chart.js";
import { CheckpointSchema, checkpointJsonLimits, MAX_CHECKPOINT_BYTES, stateFromCheckpoint, toCheckpointJson, type CheckpointJson } from "../run/checkpoint.js";
import { CsvReporter, type CsvFile } from "../run/csv.js";
import { RUN_FILES, runFile } from "../run/layout.js";
import { MAX_MODEL_BYTES } from "../run/model-file.js";
import { checkRunDirUsable, claimRunDir, defaultRunDir, LATEST, namedRunDir, pointLatestAt, RUNS_ROOT, type RunLock } from "../run/run-dir.js";
import { describeSize, gb, mb, runBudget, WASM_MEMORY_BYTES } from "../train/budget.js";
import { train, type TrainListener, type TrainResult, type TrainState } from "../train/trainer.js";
import { checkSettings, itersPerEpoch, limitSplit, resolveSettings, trainedCount } from "../train/plan.js";
import type { ResolvedHyperparameters } from "../train/hyperparameters.js";
import { GRAD_MODES, hiddenSizes, isBookNet, recordedHyperparameters } from "../train/hyperparameters.js";
import { loadForCommand } from "./data.js";
import { ConsoleReporter } from "./reporters/console.js";
import { dataDirOption, dataSourceOption, debugOption, EXIT, newProgram, noColorOption } from "./run-command.js";
import { stderrChalk } from "./style.js";
import { flagValues, resolveTrainOptions, TRAIN_DEFAULTS, TrainOptionsSchema, type TrainOptions } from "./train-options.js";

const NAME = "mnist-train";
/** The schema's largest --iters; --epochs must not resolve to more. */

/** The command line: its options (the docs reference is checked against them). */
export function buildProgram(): Command {
  const d = TRAIN_DEFAULTS;
  return newProgram(NAME)
    .description(
      "Train the book's two-layer network (Deep Learning from Scratch, ch. 4) on MNIST with minibatch SGD, a deeper fully connected net " +
        "(--hidden-size 100,100), or any net of its later chapters (--layers).",
    )
    .option("--iters <n>", `SGD iterations (default ${d.iters})`)
    .option("--batch-size <n>", `minibatch size, drawn with replacement (default ${d.batchSize})`)
    .option("--lr <x>", `learning rate (default ${d.lr})`)
    .option("--hidden-size <n>", `hidden units (default ${d.hiddenSize}); a list such as 100,100 for one hidden layer per number`)
    .option(
      "--layers <list>",
      "the whole net as a layer list, in place of --hidden-size, --activation and --dropout: layers separated by commas, each one of " +
        "conv F KxK [sN] [pN], maxpool KxK [sN] [pN], affine N, relu, sigmoid, tanh, batchnorm, dropout P, flatten; it must end in 10 scores " +
        '(the book\'s SimpleConvNet: "conv 30 5x5, relu, maxpool 2, affine 100, relu, affine 10")',
    )
    .option("--activation <name>", `hidden activation: sigmoid, relu or tanh (default ${d.activation})`)
    .option("--init <name>", `initial weights: std (Gaussian, --weight-init-std), xavier or he (default ${d.init})`)
    .option("--optimizer <name>", `sgd, momentum, nesterov, adagrad, rmsprop, adam or adadelta (PyTorch's) (default ${d.optimizer}); set --lr to suit (adam: 0.001, adadelta: 1.0)`)
    .option("--momentum <x>", `momentum / nesterov coefficient (default ${d.momentum})`)
    .option("--rms-decay <x>", `rmsprop decay rate (default ${d.rmsDecay})`)
    .option("--beta1 <x>", `adam beta1 (default ${d.beta1})`)
    .option("--beta2 <x>", `adam beta2 (default ${d.beta2})`)
    .option("--adadelta-rho <x>", `adadelta decay rate rho (default ${d.adadeltaRho}; epsilon is PyTorch's 1e-6)`)
    .option("--weight-decay <x>", `L2 weight decay lambda: adds ½·λ·ΣW² to the loss (default ${d.weightDecay})`)
    .option("--dropout <p>", `dropout probability of hidden units while training (default ${d.dropout})`)
    .option("--augment", "train on randomly shifted, rotated and scaled copies of each batch's images, made per batch (evaluation images never are)")
    .option("--augment-shift <pixels>", `--augment: largest shift, whole pixels either way (default ${d.augmentShift})`)
    .option("--augment-rotate <degrees>", `--augment: largest rotation, degrees either way (default ${d.augmentRotate})`)
    .option("--augment-scale <x>", `--augment: largest relative change of size either way (default ${d.augmentScale}: 90 % to 110 %)`)
    .option("--epochs <n>", "train for N epochs instead of --iters (an epoch = floor(train size / batch size) iterations)")
    .option("--sampling <mode>", `replacement (the book) or shuffle (a new permutation each epoch) (default ${d.sampling})`)
    .option("--lr-schedule <name>", `constant, step or cosine (default ${d.lrSchedule})`)
    .option("--lr-step-epochs <n>", `step schedule: epochs between decays (default ${d.lrStepEpochs})`)
    .option("--lr-gamma <x>", `step schedule: decay factor (default ${d.lrGamma})`)
    .option("--val-size <n>", "hold out the last N training images as a validation set (never the test set)")
    .option("--loss-pass <when>", `the loss recorded per iteration: after (the book's: the updated network on the same batch, dropout off) or before (the forward pass that made the gradient: free) (default ${d.lossPass})`)
    .option("--early-stop <patience>", "stop after this many evaluations without a better validation accuracy; keep the best weights (needs --val-size)")
    .addOption(new Option("--grad <mode>", `gradient: ${GRAD_MODES.join(" or ")} (default ${d.grad})`))
    .option("--dtype <type>", `compute precision: float32 or float64 (default ${TRAIN_DEFAULTS.dtype}; the model is stored in float64 either way)`)
    .option("--threads <n>", "threads for the training step, evaluation, the book's loss pass and --grad numerical: this one and n − 1 workers (default: every core; results do not depend on it)")
    .option("--weight-init-std <x>", `std of the Gaussian initial weights (default ${d.weightInitStd})`)
    .option("--seed <n>", "random seed for weights and minibatches (default: random, recorded)")
    .option("--eval-every <n>", "iterations between accuracy evaluations (default: one epoch = max(floor(train size / batch size), 1))")
    .option("--train-limit <n>", "use only the first N training images")
    .option("--test-limit <n>", "use only the first N test images")
    .addOption(dataSourceOption())
    .addOption(dataDirOption())
    .option("--out <dir>", "run folder (default: runs/<timestamp>-<id>; runs/latest points at the newest)")
    .option("--name <name>", "name the run folder: runs/NAME")
    .option("--force", "reuse a non-empty --out folder: the previous run's files are removed first")
    .option("--resume <run-dir>", "continue an interrupted run from its checkpoint.json (options come from its config.json)")
    .option("--checkpoint-every <n>", "also write checkpoint.json every N iterations (default: only on interruption)")
    .option("--config <file>", "JSON file of options (same names as the flags, in camelCase); flags override it")
    .option("--json", "print one JSON summary line on stdout")
    .option("--quiet", "no progress bar or per-epoch lines")
    .addOption(noColorOption())
    .addOption(debugOption())
    .helpOption("-h, --help");
}

export async function main(argv: string[]): Promise<number> {
  // Until training starts there is nothing to save: a signal ends the process at once, as 130.
  const signals = new SignalState();
  signals.install();
  const started: { workers?: WorkerPool } = {};
  try {
    return await trainMain(argv, signals, started);
  } finally {
    signals.uninstall();
    // (the run closes its pool; this is for a run that failed before it took the pool over)
    await started.workers?.close();
  }
}

async function trainMain(argv: string[], signals: SignalState, started: { workers?: WorkerPool }): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: "user" });
  const flags = program.opts();
  const { json, quiet, color, config, out, force, resume, name } = flags as Record<string, unknown>;
  const hyperFlags = { ...flags };
  for (const key of ["json", "quiet", "color", "config", "out", "force", "debug", "resume", "name"]) delete hyperFlags[key];
  const chalk = stderrChalk(color !== false);
  const log = (line: string) => {
    if (!quiet) process.stderr.write(line + "\n");
  };
  // Warnings and notes about the run folder are said even with --quiet.
  const note = (line: string) => process.stderr.write(`${NAME}: ${line}\n`);
  if (name !== undefined && out !== undefined) throw new UsageError("--name and --out cannot both be given (--name NAME is --out runs/NAME)");
  let runDir: string;
  let hp: ResolvedHyperparameters & TrainOptions;
  let configSha256: string;
  let checkpoint: CheckpointJson | undefined;
  let lock: RunLock | undefined;
  let configIters: number | undefined;
  if (resume !== undefined) {
    runDir = resume as string;
    ({ hp, configSha256, checkpoint, lock } = await openResume(runDir, hyperFlags, { config, out, force, name }, note));
  } else {
    if (hyperFlags.iters !== undefined && hyperFlags.epochs !== undefined) throw new UsageError("--epochs and --iters cannot both be given");
    const options = await resolveTrainOptions(hyperFlags, config as string | undefined);
    // (a length flag replaces the file's; without one, the file's two must agree: checked below)
    const lengthFlag = hyperFlags.iters !== undefined || hyperFlags.epochs !== undefined;
    configIters = config !== undefined && !lengthFlag ? await configValue(config as string, "iters") : undefined;
    runDir = (out as string | undefined) ?? (name !== undefined ? namedRunDir(name as string) : defaultRunDir());
    // Before the data is loaded: a bad --out fails in milliseconds, and nothing is created yet.
    await checkRunDirUsable(runDir, Boolean(force), out === undefined && name !== undefined ? "--name" : "--out");
    hp = options as ResolvedHyperparameters & TrainOptions; // seed and evalEvery are fixed below
    configSha256 = "";
  }
  hp = { ...hp, threads: capThreads(hp.threads, note) };
  // The run's workers start up (loading, compiling: ≈ 0.2 s) while the data loads, not after it.
  if (hp.grad !== "numerical") started.workers = WorkerPool.forThreads(hp.threads ?? defaultThreads());

  const data = await loadForCommand(hp.dataSource, hp.dataDir, log);
  if (!checkpoint) {
    hp = resolveSettings(hp, data.train.count);
    // A --config with both (a run's config.json has both, iters = epochs × the epoch's iterations).
    if (configIters !== undefined && hyperFlags.iters === undefined && hp.epochs !== undefined && configIters !== hp.iters) {
      throw new UsageError(`${config}: "iters" ${configIters} and "epochs" ${hp.epochs} disagree (${hp.epochs} epochs are ${hp.iters} iterations); give one of them`);
    }
    checkSettings(hp, data.train.count);
  }
  checkRunFits(hp);
  if (!checkpoint) {
    // Every check passed: only now is the run folder made (and owned).
    lock = await claimRunDir(runDir, { force: Boolean(force), note, flag: out === undefined && name !== undefined ? "--name" : "--out" });
    if (out === undefined && (await pointLatestAt(runDir))) log(`${NAME}: ${RUNS_ROOT}/${LATEST} → ${runDir}`);
    // Everything that determines the result (threads does not, so it is left to each invocation).
    const { threads: _threads, ...recorded } = recordedHyperparameters(hp);
    const configText = JSON.stringify(recorded, null, 2) + "\n";
    configSha256 = sha256(configText);
    try {
      await writeFileAtomic(runFile(runDir, "config"), configText);
    } catch (err) {
      if (err instanceof WriteError) throw new WriteError(err.file, err.code, EXIT.writeFailed, "nothing trained yet");
      throw err;
    }
  }
  // the images actually trained on: the validation images are held out of the training split
  const trainSize = trainedCount(hp, data.train.count);
  const perEpoch = itersPerEpoch(trainSize, hp.batchSize);
  const testSize = limitSplit(data.test, hp.testLimit).count;
  const D = data.train.rows * data.train.cols;
  const checkpointFile = runFile(runDir, "checkpoint");
  let resumeFrom: TrainState | undefined;
  if (checkpoint) {
    const state = stateFromCheckpoint(checkpoint, {
      inputSize: D,
      ...(hp.layers !== undefined ? { layers: hp.layers, inputShape: [1, data.train.rows, data.train.cols] } : {}),
      hiddenSize: hp.hiddenSize,
      outputSize: 10,
      optimizer: hp.optimizer,
      bookNet: isBookNet(hp),
      trainCount: trainSize - (hp.valSize ?? 0),
      sampling: hp.sampling,
    });
    if (typeof state === "string") throw new FileFormatError(checkpointFile, state);
    resumeFrom = state;
  }

  log(
    chalk.bold(`${NAME}: `) +
      `${describeNetOf(hp)}${isBookNet(hp) ? "" : ` (${describeBeyond(hp)})`}, ${hp.grad} gradient, ` +
      (hp.augment ? `augmented batches (shift ≤ ${hp.augmentShift} px, rotation ≤ ${hp.augmentRotate}°, scale ± ${hp.augmentScale}), ` : "") +
      `${hp.iters} iterations of batch ${hp.batchSize}, lr ${hp.lr}, seed ${hp.seed}; ` +
      `${trainSize} training / ${hp.valSize ? `${hp.valSize} validation / ` : ""}${testSize} test images (${hp.dataSource}), ` +
      `${formatEpochs(hp.iters / perEpoch)} epochs of ${perEpoch} iterations; run folder ${runDir}` +
      (resumeFrom ? `; resuming at iteration ${resumeFrom.iteration}` : ""),
  );
  const abort = new AbortController();
  // A file that cannot be written stops the run where it is, as a signal does; what it holds is
  // then saved (in the run folder if it takes it, else elsewhere) and the exit is EXIT.writeFailed.
  let writeFailure: WriteError | undefined;
  const stopOnWriteFailure = (err: WriteError) => {
    writeFailure ??= err;
    abort.abort();
  };
  let csv: CsvReporter;
  try {
    csv = new CsvReporter(runDir, resumeFrom && { iteration: resumeFrom.iteration, evaluation: resumeFrom.epoch }, hp.valSize !== undefined, stopOnWriteFailure);
  } catch (err) {
    if (err instanceof WriteError) throw new WriteError(err.file, err.code, EXIT.writeFailed, "nothing trained yet");
    throw err;
  }
  const consoleReporter = new ConsoleReporter({ chalk, progress: !quiet && process.stderr.isTTY === true });
  const saveCheckpoint = (state: TrainState) => {
    csv.flush(); // the CSVs never lag behind the checkpoint (rows ahead of it are trimmed on resume)
    writeFileAtomicSync(checkpointFile, JSON.stringify(toCheckpointJson(state, configSha256)) + "\n");
  };
  const checkpointer: TrainListener = {
    checkpoint: (state) => {
      if (writeFailure) return;
      try {
        saveCheckpoint(state);
      } catch (err) {
        if (!(err instanceof WriteError)) throw err;
        stopOnWriteFailure(err);
      }
    },
  };
  const listeners = quiet ? [csv, checkpointer] : [csv, consoleReporter, checkpointer];

  // First signal: stop after this iteration and save; second: flush what is buffered and leave.
  signals.onFirst = () => abort.abort();
  signals.onSecond = () => {
    try {
      csv.flush();
    } catch {
      // leaving at once: the rows that do not fit are lost with the unsaved iterations
    }
  };
  let result: TrainResult;
  try {
    result = await train({ train: data.train, test: data.test }, hp, {
      listeners,
      signal: abort.signal,
      resumeFrom,
      checkpointEvery: hp.checkpointEvery,
      threads: hp.threads,
      workers: started.workers,
    });
  } finally {
    csv.close();
    consoleReporter.stop();
  }
  writeFailure ??= csv.failure;

  if (result.diverged) {
    const { iteration, loss } = result.diverged;
    if (writeFailure) log(`${NAME}: ${writeFailure.message}; some rows of the CSVs are not on disk`);
    throw new DivergedError(`loss became ${loss} at iteration ${iteration} (lr ${hp.lr}); try a smaller --lr`);
  }
  const rescue = (files: Record<string, string>) => rescueRun(runDir, files, csv.unwritten());
  if (result.interrupted) {
    const checkpointText = JSON.stringify(toCheckpointJson(result.state, configSha256)) + "\n";
    let failure = writeFailure;
    if (!failure) {
      try {
        saveCheckpoint(result.state);
      } catch (err) {
        if (!(err instanceof WriteError)) throw err;
        failure = err;
      }
    }
    if (!failure) {
      log(`${NAME}: interrupted after ${result.iterations} iterations; checkpoint written, no model.json; continue with: mnist-train --resume ${runDir}`);
      return EXIT.interrupted;
    }
    const where = rescue({ [RUN_FILES.checkpoint]: checkpointText });
    throw new WriteError(failure.file, failure.code, EXIT.writeFailed, `stopped after ${result.iterations} iterations; ${where}`);
  }
  const modelFile = runFile(runDir, "model");
  const { dataSource: _s, dataDir: _d, checkpointEvery: _c, threads: _t, ...hyperparameters } = recordedHyperparameters(hp);
  const outcome = {
    seed: hp.seed,
    iterations: result.iterations,
    finalLoss: result.finalLoss,
    trainAccuracy: result.trainAccuracy,
    testAccuracy: result.testAccuracy,
  };
  const epochs = result.iterations / perEpoch;
  const model = toModelJson(result.net, { hyperparameters, ...outcome, datasetSha256: data.datasetSha256 });
  const modelText = JSON.stringify(model) + "\n";
  // Training ran to its end even if a write failed at the very last iteration: the model is what to save.
  let modelFailure = writeFailure;
  if (!modelFailure) {
    try {
      await writeFileAtomic(modelFile, modelText);
    } catch (err) {
      if (!(err instanceof WriteError)) throw err;
      modelFailure = err;
    }
  }
  if (modelFailure) {
    const where = rescue({ [RUN_FILES.model]: modelText });
    throw new WriteError(modelFailure.file, modelFailure.code, EXIT.writeFailed, `training finished; ${where}`);
  }
  // The run is complete: a checkpoint left from it would only invite resuming a finished run.
  await fs.rm(checkpointFile, { force: true });

  if (result.earlyStopped) {
    const e = result.earlyStopped;
    log(`${NAME}: early stop at iteration ${e.iteration}: validation accuracy ${e.bestValAccuracy.toFixed(4)} at iteration ${e.bestIteration} not bettered for ${hp.earlyStop} evaluations; its weights restored`);
  }
  log(
    `${chalk.bold("done")} in ${result.wallTimeS.toFixed(1)} s, ${formatEpochs(epochs)} epochs: final loss ${result.finalLoss.toFixed(4)}, ` +
      `train ${chalk.green(result.trainAccuracy.toFixed(4))}, test ${chalk.cyan(result.testAccuracy.toFixed(4))}; model ${modelFile}`,
  );
  const summary = {
    runDir,
    model: modelFile,
    hyperparameters,
    ...outcome,
    epochs,
    ...(result.valAccuracy !== undefined ? { valAccuracy: result.valAccuracy } : {}),
    ...(result.earlyStopped ? { earlyStopped: result.earlyStopped } : {}),
    wallTimeS: result.wallTimeS,
  };
  // summary.json (this line, for mnist-report) and curves.svg (the book's Fig. 4-11 and 4-12).
  let run;
  try {
    run = await finishRunFolder(runDir, summary);
  } catch (err) {
    if (err instanceof WriteError) {
      // model.json is whole; mnist-report reads a run without summary.json from it.
      throw new WriteError(err.file, err.code, EXIT.writeFailed, `${modelFile} is written, ${RUN_FILES.summary} and ${RUN_FILES.curves} may be missing`);
    }
    // A run too long for its CSVs to be read back whole: the run is complete, only its figure is not drawn.
    if (!(err instanceof MnistError)) throw err;
    note(`${RUN_FILES.curves} not drawn: ${err.message}`);
  }
  lock?.release();
  if (run && !quiet && process.stderr.isTTY) process.stderr.write(terminalLossChart(run.loss.map((p) => p.loss), chalk));
  if (run) log(`curves: ${runFile(runDir, "curves")} (loss per iteration, accuracy per epoch: open it in a web browser)`);
  if (json) process.stdout.write(JSON.stringify(summary) + "\n");
  return EXIT.ok;
}

/** --threads beyond the cores only adds copies of the network and contention: capped, with a warning. */
function capThreads(threads: number | undefined, note: (line: string) => void): number | undefined {
  const cores = availableParallelism();
  if (threads === undefined || threads <= cores) return threads;
  note(`--threads ${threads} is more than the ${cores} cores; using ${cores} (results do not depend on it)`);
  return cores;
}

/**
 * Sizes the schema allows but this machine or the run's own files cannot hold: refused before
 * anything large is allocated. model.json must stay readable by mnist-eval and mnist-predict, and
 * checkpoint.json by --resume.
 */
function checkRunFits(hp: ResolvedHyperparameters & TrainOptions): void {
  const threads = hp.threads ?? availableParallelism();
  const b = runBudget(hp, threads);
  const net = `a ${describeSize(hp, b.params)}`;
  const hidden = hp.layers !== undefined ? "--layers" : `--hidden-size ${hiddenSizes(hp).join(",")}`;
  if (b.modelJsonBytes > MAX_MODEL_BYTES) throw new UsageError(`${hidden}: ${net} would write a model.json of up to ${mb(b.modelJsonBytes)}, more than the ${mb(MAX_MODEL_BYTES)} mnist-eval reads`);
  if (b.checkpointJsonBytes > MAX_CHECKPOINT_BYTES) {
    const extras = [hp.optimizer !== "sgd" ? `--optimizer ${hp.optimizer}` : "", hp.earlyStop !== undefined ? "--early-stop" : ""].filter(Boolean).join(" and ");
    throw new UsageError(`${hidden}${extras ? ` with ${extras}` : ""}: ${net} would write a checkpoint.json of up to ${mb(b.checkpointJsonBytes)}, more than the ${mb(MAX_CHECKPOINT_BYTES)} --resume reads`);
  }
  if (b.wasmBytes > WASM_MEMORY_BYTES) throw new UsageError(`--batch-size ${hp.batchSize} with ${net} needs about ${gb(b.wasmBytes)} of kernel memory, more than the ${gb(WASM_MEMORY_BYTES)} a WebAssembly memory holds; use a smaller --batch-size`);
  const available = availableMemory();
  if (b.memoryBytes > available) {
    throw new UsageError(`${hidden} with --batch-size ${hp.batchSize} and ${threads} thread${threads > 1 ? "s" : ""}: ${net} needs about ${gb(b.memoryBytes)} of memory, more than the ${gb(available)} available`);
  }
}

/**
 * Memory this process may use: the system's available memory (or its cgroup limit when lower), but
 * never less than MIN_BUDGET_BYTES, so a busy machine does not refuse a small run that would fit
 * once the page cache gives way.
 */
function availableMemory(): number {
  const constrained = typeof process.constrainedMemory === "function" ? process.constrainedMemory() : 0;
  const ceiling = constrained && constrained > 0 ? Math.min(constrained, os.totalmem()) : os.totalmem();
  return Math.min(ceiling, Math.max(os.freemem(), MIN_BUDGET_BYTES));
}
const MIN_BUDGET_BYTES = 1024 ** 3;

/**
 * Save a run stopped by a write failure where it can be resumed: the run folder's config and
 * CSVs (with the rows that did not fit) and `files` (the checkpoint, or the trained model) in a
 * folder under the system's temp directory. Returns the sentence that says where it went.
 */
function rescueRun(runDir: string, files: Record<string, string>, unwritten: Partial<Record<CsvFile, string[]>>): string {
  const target = path.join(os.tmpdir(), `mnist-ts-rescue-${path.basename(path.resolve(runDir))}-${process.pid}`);
  try {
    mkdirSync(target, { recursive: true });
    for (const f of ["config", "loss", "epochs", "val"] as const) {
      const from = runFile(runDir, f);
      if (!existsSync(from)) continue;
      copyFileSync(from, runFile(target, f));
      const rows = unwritten[f as CsvFile];
      if (rows?.length) appendFileSync(runFile(target, f), rows.join("\n") + "\n");
    }
    for (const [file, text] of Object.entries(files)) writeFileAtomicSync(path.join(target, file), text);
  } catch (err) {
    return `could not save the run elsewhere either (${target}: ${err instanceof WriteError ? err.code : errorCode(err)})`;
  }
  const resumable = RUN_FILES.checkpoint in files;
  return resumable
    ? `the run is saved in ${target}: continue with: mnist-train --resume ${target}`
    : `the trained model is saved in ${path.join(target, RUN_FILES.model)}`;
}

/** A terminal closing (SIGHUP) ends a run as Ctrl-C and `kill` do: with a checkpoint. */
const HANDLED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * SIGINT/SIGTERM/SIGHUP: before training, exit 130 at once; during it, the first signal asks the trainer to
 * stop after the current iteration (the CLI then writes the checkpoint), a second one exits at once.
 * Every file is written atomically or appended, so exiting at any point corrupts nothing.
 */
class SignalState {
  onFirst?: () => void;
  onSecond?: () => void;
  private count = 0;
  private readonly handler = () => {
    this.count++;
    if (this.count === 1 && this.onFirst) {
      this.onFirst();
      return;
    }
    try {
      this.onSecond?.();
    } finally {
      process.exit(EXIT.interrupted);
    }
  };
  install(): void {
    for (const signal of HANDLED_SIGNALS) process.on(signal, this.handler);
  }
  uninstall(): void {
    for (const signal of HANDLED_SIGNALS) process.off(signal, this.handler);
  }
}

/** Options that may accompany --resume: they change the output, not the computation. */
const RESUME_FLAGS = new Set(["checkpointEvery", "threads"]);

/** --resume RUN_DIR: the run's options from its config.json, and its checkpoint. */
async function openResume(
  runDir: string,
  hyperFlags: Record<string, unknown>,
  other: Record<string, unknown>,
  note: (line: string) => void,
): Promise<{ hp: ResolvedHyperparameters & TrainOptions; configSha256: string; checkpoint: CheckpointJson; lock: RunLock }> {
  const conflicting = [
    ...Object.entries(hyperFlags).filter(([k, v]) => v !== undefined && !RESUME_FLAGS.has(k)),
    ...Object.entries(other).filter(([, v]) => v !== undefined),
  ].map(([k]) => `--${kebab(k)}`);
  if (conflicting.length > 0) {
    throw new UsageError(`--resume continues a run with the options in its config.json; ${conflicting.join(", ")} cannot be given with it`);
  }
  let stat;
  try {
    stat = await fs.stat(runDir);
  } catch {
    throw new MnistError(`--resume ${runDir}: no such run folder`);
  }
  if (!stat.isDirectory()) throw new MnistError(`--resume ${runDir}: not a folder`);
  // Owned before anything is read: a second --resume of the same run is refused, not raced.
  const lock = await claimRunDir(runDir, { force: false, note, flag: "--resume", resume: true });
  try {
    return { ...(await readResume(runDir, hyperFlags)), lock };
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function readResume(runDir: string, hyperFlags: Record<string, unknown>): Promise<{ hp: ResolvedHyperparameters & TrainOptions; configSha256: string; checkpoint: CheckpointJson }> {
  const checkpointFile = runFile(runDir, "checkpoint");
  if (!existsSync(checkpointFile)) {
    const why = existsSync(runFile(runDir, "model")) ? "the run is complete (model.json exists)" : "no checkpoint.json in it";
    throw new MnistError(`--resume ${runDir}: nothing to resume: ${why}`);
  }
  const configFile = runFile(runDir, "config");
  let configText: string;
  try {
    const st = await fs.stat(configFile);
    if (st.size > 1024 * 1024) throw new FileFormatError(configFile, `is ${st.size} bytes, more than the ${1024 * 1024} a valid file can be`);
    configText = await fs.readFile(configFile, "utf8");
  } catch (err) {
    if (err instanceof MnistError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(configFile, code === "ENOENT" ? "no such file" : `cannot read (${code})`);
  }
  const recorded = parseJsonText(configText, configFile, TrainOptionsSchema);
  if (recorded.seed === undefined || recorded.evalEvery === undefined) {
    throw new FileFormatError(configFile, `"${recorded.seed === undefined ? "seed" : "evalEvery"}" is missing (a run's config.json records it)`);
  }
  const expected = runBudget({ ...TRAIN_DEFAULTS, ...recorded }, 1);
  const checkpoint = await readJsonFile(checkpointFile, CheckpointSchema, MAX_CHECKPOINT_BYTES, undefined, checkpointJsonLimits(expected.checkpointNumbers));
  const configSha256 = sha256(configText);
  if (checkpoint.configSha256 !== configSha256) {
    throw new FileFormatError(checkpointFile, "was written for a different config.json (the run's config.json was changed since)");
  }
  if (checkpoint.iteration >= recorded.iters) {
    throw new FileFormatError(checkpointFile, `"iteration" is ${checkpoint.iteration}, but the run has only ${recorded.iters} iterations`);
  }
  const merged = TrainOptionsSchema.safeParse({ ...recorded, ...flagValues({ checkpointEvery: hyperFlags.checkpointEvery, threads: hyperFlags.threads }) });
  if (!merged.success) throw new UsageError(describeZodIssue(merged.error.issues[0], hyperFlags, "flag"));
  return { hp: merged.data as ResolvedHyperparameters & TrainOptions, configSha256, checkpoint };
}

/** 8, 1.5, 0.33: an epoch count as short as it reads. */
function formatEpochs(epochs: number): string {
  return String(Math.round(epochs * 100) / 100);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The network, for the start line: "784-50-10 sigmoid net", or a layer list (quoted). */
function describeNetOf(hp: ResolvedHyperparameters): string {
  return hp.layers !== undefined ? `net "${hp.layers}"` : `784-${hiddenSizes(hp).join("-")}-10 ${hp.activation} net`;
}

/** The non-book choices of a run, for the start line. */
function describeBeyond(hp: ResolvedHyperparameters): string {
  const parts = [`${hp.init} init`, hp.optimizer];
  if (hp.weightDecay > 0) parts.push(`weight decay ${hp.weightDecay}`);
  if (hp.dropout > 0 && hp.layers === undefined) parts.push(`dropout ${hp.dropout}`);
  if (hp.dtype !== "float32") parts.push(hp.dtype);
  if (hp.lrSchedule !== "constant") parts.push(`${hp.lrSchedule} lr`);
  return parts.join(", ");
}

/** A number the --config file gives for `key` (the file is already validated). */
async function configValue(file: string, key: string): Promise<number | undefined> {
  const text = await fs.readFile(file, "utf8").catch(() => "{}");
  try {
    const value = (JSON.parse(text) as Record<string, unknown>)[key];
    return typeof value === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}

