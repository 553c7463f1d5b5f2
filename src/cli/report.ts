/**
 * mnist-report RUN_DIR…: the run folders of a sweep as one table ranked by test accuracy
 * (hyperparameters, final loss, train/test accuracy, wall time), or CSV / JSON, and with --plot an
 * SVG overlaying every run's curves. A folder holding run folders stands for all of them.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { Chalk, supportsColor } from "chalk";
import { MnistError, UsageError } from "../errors.js";
import { writeFileAtomic } from "../io/files.js";
import { overlaySpec, renderSvg } from "../report/curves.js";
import { isRunDir, readRun, type RunData } from "../report/run-data.js";
import { formatCsv, formatTable, reportRows } from "../report/table.js";
import { debugOption, EXIT, newProgram, noColorOption } from "./run-command.js";

const NAME = "mnist-report";

export async function main(argv: string[]): Promise<number> {
  const program = newProgram(NAME)
    .description("Rank run folders by test accuracy: hyperparameters, final loss, train/test accuracy, wall time.")
    .argument("<run-dir...>", "run folders written by mnist-train (globs welcome), or folders that hold them")
    .option("--json", "print one JSON line: { runs: [...], skipped: [...] }")
    .option("--csv", "print the table as CSV")
    .option("--plot <file.svg>", "write an SVG overlaying every run's loss and accuracy curves")
    .addOption(noColorOption())
    .addOption(debugOption())
    .helpOption("-h, --help");
  program.parse(argv, { from: "user" });
  const flags = program.opts();
  if (flags.json && flags.csv) throw new UsageError("--json and --csv are exclusive: choose one");
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
  const rows = reportRows(runs);

  if (flags.plot) {
    const byDir = new Map(runs.map((r) => [r.dir, r]));
    const labels = uniqueLabels(rows.map((r) => r.run));
    await writeFileAtomic(flags.plot, await renderSvg(overlaySpec(rows.map((r, i) => ({ label: labels[i], run: byDir.get(r.run)! })))));
    note(`wrote ${flags.plot}`);
  }
  if (flags.json) process.stdout.write(JSON.stringify({ runs: rows, skipped }) + "\n");
  else if (flags.csv) process.stdout.write(formatCsv(rows));
  else {
    const color = flags.color !== false && !process.env.NO_COLOR && process.stdout.isTTY === true;
    process.stdout.write(formatTable(rows, new Chalk({ level: color && supportsColor ? supportsColor.level : 0 })));
    const incomplete = rows.filter((r) => r.status !== "complete").length;
    if (incomplete > 0) note(`${incomplete} incomplete run${incomplete > 1 ? "s" : ""} (no model.json: interrupted or still running) ranked last; their numbers are from the last CSV rows`);
  }
  return EXIT.ok;
}

/** Each argument (or glob): a run folder, or a folder whose subfolders are runs. Files are ignored; other folders noted and skipped. */
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
    if (await isRunDir(arg)) {
      dirs.push(arg);
      continue;
    }
    const children = (await fs.readdir(arg, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => path.join(arg, e.name));
    const runs: string[] = [];
    for (const child of children.sort()) if (await isRunDir(child)) runs.push(child);
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
