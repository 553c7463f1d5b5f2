/**
 * The one error handler every command runs under: a known failure (MnistError, a commander usage
 * error) becomes one line on stderr, `<command>: <message>`, and its documented exit code; anything
 * else is a bug, reported as such, with its stack only under --debug.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { MnistError } from "../errors.js";
import { watchLaunchers } from "./launcher.js";

/** The package's version, for every command's --version (package.json is two folders up from dist/cli and src/cli). */
export const VERSION: string = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;

export const EXIT = {
  ok: 0,
  /** A failure with a file, the data or the environment (missing model, corrupt IDX, unwritable --out, …). */
  failure: 1,
  /** A bad flag or config value, or an unknown flag. */
  usage: 2,
  /** Training diverged: the loss became NaN or infinite (no model.json written). */
  diverged: 3,
  /**
   * An output could not be written mid-run (disk full, I/O error): the run stopped and what it had
   * was saved (checkpoint or model, in the run folder or a rescue folder the message names).
   */
  writeFailed: 4,
  /** An unexpected internal error (a bug: please report it). */
  internal: 70,
  /** Interrupted by SIGINT/SIGTERM. */
  interrupted: 130,
} as const;

/** Commander configured to report usage errors as `<name>: <message>` and throw instead of exiting; with --version. */
export function newProgram(name: string): Command {
  return new Command(name)
    .version(VERSION, "--version", "print the version and exit")
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${name}: ${str.replace(/^error: /, "")}`) })
    .showSuggestionAfterError(true);
}

/** Options every command that reads MNIST or prints shares (fresh objects: commander owns them). */
export const dataSourceOption = () => new Option("--data-source <source>", "bundled (offline, default) or download");
export const dataDirOption = () => new Option("--data-dir <dir>", "download cache folder (default: data)");
export const noColorOption = () => new Option("--no-color", "no colours (also: NO_COLOR=1)");
export const debugOption = () => new Option("--debug", "show stack traces on errors");

/**
 * A closed stdout or stderr (`| head`, a terminal gone) turns that output off: later writes are
 * dropped, no EPIPE is thrown or printed, and the command goes on (a run still trains and saves).
 */
export function guardOutput(stream: NodeJS.WriteStream): void {
  stream.on("error", () => {
    stream.write = ((_chunk: unknown, encoding?: unknown, cb?: unknown) => {
      const done = typeof encoding === "function" ? encoding : cb;
      if (typeof done === "function") process.nextTick(done as () => void);
      return true;
    }) as typeof stream.write;
  });
}

export async function runCommand(name: string, argv: string[], main: (argv: string[]) => Promise<number | void>): Promise<never> {
  const debug = argv.includes("--debug");
  guardOutput(process.stdout);
  guardOutput(process.stderr);
  watchLaunchers();
  let code: number;
  try {
    code = (await main(argv)) ?? EXIT.ok;
  } catch (err) {
    code = reportError(name, err, debug);
  }
  // Let pending stdout/stderr writes drain before exiting (pipes are asynchronous).
  process.exitCode = code;
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(code);
}

export function reportError(name: string, err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message; help and --version are not errors.
    return err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help" ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof MnistError) {
    process.stderr.write(`${name}: ${err.message}\n`);
    if (debug && err.stack) process.stderr.write(err.stack + "\n");
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`${name}: internal error: ${e?.message ?? String(err)} (this is a bug; rerun with --debug for details)\n`);
  if (debug && e?.stack) process.stderr.write(e.stack + "\n");
  return EXIT.internal;
}
