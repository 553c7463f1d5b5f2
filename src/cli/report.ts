/**
 * mnist-report RUN_DIR…: the run folders of a sweep as one table ranked by test accuracy (or
 * --sort KEY, --top N): the hyperparameters that differ between them, each run's status (complete,
 * early-stopped, diverged, incomplete), final loss, train/test accuracy, wall time; or CSV / JSON,
 * and with --plot an SVG overlaying the runs' curves. A folder holding run folders, at any depth,
 * stands for all of them.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { Chalk, supportsColor } from "chalk";
import { MnistError, UsageError } from "../errors.js";
import { writeFileAtomic } from "../io/files.js";
import { overlaySpec, renderSvg } from "../report/curves.js";
import { isRunDir, readRun, type RunData } from "../report/run-data.js";
import { describeShared, formatCsv, formatTable, reportRows, rowSettings } from "../report/table.js";
import type { Command } from "commander";
import { debugOption, EXIT, newProgram, noColorOption } from "./run-command.js";

const NAME = "mnist-report";

/** The command line: its arguments and options (the docs reference is checked against them). */
export function buildProgram(): Command {
  return newProgram(NAME)
  .description("Rank run folders by test accuracy: the hyperparameters that differ, final loss, train/test accuracy, wall time.")
  .argument("<run-dir...>", "run folders written by mnist-train (globs welcome), or folders that hold them (searched at any depth)")
  .option("--sort <key>", "rank by test-acc (default), train-acc, val-acc, final-loss, wall, ran, run, or a hyperparameter (lr, hidden-size, optimizer, …)")
  .option("--top <n>", "list only the first N runs")
  .option("--json", "print one JSON line: { runs: [...], varying: [...], testSets: [...], skipped: [...] }")
  .option("--csv", "print the table as CSV, every hyperparameter included")
  .option("--plot <file.svg>", "write an SVG overlaying every listed run's loss and accuracy curves")
  .addOption(noColorOption())
  .addOption(debugOption())
    .helpOption("-h, --help");
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: "user" });
  const flags = program.opts();
  if (flags.json && flags.csv) throw new UsageError("--json and --csv are exclusive: choose one");
  let top: number | undefined;
  if (flags.top !== undefined) {
    top = /^\d+$/.test(flags.top) ? Number(flags.top) : Number.NaN;
    if (!(top >= 1)) throw new UsageError(`--top must be a positive whole number (got ${JSON.stringify(flags.top)})`);
  }
  const note = (line: string) => process.stderr.write(`${NAME}: ${line}\n`);

  const dirs = await expandRunDirs(program.args, note);
  const runs: RunData[] = [];
  const skipped: { run: string; reason: string }[] = [];
  for (const dir of dirs) {
    try {
      runs.push(await readRun(dir));
    } catch (err) {
      if (!(err instanceof MnistError)) throw err;
      skipped.push({ run: dir, reason: err.message });
      note(`skipping ${dir}: ${err.message}`);
    }
  }
  if (runs.length === 0) throw new MnistError(`no readable run folders among ${program.args.join(" ")}`);
  const rows = reportRows(runs, { sort: flags.sort, top });
  const settings = rowSettings(rows);

  if (flags.plot) {
    const byDir = new Map(runs.map((r) => [r.dir, r]));
    const labels = uniqueLabels(rows.map((r) => r.run));
    await writeFileAtomic(flags.plot, await renderSvg(overlaySpec(rows.map((r, i) => ({ label: labels[i], run: byDir.get(r.run)! })))));
    note(`wrote ${flags.plot}`);
  }
  if (flags.json) process.stdout.write(JSON.stringify({ runs: rows, varying: settings.varying, testSets: settings.testSets, skipped }) + "\n");
  else if (flags.csv) process.stdout.write(formatCsv(rows));
  else {
    const color = flags.color !== false && !process.env.NO_COLOR && process.stdout.isTTY === true;
    process.stdout.write(formatTable(rows, new Chalk({ level: color && supportsColor ? supportsColor.level : 0 }), settings));
    const shared = describeShared(settings);
    if (shared) note(`${rows.length === 1 ? "the run" : `all ${rows.length} runs`}: ${shared}`);
    if (settings.testSets.length > 1) {
      note(`runs evaluated on ${settings.testSets.length} different test sets (${settings.testSets.join(", ")}; column "test set"): their test accuracies do not compare directly`);
    }
    const count = (status: string) => rows.filter((r) => r.status === status).length;
    const plural = (n: number) => (n > 1 ? "s" : "");
    const incomplete = count("incomplete");
    const diverged = count("diverged");
    if (incomplete > 0) note(`${incomplete} incomplete run${plural(incomplete)} (no model.json: interrupted or still running) ranked after the finished ones; their numbers are from the last CSV rows`);
    if (diverged > 0) note(`${diverged} diverged run${plural(diverged)} (the loss became NaN or infinite; no model) ranked last`);
  }
  return EXIT.ok;
}

