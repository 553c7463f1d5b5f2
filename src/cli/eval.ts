/**
 * mnist-eval model.json: test accuracy, per-class accuracy and the confusion matrix of a saved
 * model, plus the hyperparameters it was trained with. Results on stdout; errors on stderr.
 */
import { Chalk, supportsColor, type ChalkInstance } from "chalk";
import { z } from "zod";
import { DATA_SOURCES } from "../data/mnist.js";
import { loadForCommand } from "./data.js";
import { FileFormatError, UsageError } from "../errors.js";
import { describeZodIssue } from "../io/zod-message.js";
import { describeNet, netFromModelJson } from "../run/model-json.js";
import { readModelFile } from "../run/model-file.js";
import { buildReport, type EvalReport } from "../report/evaluation.js";
import { predictSplit } from "../train/evaluate.js";
import { limitSplit } from "../train/trainer.js";
import type { Command } from "commander";
import { dataDirOption, dataSourceOption, debugOption, EXIT, newProgram, noColorOption } from "./run-command.js";
import { formatErrors, parseShowErrors } from "./show-errors.js";
import { flagValues } from "./train-options.js";
import { int } from "../train/hyperparameters.js";
import { appliedHyperparameters } from "../train/applied-hyperparameters.js";

const NAME = "mnist-eval";

const EvalFlagsSchema = z.strictObject({
  dataSource: z.enum(DATA_SOURCES as ["bundled", "download"], { error: `must be ${DATA_SOURCES.join(" or ")}` }).default("bundled"),
  dataDir: z.string().min(1).optional(),
  limit: int(1, 1e9).optional(),
});


/** The command line: its arguments and options (the docs reference is checked against them). */
export function buildProgram(): Command {
  return newProgram(NAME)
  .description("Evaluate a trained model.json on the MNIST test set, beside the accuracy recorded at training.")
  .argument("<model>", "model.json written by mnist-train, or its run folder")
  .addOption(dataSourceOption())
  .addOption(dataDirOption())
  .option("--limit <n>", "evaluate only the first N test images")
  .option("--json", "print the report as one JSON line")
  .option("--show-errors <n>", "draw the first N misclassified test digits with their true and predicted labels")
  .addOption(noColorOption())
  .addOption(debugOption())
      .helpOption("-h, --help");
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: "user" });
  const flags = program.opts();
  const modelFile = program.args[0];
  const raw = { dataSource: flags.dataSource, dataDir: flags.dataDir, limit: flags.limit };
  const parsed = EvalFlagsSchema.safeParse(flagValues(raw));
  if (!parsed.success) throw new UsageError(describeZodIssue(parsed.error.issues[0], raw, "flag"));
  const options = parsed.data;
  const showErrors = parseShowErrors(flags.showErrors);

  const { model } = await readModelFile(modelFile);
  const net = netFromModelJson(model);
  const data = await loadForCommand(options.dataSource, options.dataDir, (line) => process.stderr.write(line + "\n"));
  const D = data.test.rows * data.test.cols;
  if (net.inputSize !== D || net.outputSize !== 10) {
    throw new FileFormatError(modelFile, `the model is ${describeNet(net, true)}, but MNIST needs ${D} inputs and 10 outputs`);
  }
  const test = limitSplit(data.test, options.limit);
  // The kernels and precision the model was trained (and its accuracy recorded) with.
  const predicted = predictSplit(net, test, test.count, model.training?.hyperparameters.dtype);
  const report = buildReport(modelFile, model, predicted, test.labels, data.test.count);

  if (flags.json) process.stdout.write(JSON.stringify(report) + "\n");
  else {
    const color = flags.color !== false && !process.env.NO_COLOR && process.stdout.isTTY === true;
    process.stdout.write(formatReport(report, new Chalk({ level: color && supportsColor ? supportsColor.level : 0 })));
    if (showErrors) process.stdout.write(formatErrors(test, predicted, showErrors, process.stdout.columns ?? 80));
  }
  return EXIT.ok;
}


export function formatReport(r: EvalReport, c: ChalkInstance): string {
  const lines: string[] = [];
  lines.push(`${c.bold("model")}          ${r.model}`);
  if (r.hyperparameters) {
    const hp = Object.entries(appliedHyperparameters(r.hyperparameters as Record<string, unknown>)).map(([k, v]) => `${k}=${v}`).join(" ");
    lines.push(`${c.bold("trained with")}   ${hp}`);
  }
  lines.push(`${c.bold("test accuracy")}  ${c.cyan(r.testAccuracy.toFixed(4))}  (${Math.round(r.testAccuracy * r.count)} of ${r.count} images)`);
  if (r.recordedTestAccuracy !== null && r.recordedCount !== null) {
    const same = r.recordedCount === r.count;
    const where = same ? `on the same ${r.count} images` : `on the first ${r.recordedCount} test images: a different test set from these ${r.count}`;
    lines.push(`${c.bold("recorded")}       ${r.recordedTestAccuracy.toFixed(4)}  (at training, ${where})`);
  }
  lines.push("");
  lines.push(c.bold("per class"));
  lines.push("  " + r.perClass.map((_, k) => String(k).padStart(6)).join(""));
  lines.push("  " + r.perClass.map((a) => (a === null ? "     -" : a.toFixed(3).padStart(6))).join(""));
  lines.push("");
  lines.push(c.bold("confusion matrix") + c.dim("  (rows: true label, columns: predicted)"));
  lines.push("       " + r.confusion.map((_, k) => String(k).padStart(6)).join(""));
  r.confusion.forEach((row, i) => {
    const cells = row.map((n, j) => {
      const cell = String(n).padStart(6);
      return i === j ? c.green.bold(cell) : n === 0 ? c.dim(cell) : cell;
    });
    lines.push(`  ${String(i).padStart(3)}  ${cells.join("")}`);
  });
  return lines.join("\n") + "\n";
}
