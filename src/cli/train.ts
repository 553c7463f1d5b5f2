/**
 * mnist-train: parse and validate options → load MNIST → train → write the run folder → summary.
 * Wiring only: the math lives in src/model and src/train, the files in src/io and the reporters.
 */
import { randomInt } from "node:crypto";
import path from "node:path";
import { Option } from "commander";
import { loadMnistRaw } from "../data/mnist.js";
import { writeFileAtomic } from "../io/files.js";
import { toModelJson } from "../model/model-json.js";
import { defaultEvalEvery, limitSplit, train, type TrainResult } from "../train/trainer.js";
import type { ResolvedHyperparameters } from "../train/hyperparameters.js";
import { GRAD_MODES } from "../train/hyperparameters.js";
import { CsvReporter } from "./reporters/csv.js";
import { ConsoleReporter } from "./reporters/console.js";
import { EXIT, newProgram } from "./run-command.js";
import { defaultRunDir, prepareRunDir } from "./run-dir.js";
import { stderrChalk } from "./style.js";
import { parseThreads } from "./threads.js";
import { resolveTrainOptions, TRAIN_DEFAULTS, type TrainOptions } from "./train-options.js";

const NAME = "mnist-train";

function buildProgram() {
  const d = TRAIN_DEFAULTS;
  return newProgram(NAME)
    .description("Train the book's two-layer network (Deep Learning from Scratch, ch. 4) on MNIST with minibatch SGD.")
    .option("--iters <n>", `SGD iterations (default ${d.iters})`)
    .option("--batch-size <n>", `minibatch size, drawn with replacement (default ${d.batchSize})`)
    .option("--lr <x>", `learning rate (default ${d.lr})`)
    .option("--hidden-size <n>", `hidden units (default ${d.hiddenSize})`)
    .addOption(new Option("--grad <mode>", `gradient: ${GRAD_MODES.join(" or ")} (default ${d.grad})`))
    .option("--threads <n>", "--grad numerical: worker threads (default: every core; the result does not depend on it)")
    .option("--weight-init-std <x>", `std of the Gaussian initial weights (default ${d.weightInitStd})`)
    .option("--seed <n>", "random seed for weights and minibatches (default: random, recorded)")
    .option("--eval-every <n>", "iterations between accuracy evaluations (default: one epoch = max(floor(train size / batch size), 1))")
    .option("--train-limit <n>", "use only the first N training images")
    .option("--test-limit <n>", "use only the first N test images")
    .addOption(new Option("--data-source <source>", `bundled (offline, default) or download`))
    .option("--data-dir <dir>", "download cache folder (default: data)")
    .option("--out <dir>", "run folder (default: runs/<timestamp>-<id>)")
    .option("--force", "write into a non-empty --out folder")
    .option("--config <file>", "JSON file of options (same names as the flags, in camelCase); flags override it")
    .option("--json", "print one JSON summary line on stdout")
    .option("--quiet", "no progress bar or per-epoch lines")
    .option("--no-color", "no colours (also: NO_COLOR=1)")
    .option("--debug", "show stack traces on errors")
    .version("0.1.0", "--version")
    .helpOption("-h, --help");
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: "user" });
  const flags = program.opts();
  const { json, quiet, color, config, out, force } = flags as Record<string, unknown>;
  const threads = parseThreads(flags.threads as string | undefined);
  const hyperFlags = { ...flags };
  for (const key of ["json", "quiet", "color", "config", "out", "force", "debug", "threads"]) delete hyperFlags[key];
  const options = await resolveTrainOptions(hyperFlags, config as string | undefined);

  const chalk = stderrChalk(color !== false);
  const log = (line: string) => {
    if (!quiet) process.stderr.write(line + "\n");
  };
  const runDir = (out as string | undefined) ?? defaultRunDir();
  await prepareRunDir(runDir, Boolean(force));

  const data = await loadMnistRaw({ source: options.dataSource, dataDir: options.dataDir });
  const hp = resolveHyperparameters(options, data.train.count);
  const trainSize = limitSplit(data.train, hp.trainLimit).count;
  const testSize = limitSplit(data.test, hp.testLimit).count;
  await writeFileAtomic(path.join(runDir, "config.json"), JSON.stringify(hp, null, 2) + "\n");

  log(
    chalk.bold(`${NAME}: `) +
      `784-${hp.hiddenSize}-10 sigmoid net, ${hp.grad} gradient, ${hp.iters} iterations of batch ${hp.batchSize}, lr ${hp.lr}, seed ${hp.seed}; ` +
      `${trainSize} training / ${testSize} test images (${hp.dataSource}); run folder ${runDir}`,
  );
  const csv = new CsvReporter(runDir);
  const consoleReporter = new ConsoleReporter({ chalk, progress: !quiet && process.stderr.isTTY === true });
  const listeners = quiet ? [csv] : [csv, consoleReporter];

  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(EXIT.interrupted); // second signal: leave now
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let result: TrainResult;
  try {
    result = await train({ train: data.train, test: data.test }, hp, { listeners, signal: abort.signal, numerical: { threads } });
  } finally {
    csv.close();
    consoleReporter.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  if (result.interrupted) {
    log(`${NAME}: interrupted after ${result.iterations} iterations; loss.csv and epochs.csv hold what ran; no model.json written`);
    return EXIT.interrupted;
  }
  const modelFile = path.join(runDir, "model.json");
  const { dataSource: _s, dataDir: _d, ...hyperparameters } = hp;
  const model = toModelJson(result.net, {
    hyperparameters,
    seed: hp.seed,
    iterations: result.iterations,
    finalLoss: result.finalLoss,
    trainAccuracy: result.trainAccuracy,
    testAccuracy: result.testAccuracy,
    datasetSha256: data.datasetSha256,
  });
  await writeFileAtomic(modelFile, JSON.stringify(model) + "\n");

  log(
    `${chalk.bold("done")} in ${result.wallTimeS.toFixed(1)} s: final loss ${result.finalLoss.toFixed(4)}, ` +
      `train ${chalk.green(result.trainAccuracy.toFixed(4))}, test ${chalk.cyan(result.testAccuracy.toFixed(4))}; model ${modelFile}`,
  );
  if (json) {
    process.stdout.write(
      JSON.stringify({
        runDir,
        model: modelFile,
        hyperparameters,
        seed: hp.seed,
        iterations: result.iterations,
        finalLoss: result.finalLoss,
        trainAccuracy: result.trainAccuracy,
        testAccuracy: result.testAccuracy,
        wallTimeS: result.wallTimeS,
      }) + "\n",
    );
  }
  return EXIT.ok;
}

/** Fix every choice the run leaves open: a seed when none was given, the evaluation interval. */
function resolveHyperparameters(options: TrainOptions, trainCount: number): ResolvedHyperparameters & TrainOptions {
  const trainSize = Math.min(options.trainLimit ?? trainCount, trainCount);
  return {
    ...options,
    seed: options.seed ?? randomInt(0, 2 ** 32 - 1),
    evalEvery: options.evalEvery ?? defaultEvalEvery(trainSize, options.batchSize),
  };
}
