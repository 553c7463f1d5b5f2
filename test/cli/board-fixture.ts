/**
 * A runs tree for mnist-board's tests: one real trained run (a small model that reads digits
 * well enough), copies of it dressed as a sweep point and an early-stopped run, a run still being
 * written, a diverged and an interrupted one, malformed folders, a symbolic link leading out of
 * the root, and a secret file beside the root that must never be served.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, runBin } from "../helpers.js";

export const SECRET = "top secret: not part of any run";
export const TRAINED = "sweep/lr-0.5";

export interface Tree {
  root: string;
  secretFile: string;
  /** Appends loss rows (and one epochs.csv row) to the live run; returns its last iteration. */
  grow(rows: number): number;
  /** Marks the live run as just written (a slow machine may take longer than the running window to get to the check). */
  touch(): void;
}

const LOSS_HEADER = "iteration,loss\n";
const EPOCHS_HEADER = "epoch,iteration,train_acc,test_acc,elapsed_s\n";

export async function makeTree(base: string): Promise<Tree> {
  const root = path.join(base, "runs");
  const trained = path.join(root, ...TRAINED.split("/"));
  mkdirSync(path.dirname(trained), { recursive: true });
  const r = await runBin("mnist-train", ["--iters", "1500", "--lr", "0.5", "--seed", "1", "--eval-every", "300", "--test-limit", "1000", "--threads", "1", "--quiet", "--out", trained]);
  if (r.code !== 0) throw new Error(`training the fixture run failed: ${r.stderr}`);
  const config = JSON.parse(readFileSync(path.join(trained, "config.json"), "utf8"));

  const other = path.join(root, "sweep", "lr-0.1");
  cpSync(trained, other, { recursive: true });
  writeFileSync(path.join(other, "config.json"), JSON.stringify({ ...config, lr: 0.1 }, null, 2));

  const early = path.join(root, "early");
  cpSync(trained, early, { recursive: true });
  const summary = JSON.parse(readFileSync(path.join(trained, "summary.json"), "utf8"));
  writeFileSync(path.join(early, "summary.json"), JSON.stringify({ ...summary, earlyStopped: { iteration: 900, bestIteration: 600, bestValAccuracy: 0.9 } }));

  const old = new Date(Date.now() - 3600_000);
  const partial = (name: string, losses: string[], extra: Record<string, string> = {}) => {
    const dir = path.join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, iters: 5000 }, null, 2));
    writeFileSync(path.join(dir, "loss.csv"), LOSS_HEADER + losses.map((l, i) => `${i},${l}\n`).join(""));
    writeFileSync(path.join(dir, "epochs.csv"), EPOCHS_HEADER + "0,0,0.1,0.1,0.5\n");
    for (const [f, text] of Object.entries(extra)) writeFileSync(path.join(dir, f), text);
    return dir;
  };
  const lossAt = (i: number) => (2.3 * Math.exp(-i / 200) + 0.2).toFixed(6);
  const liveDir = partial("live", Array.from({ length: 50 }, (_, i) => lossAt(i)));
  for (const [name, losses, extra] of [
    ["diverged", ["2.3", "5.1", "NaN"], {}],
    ["interrupted", ["2.3", "2.2", "2.1"], { "checkpoint.json": "{}" }],
  ] as const) {
    const dir = partial(name, [...losses], extra);
    for (const f of ["loss.csv", "epochs.csv", "config.json", ...Object.keys(extra)]) utimesSync(path.join(dir, f), old, old);
  }
  mkdirSync(path.join(root, "broken"));
  writeFileSync(path.join(root, "broken", "config.json"), "{ not json");
  mkdirSync(path.join(root, "bad-csv"));
  writeFileSync(path.join(root, "bad-csv", "config.json"), JSON.stringify(config));
  writeFileSync(path.join(root, "bad-csv", "loss.csv"), "step;value\n1;2\n");
  writeFileSync(path.join(root, "notes.txt"), "a file beside the runs\n");

  const secretFile = path.join(base, "secret.txt");
  writeFileSync(secretFile, SECRET);
  const outside = path.join(base, "outside-run");
  cpSync(trained, outside, { recursive: true });
  writeFileSync(path.join(outside, "secret.txt"), SECRET);
  symlinkSync(outside, path.join(root, "escape"));
  symlinkSync(secretFile, path.join(root, "sweep", "secret-link.txt"));
  mkdirSync(path.join(root, "linked"));
  writeFileSync(path.join(root, "linked", "config.json"), JSON.stringify(config));
  symlinkSync(secretFile, path.join(root, "linked", "loss.csv"));

  let next = 50;
  return {
    root,
    secretFile,
    grow(rows: number) {
      const lines = Array.from({ length: rows }, (_, k) => `${next + k},${lossAt(next + k)}\n`).join("");
      next += rows;
      writeFileSync(path.join(liveDir, "loss.csv"), lines, { flag: "a" });
      writeFileSync(path.join(liveDir, "epochs.csv"), `${(next / 600).toFixed(4)},${next - 1},0.5,0.5,1.0\n`, { flag: "a" });
      return next - 1;
    },
    touch() {
      const now = new Date();
      utimesSync(path.join(liveDir, "loss.csv"), now, now);
    },
  };
}

export interface Board {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** Sends SIGINT and resolves with the exit code and signal. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the built mnist-board on a free port and waits for the URL it prints first. */
export function startBoard(args: string[]): Promise<Board> {
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "mnist-board.js"), ...args, "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mnist-board printed no URL within 30 s; stderr: ${stderr}`)), 30_000);
    child.stdout!.on("data", (d) => {
      stdout += d;
      const line = stdout.split("\n");
      if (line.length > 1) {
        clearTimeout(timer);
        resolve({
          url: line[0],
          child,
          stderr: () => stderr,
          stop: () => {
            child.kill("SIGINT");
            return exited;
          },
        });
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`mnist-board exited (${code}) before printing its URL: ${stderr}`));
    });
  });
}
