/**
 * How a run ended, from its folder alone: a sweep's log line and mnist-report's status column
 * both say it the same way.
 */
import type { RunData } from "./run-data.js";

/**
 * complete: ran every iteration; early-stopped: complete, ended by --early-stop; diverged: the loss
 * became NaN or infinite (mnist-train wrote no model); incomplete: interrupted or still running.
 */
export type RunStatus = "complete" | "early-stopped" | "diverged" | "incomplete";

export function runStatus(run: RunData): RunStatus {
  if (run.complete) return run.summary.earlyStopped ? "early-stopped" : "complete";
  const last = run.loss.at(-1);
  // a diverged run's last loss.csv row is the non-finite loss that stopped it
  if (last && !Number.isFinite(last.loss)) return "diverged";
  return "incomplete";
}

/** Finished runs rank above the others; a diverged run's numbers mean least. */
export const STATUS_ORDER: Record<RunStatus, number> = { complete: 0, "early-stopped": 0, incomplete: 1, diverged: 2 };

/** One line for a sweep point's log: its outcome and headline numbers. */
export function resultLine(run: RunData): string {
  const s = run.summary;
  const acc = (name: string, v: number | null | undefined) => (typeof v === "number" ? `${name} ${v.toFixed(4)}` : null);
  const status = runStatus(run);
  if (status === "diverged") {
    const last = run.loss.at(-1)!;
    return `diverged: loss ${last.loss} at iteration ${last.iteration}`;
  }
  const parts = [
    acc("test", s.testAccuracy),
    acc("train", s.trainAccuracy),
    acc("val", s.valAccuracy),
    typeof s.finalLoss === "number" ? `final loss ${s.finalLoss.toFixed(4)}` : null,
    `${s.iterations} iterations`,
    typeof s.wallTimeS === "number" ? `${s.wallTimeS.toFixed(1)} s` : null,
  ].filter((p): p is string => p !== null);
  if (status === "early-stopped") return `early-stopped at iteration ${s.earlyStopped!.iteration}: ${parts.join(", ")}`;
  if (status === "incomplete") return `incomplete (no model.json): ${parts.join(", ")}`;
  return `complete: ${parts.join(", ")}`;
}
