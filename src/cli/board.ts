/**
 * mnist-board [RUNS_DIR]: a local web page over the run folders under RUNS_DIR (default runs/):
 * the runs table, live curves, a model's confusion matrix, errors and filters, and a canvas to
 * draw digits on. Prints its URL as the first line on stdout; Ctrl-C stops it.
 */
import { promises as fs } from "node:fs";
import type { AddressInfo } from "node:net";
import { createBoard } from "../board/server.js";
import { MnistError, UsageError } from "../errors.js";
import type { Command } from "commander";
import { debugOption, EXIT, newProgram } from "./run-command.js";

const NAME = "mnist-board";
export const DEFAULT_PORT = 6006;
/** With the default port, this many following ports are tried when it is taken. */
const PORT_TRIES = 20;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** The command line: its arguments and options (the docs reference is checked against them). */
export function buildProgram(): Command {
  return newProgram(NAME)
  .description("Watch, compare and try runs in a browser: runs table, live curves, model views, draw a digit. Read-only; binds 127.0.0.1.")
  .argument("[runs-dir]", "folder holding run folders (nested sweep folders too)", "runs")
  .option("--port <n>", `port (default ${DEFAULT_PORT}, or the next free one; 0 = any free port)`)
  .option("--host <host>", "address to bind (default 127.0.0.1: this machine only)", "127.0.0.1")
  .addOption(debugOption())
      .helpOption("-h, --help");
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: "user" });
  const flags = program.opts();
  const root: string = program.args[0] ?? "runs";
  const port = parsePort(flags.port);
  const host: string = flags.host;
  if (host.trim() === "") throw new UsageError("--host must be an address or host name (got an empty string)");

  const stat = await fs.stat(root).catch(() => null);
  if (!stat) throw new MnistError(`${root}: no such folder (train a run first, or name the folder that holds your runs)`);
  if (!stat.isDirectory()) throw new MnistError(`${root}: is not a folder`);

  const board = createBoard({ root, hosts: [host, host.includes(":") ? `[${host}]` : host] });
  const bound = await listen(board.server, host, port ?? DEFAULT_PORT, port === undefined ? PORT_TRIES : 1);
  const shown = host.includes(":") ? `[${host}]` : host;
  process.stdout.write(`http://${shown}:${bound}/\n`);
  process.stderr.write(`${NAME}: serving the runs under ${root} (read-only); Ctrl-C to stop\n`);
  if (!LOOPBACK.has(host)) process.stderr.write(`${NAME}: bound to ${host}: anyone who can reach this machine there can read these runs\n`);

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void board.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  process.stderr.write(`${NAME}: stopped\n`);
  return EXIT.ok;
}

function parsePort(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535 (got ${JSON.stringify(text)})`);
  return n;
}

function listen(server: import("node:http").Server, host: string, port: number, tries: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let attempt = 0;
    const tryPort = (p: number) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off("listening", onListening);
        if (err.code === "EADDRINUSE" && ++attempt < tries) return tryPort(p + 1);
        if (err.code === "EADDRINUSE") reject(new MnistError(tries > 1 ? `ports ${port}–${p} are all in use; choose one with --port` : `--port ${p}: the port is in use`));
        else if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") reject(new MnistError(`--host ${host}: not an address of this machine (${err.code})`));
        else if (err.code === "EACCES") reject(new MnistError(`--port ${p}: not allowed to bind it (EACCES)`));
        else reject(err);
      };
      const onListening = () => {
        server.off("error", onError);
        resolve((server.address() as AddressInfo).port);
      };
      server.once("error", onError);
      server.once("listening", onListening);
      server.listen(p, host);
    };
    tryPort(port);
  });
}
