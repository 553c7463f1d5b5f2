/**
 * The run folder's file names: the one place that knows them. Everything that reads or writes a
 * run folder (the trainer's CLI, mnist-report, eval and predict given a folder) goes through these.
 */
import path from "node:path";

export const RUN_FILES = {
  /** The resolved options (`--config` can read it back to repeat the run). */
  config: "config.json",
  /** `iteration,loss`, one row per SGD step. */
  loss: "loss.csv",
  /** `evaluation,epoch,iteration,train_acc,test_acc,elapsed_s`, one row per evaluation. */
  epochs: "epochs.csv",
  /** `evaluation,epoch,iteration,val_acc`, with --val-size. */
  val: "val.csv",
  /** The trained network: written last, so its presence marks a complete run. */
  model: "model.json",
  /** The state of an unfinished run, for --resume. */
  checkpoint: "checkpoint.json",
  /** mnist-train's `--json` line, for mnist-report. */
  summary: "summary.json",
  /** The book's loss and accuracy figures. */
  curves: "curves.svg",
  /** Held by the process writing the run (its pid), so two runs never share a folder. */
  lock: ".lock",
} as const;

export type RunFile = keyof typeof RUN_FILES;

export function runFile(dir: string, file: RunFile): string {
  return path.join(dir, RUN_FILES[file]);
}

/** Files a run writes: what `--force` removes from a folder before a new run starts in it. */
export const RUN_OUTPUTS: readonly RunFile[] = ["config", "loss", "epochs", "val", "model", "checkpoint", "summary", "curves"];
