/**
 * The end of a run, after model.json: summary.json (the `--json` summary, wall time included, for
 * mnist-report) and curves.svg (the book's two figures), each written atomically.
 */
import path from "node:path";
import { writeFileAtomic } from "../io/files.js";
import { curvesSvg } from "./curves.js";
import { readRun, SUMMARY_FILE, type RunData, type RunSummary } from "./run-data.js";

export const CURVES_FILE = "curves.svg";

export async function finishRunFolder(runDir: string, summary: RunSummary & Record<string, unknown>): Promise<RunData> {
  await writeFileAtomic(path.join(runDir, SUMMARY_FILE), JSON.stringify(summary) + "\n");
  const run = await readRun(runDir);
  await writeFileAtomic(path.join(runDir, CURVES_FILE), await curvesSvg(run));
  return run;
}
