/**
 * The sweep scripts' helper (configs/sweeps/sweep-point.js), not a public command:
 *   sweep-point plan RUN_DIR [--on-mismatch error|new] -- MNIST_TRAIN_FLAG…
 *     prints "ACTION<TAB>DIR": fresh, resume, done or diverged, and the folder to use;
 *     a folder holding a run with other settings is an error (exit 1) naming them.
 *   sweep-point result RUN_DIR
 *     prints the run's one-line outcome (for its log).
 */
import { UsageError } from "../errors.js";
import { readRun } from "../report/run-data.js";
import { resultLine } from "../report/status.js";
import { planPoint, requestedSettings, type OnMismatch } from "./sweep-plan.js";
import { EXIT } from "./run-command.js";

const USAGE = "usage: sweep-point plan RUN_DIR [--on-mismatch error|new] -- MNIST_TRAIN_FLAG… | sweep-point result RUN_DIR";

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "result") {
    if (rest.length !== 1) throw new UsageError(USAGE);
    process.stdout.write(resultLine(await readRun(rest[0])) + "\n");
    return EXIT.ok;
  }
  if (command !== "plan") throw new UsageError(USAGE);
  const dash = rest.indexOf("--");
  const own = dash < 0 ? rest : rest.slice(0, dash);
  const trainArgs = dash < 0 ? [] : rest.slice(dash + 1);
  let onMismatch: OnMismatch = "error";
  const dirs: string[] = [];
  for (let i = 0; i < own.length; i++) {
    if (own[i] === "--on-mismatch") {
      const v = own[++i];
      if (v !== "error" && v !== "new") throw new UsageError(`ON_MISMATCH (--on-mismatch) must be error or new (got ${JSON.stringify(v ?? "")})`);
      onMismatch = v;
    } else dirs.push(own[i]);
  }
  if (dirs.length !== 1 || dirs[0] === "") throw new UsageError(USAGE);
  let requested;
  try {
    requested = await requestedSettings(trainArgs);
  } catch (err) {
    // say where a bad flag came from: the sweep's settings, not this helper's own options
    if (err instanceof UsageError) throw new UsageError(`the sweep's mnist-train flags: ${err.message}`);
    throw err;
  }
  const plan = await planPoint(dirs[0], requested, onMismatch);
  process.stdout.write(`${plan.action}\t${plan.dir}\n`);
  return EXIT.ok;
}
