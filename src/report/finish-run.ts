/**
 * The end of a run, after model.json: summary.json (the `--json` summary, wall time included, for
 * mnist-report) and curves.svg (the book's two figures), each written atomically.
 */
import { writeFileAtomic } from "../io/files.js";
import { curvesSvg } from "./curves.js";
import { runFile } from "../run/layout.js";
import { readRun, type RunData, type RunSummary } from "./run-data.js";

export async function finishRunFolder(runDir: string, summary: RunSummary & Record<string, unknown>): Promise<RunData> {
  await writeFileAtomic(runFile(runDir, "summary"), JSON.stringify(summary) + "\n");
  const run = await readRun(runDir);
  await writeFileAtomic(runFile(runDir, "curves"), await curvesSvg(run));
  return run;
}
