/**
 * A small block chart of the loss for the end of a run on a terminal: one column per bucket of
 * iterations (its mean loss), eighth-blocks for resolution, the range on the left.
 */
import type { ChalkInstance } from "chalk";

const EIGHTHS = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

export function terminalLossChart(losses: number[], chalk: ChalkInstance, width = 60, height = 6): string {
  const finite = losses.filter(Number.isFinite);
  if (finite.length === 0) return "";
  const cols = Math.min(width, losses.length);
  const means: number[] = [];
  for (let c = 0; c < cols; c++) {
    const from = Math.floor((c * losses.length) / cols);
    const to = Math.floor(((c + 1) * losses.length) / cols);
    let sum = 0;
    let n = 0;
    for (let i = from; i < to; i++) if (Number.isFinite(losses[i])) (sum += losses[i]), n++;
    means.push(n > 0 ? sum / n : Number.NaN);
  }
  const shown = means.filter(Number.isFinite);
  const max = Math.max(...shown);
  const min = Math.min(0, ...shown);
  const span = max - min || 1;
  const levels = means.map((m) => (Number.isFinite(m) ? Math.max(1, Math.round(((m - min) / span) * height * 8)) : 0));
  const label = (v: number) => v.toPrecision(3).padStart(7);
  const lines: string[] = [chalk.bold("loss per iteration") + chalk.dim(` (mean of each ${Math.round(losses.length / cols)} iterations)`)];
  for (let row = height - 1; row >= 0; row--) {
    const bar = levels.map((l) => EIGHTHS[Math.max(0, Math.min(8, l - row * 8))]).join("");
    const axis = row === height - 1 ? label(max) : row === 0 ? label(min) : " ".repeat(7);
    lines.push(`${chalk.dim(axis + " ┤")}${chalk.cyan(bar)}`);
  }
  const end = String(losses.length);
  lines.push(" ".repeat(9) + chalk.dim("0" + end.padStart(cols - 1)) + chalk.dim(" iterations"));
  return lines.join("\n") + "\n";
}