/** Folders below a sweep folder searched for runs; deeper ones are not looked into. */
const MAX_DEPTH = 8;

/**
 * Each argument (or glob): a run folder, or a folder with run folders anywhere below it (nested
 * sweeps: sweep/lr-0.1/seed-1/…); a run folder's own subfolders are not searched. Files are
 * ignored; folders holding no run are noted and skipped.
 */
export async function expandRunDirs(args: string[], note: (line: string) => void): Promise<string[]> {
  const dirs: string[] = [];
  const expanded: string[] = [];
  for (const arg of args) {
    const exists = await fs.stat(arg).then(() => true, () => false);
    // A pattern the shell did not expand (quoted, or a shell without globbing): expand it here.
    if (!exists && /[*?[]/.test(arg)) {
      const matches = await expandGlob(arg);
      if (matches.length === 0) throw new MnistError(`${arg}: no folder matches`);
      expanded.push(...matches);
    } else expanded.push(arg);
  }
  for (const arg of expanded) {
    const stat = await fs.stat(arg).catch(() => null);
    if (!stat) throw new MnistError(`${arg}: no such folder`);
    // Files a glob picks up beside the run folders (logs, overlay.svg) are not runs: skipped quietly.
    if (!stat.isDirectory()) continue;
    const runs = await findRuns(arg, 0);
    if (runs.length === 0) note(`skipping ${arg}: not a run folder (no config.json or loss.csv) and holds none`);
    dirs.push(...runs);
  }
  // One row per run: runs/latest (a symlink) and the folder it points at are the same run.
  const byTarget = new Map<string, string>();
  for (const dir of dirs) {
    const real = await fs.realpath(dir).catch(() => path.resolve(dir));
    const viaLink = (await fs.lstat(dir).catch(() => null))?.isSymbolicLink() ?? false;
    if (!byTarget.has(real) || !viaLink) byTarget.set(real, dir);
  }
  return [...byTarget.values()];
}

async function findRuns(dir: string, depth: number): Promise<string[]> {
  if (await isRunDir(dir)) return [dir];
  if (depth >= MAX_DEPTH) return [];
  // isDirectory() is false for symbolic links, so a link cannot lead the search in circles
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const children = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const runs: string[] = [];
  for (const child of children) runs.push(...(await findRuns(path.join(dir, child), depth + 1)));
  return runs;
}

/** `*`, `?` and `[…]` in any path segment (no `**`), matched against folder entries, sorted. */
export async function expandGlob(pattern: string): Promise<string[]> {
  const absolute = path.isAbsolute(pattern);
  const segments = pattern.split(/[\\/]+/).filter((s, i) => s !== "" || i === 0);
  let paths = [absolute ? path.parse(path.resolve(pattern)).root : ""];
  for (const segment of segments) {
    if (segment === "") continue;
    if (!/[*?[]/.test(segment)) {
      paths = paths.map((p) => (p ? path.join(p, segment) : segment));
      continue;
    }
    const re = globSegment(segment);
    const next: string[] = [];
    for (const p of paths) {
      const entries = await fs.readdir(p || ".").catch(() => [] as string[]);
      for (const e of entries.sort()) if (re.test(e) && !(e.startsWith(".") && !segment.startsWith("."))) next.push(p ? path.join(p, e) : e);
    }
    paths = next;
  }
  return paths;
}

/** One path segment's pattern as a RegExp; an unclosed `[` matches itself, as in the shell. */
function globSegment(segment: string): RegExp {
  const body = segment.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".").replace(/\[!/g, "[^");
  try {
    return new RegExp("^" + body + "$");
  } catch {
    return new RegExp("^" + body.replace(/\[/g, "\\[") + "$");
  }
}

/** Short legend labels: the folder names, or the paths when names repeat. */
function uniqueLabels(dirs: string[]): string[] {
  const names = dirs.map((d) => path.basename(path.resolve(d)));
  return new Set(names).size === names.length ? names : dirs;
}
