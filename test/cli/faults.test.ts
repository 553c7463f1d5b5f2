/**
 * Faults from outside the program (issue "Nothing lost under faults"): a disk that fills up (a
 * real small tmpfs where the test may mount one, and an injected write error everywhere), closed
 * pipes on stdout and stderr, two runs on one --out, signals sent to `npx mnist-train`, and sizes
 * that would not fit in memory. Each: one line, its documented exit code, nothing lost.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runBin, tempDir, type RunResult } from "../helpers.js";

const tmp = tempDir("mnist-ts-faults-");
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) {
    try {
      execFileSync("umount", [m]);
    } catch {
      // left for the system to clean
    }
  }
  tmp.cleanup();
});

const RUN = ["--train-limit", "1000", "--test-limit", "200", "--batch-size", "20", "--seed", "3", "--eval-every", "100", "--iters", "3000"];
const reference = path.join(tmp.dir, "reference");
const text = (file: string) => readFileSync(file, "utf8");
const params = (dir: string) => JSON.parse(text(path.join(dir, "model.json"))).params;

interface Started {
  child: ChildProcess;
  done: Promise<RunResult>;
  /** Resolves when stderr has printed a line matching `re`. */
  line(re: RegExp): Promise<string>;
}

/** Start a command (`node [nodeArgs] bin/BIN.js args`, or any command) collecting its output. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): Started {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined, ...env };
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  const child = spawn(command, args, { cwd, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => {
    stderr += d;
    for (const w of [...waiters]) {
      const hit = stderr.split("\n").find((l) => w.re.test(l));
      if (hit) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  });
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const line = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const hit = stderr.split("\n").find((l) => re.test(l));
      if (hit) return resolve(hit);
      waiters.push({ re, resolve });
      void done.then(() => reject(new Error(`the process ended without printing ${re}; stderr: ${stderr}`)));
    });
  return { child, done, line };
}

const bin = (name: string) => path.join(ROOT, "bin", `${name}.js`);
/** Node arguments and environment that make writes into `dir` to files matching `match` fail after `after` bytes. */
const withFailingWrites = (dir: string, match: string, after: number, code = "ENOSPC") => ({
  nodeArgs: ["--import", path.join(ROOT, "test", "fixtures", "fail-writes.mjs")],
  env: { FAIL_WRITES_DIR: dir, FAIL_WRITES_MATCH: match, FAIL_WRITES_AFTER: String(after), FAIL_WRITES_CODE: code },
});

/** Exited (or a zombie its new parent has not reaped yet): the process runs no more. */
function ended(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }
}

/** A CSV made of its header and whole rows only (no half row left by a failed write). */
function expectWholeRows(file: string, fields: number): number {
  const t = text(file);
  expect(t.endsWith("\n")).toBe(true);
  const rows = t.trim().split("\n").slice(1);
  for (const r of rows) expect(r.split(",").map(Number).filter(Number.isFinite)).toHaveLength(fields);
  return rows.length;
}

/** Resume a rescued run to the end and check it is the uninterrupted run, bit for bit. */
async function expectResumesToReference(dir: string): Promise<void> {
  const r = await runBin("mnist-train", ["--resume", dir, "--quiet"]);
  expect([r.code, r.stderr]).toEqual([0, ""]);
  expect(params(dir)).toEqual(params(reference));
  expect(text(path.join(dir, "loss.csv"))).toBe(text(path.join(reference, "loss.csv")));
}

beforeAll(async () => {
  const r = await runBin("mnist-train", [...RUN, "--quiet", "--out", reference]);
  expect(r.code).toBe(0);
}, 120_000);

describe("a disk that fills up or fails", () => {
  it("an injected ENOSPC while appending loss.csv: exit 4, whole rows on disk, the run saved elsewhere and resumable bit for bit", async () => {
    const out = path.join(tmp.dir, "enospc-csv");
    const rescueRoot = path.join(tmp.dir, "rescue-csv");
    mkdirSync(rescueRoot);
    const f = withFailingWrites(out, "loss\\.csv|checkpoint\\.json", 20_000);
    const r = await start(process.execPath, [...f.nodeArgs, bin("mnist-train"), ...RUN, "--quiet", "--out", out], { ...f.env, TMPDIR: rescueRoot }).done;
    expect(r.code).toBe(4);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    const m = /^mnist-train: .*loss\.csv: cannot write \(ENOSPC\); stopped after (\d+) iterations; the run is saved in (\S+): continue with: mnist-train --resume (\S+)$/.exec(lines[0]);
    expect(m, lines[0]).not.toBeNull();
    expect(m![2]).toBe(m![3]);
    expect(path.dirname(m![2])).toBe(rescueRoot);
    expect(Number(m![1])).toBeLessThan(3000);
    // what did reach the run folder is whole rows, and the folder is no longer locked
    expect(expectWholeRows(path.join(out, "loss.csv"), 2)).toBeGreaterThan(0);
    expect(existsSync(path.join(out, ".lock"))).toBe(false);
    expect(readdirSync(m![2]).sort()).toEqual(["checkpoint.json", "config.json", "epochs.csv", "loss.csv"]);
    await expectResumesToReference(m![2]);
  }, 180_000);

  it("an injected EIO writing model.json after training: exit 4, the trained model saved elsewhere, the same as the reference's", async () => {
    const out = path.join(tmp.dir, "eio-model");
    const rescueRoot = path.join(tmp.dir, "rescue-model");
    mkdirSync(rescueRoot);
    const f = withFailingWrites(out, "model\\.json", 0, "EIO");
    const r = await start(process.execPath, [...f.nodeArgs, bin("mnist-train"), ...RUN, "--quiet", "--out", out], { ...f.env, TMPDIR: rescueRoot }).done;
    expect(r.code).toBe(4);
    const m = /^mnist-train: .*model\.json: cannot write \(EIO\); training finished; the trained model is saved in (\S+)$/.exec(r.stderr.trim());
    expect(m, r.stderr).not.toBeNull();
    expect(JSON.parse(text(m![1])).params).toEqual(params(reference));
    expect(existsSync(path.join(out, "model.json"))).toBe(false);
    expect(readdirSync(out).filter((e) => e.endsWith(".tmp"))).toEqual([]);
  }, 180_000);

  it("a real full disk (a 48 KB tmpfs): exit 4, the run saved elsewhere and resumable bit for bit", async (ctx) => {
    const mnt = path.join(tmp.dir, "tmpfs");
    mkdirSync(mnt);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=48k", "tmpfs", mnt], { stdio: "ignore" });
      mounts.push(mnt);
    } catch {
      ctx.skip("mounting a tmpfs needs root and a system that allows it; the injected ENOSPC test covers the same path");
      return;
    }
    const rescueRoot = path.join(tmp.dir, "rescue-tmpfs");
    mkdirSync(rescueRoot);
    const out = path.join(mnt, "run");
    const r = await runBin("mnist-train", [...RUN, "--quiet", "--out", out], { env: { TMPDIR: rescueRoot } });
    expect(r.code).toBe(4);
    const m = /^mnist-train: .*: cannot write \(ENOSPC\); stopped after \d+ iterations; the run is saved in (\S+): continue with/.exec(r.stderr.trim());
    expect(m, r.stderr).not.toBeNull();
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expectWholeRows(path.join(out, "loss.csv"), 2);
    await expectResumesToReference(m![1]);
  }, 180_000);
});

describe("closed pipes", () => {
  it("mnist-train with stderr and stdout closed from the start trains to the end and writes everything", async () => {
    const out = path.join(tmp.dir, "epipe-train");
    const s = start(process.execPath, [bin("mnist-train"), ...RUN, "--json", "--out", out]);
    s.child.stderr!.destroy();
    s.child.stdout!.destroy();
    const r = await s.done;
    expect(r.code).toBe(0);
    expect(params(out)).toEqual(params(reference));
    expect(existsSync(path.join(out, "summary.json"))).toBe(true);
  }, 120_000);

  it("mnist-eval --show-errors with stdout closed: exit 0, no EPIPE, no trace", async () => {
    const s = start(process.execPath, [bin("mnist-eval"), reference, "--show-errors", "50"]);
    s.child.stdout!.destroy();
    const r = await s.done;
    expect([r.code, r.stderr]).toEqual([0, ""]);
  }, 60_000);
});

describe("one run folder, one process", () => {
  it("a second run (or a --resume) on an --out in use is refused at once, naming the owner; the first run is untouched", async () => {
    const out = path.join(tmp.dir, "shared");
    // long enough to be still running while the others are refused; stopped by a signal after
    const a = start(process.execPath, [bin("mnist-train"), ...RUN, "--iters", "1000000", "--out", out]);
    await a.line(/^epoch .*\(iteration \d+, evaluation 1,/);
    const owner = JSON.parse(text(path.join(out, ".lock"))).pid;
    expect(owner).toBe(a.child.pid);
    const refused = `--out ${out}: the run folder is in use by another mnist-train (pid ${owner}); wait for it, or choose another folder`;
    for (const args of [["--seed", "4", "--force"], []]) {
      const b = await runBin("mnist-train", [...RUN, ...args, "--quiet", "--out", out]);
      expect([b.code, b.stderr.trim()]).toEqual([1, `mnist-train: ${refused}`]);
    }
    const d = await runBin("mnist-train", ["--resume", out, "--quiet"]);
    expect([d.code, d.stderr.trim()]).toEqual([1, `mnist-train: ${refused.replace("--out", "--resume")}`]);
    a.child.kill("SIGINT");
    expect((await a.done).code).toBe(130);
    // the folder is the first run's alone: its config, whole rows, its checkpoint; no lock left
    expect(JSON.parse(text(path.join(out, "config.json"))).seed).toBe(3);
    expect(JSON.parse(text(path.join(out, "checkpoint.json"))).iteration).toBe(expectWholeRows(path.join(out, "loss.csv"), 2));
    expect(existsSync(path.join(out, ".lock"))).toBe(false);
  }, 120_000);

  it("two runs started together on one --out: one trains, the other is refused; the folder holds one run", async () => {
    const out = path.join(tmp.dir, "race");
    const runs = [3, 4].map((seed) => start(process.execPath, [bin("mnist-train"), ...RUN, "--iters", "300", "--seed", String(seed), "--quiet", "--out", out]).done);
    const [x, y] = await Promise.all(runs);
    expect([x.code, y.code].sort()).toEqual([0, 1]);
    const loser = x.code === 1 ? x : y;
    expect(loser.stderr.trim()).toMatch(/: (the run folder is in use by another mnist-train \(pid \d+\)|the folder is not empty \(\d+ entries\))/);
    const model = JSON.parse(text(path.join(out, "model.json")));
    expect(JSON.parse(text(path.join(out, "config.json"))).seed).toBe(model.training.seed);
    expect(expectWholeRows(path.join(out, "loss.csv"), 2)).toBe(300);
  }, 120_000);

  it("--force over a previous run removes its files (said on stderr), so nothing of it mixes with the new run", async () => {
    const out = path.join(tmp.dir, "forced");
    expect((await runBin("mnist-train", [...RUN, "--iters", "100", "--val-size", "100", "--quiet", "--out", out])).code).toBe(0);
    writeFileSync(path.join(out, "notes.txt"), "mine");
    const r = await runBin("mnist-train", [...RUN, "--iters", "50", "--quiet", "--out", out, "--force"]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe(`mnist-train: --force: removed the previous run's config.json, loss.csv, epochs.csv, val.csv, model.json, summary.json, curves.svg from ${out}`);
    expect(readdirSync(out).sort()).toEqual(["config.json", "curves.svg", "epochs.csv", "loss.csv", "model.json", "notes.txt", "summary.json"]);
    expect(expectWholeRows(path.join(out, "loss.csv"), 2)).toBe(50);
  }, 120_000);
});

describe("signals through npx reach the trainer", () => {
  // npx runs `sh -c mnist-train …` under npm: npm forwards SIGTERM to the shell only, and SIGHUP
  // ends npm alone. Either way the trainer must stop with a checkpoint, as with `node bin/…`.
  // The launchers are watched through /proc (Linux); elsewhere a signal to npx is not passed on.
  const linux = existsSync("/proc/self/stat");
  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    it.skipIf(!linux)(`${signal} to the npx process: the trainer stops, writes its checkpoint and releases the folder`, async () => {
      const out = path.join(tmp.dir, `npx-${signal}`);
      const s = start("npx", ["--offline", "--no-install", "mnist-train", ...RUN, "--iters", "100000", "--out", out]);
      await s.line(/^epoch .*\(iteration \d+, evaluation 1,/);
      const trainer = JSON.parse(text(path.join(out, ".lock"))).pid;
      expect(trainer).not.toBe(s.child.pid);
      s.child.kill(signal);
      // `close` comes when every holder of the pipes has exited: npx and the trainer
      const r = await s.done;
      expect(r.stderr).toMatch(/mnist-train: interrupted after \d+ iterations; checkpoint written, no model\.json; continue with: mnist-train --resume /);
      expect(ended(trainer)).toBe(true);
      expect(existsSync(path.join(out, "checkpoint.json"))).toBe(true);
      expect(existsSync(path.join(out, ".lock"))).toBe(false);
    }, 120_000);
  }

  it("SIGHUP to `node bin/mnist-train.js` stops the run the same way (exit 130, checkpoint)", async () => {
    const out = path.join(tmp.dir, "node-hup");
    const s = start(process.execPath, [bin("mnist-train"), ...RUN, "--iters", "100000", "--out", out]);
    await s.line(/^epoch .*\(iteration \d+, evaluation 1,/);
    s.child.kill("SIGHUP");
    const r = await s.done;
    expect(r.code).toBe(130);
    expect(existsSync(path.join(out, "checkpoint.json"))).toBe(true);
  }, 120_000);
});

describe("sizes that do not fit: one line, exit 2, before any folder or allocation", () => {
  const cases: [string[], RegExp][] = [
    [["--hidden-size", "30000,30000"], /^mnist-train: --hidden-size 30000,30000: a 784-30000-30000-10 net \(923,880,010 parameters\) would write a model\.json of up to \d+ MB, more than the 256 MB mnist-eval reads$/],
    [["--hidden-size", "20000"], /^mnist-train: --hidden-size 20000: .* model\.json of up to 379 MB, more than the 256 MB mnist-eval reads$/],
    [["--batch-size", "1000000"], /^mnist-train: --batch-size 1000000 with a 784-50-10 net .* needs about [\d.]+ GB of kernel memory, more than the 4\.0 GB a WebAssembly memory holds; use a smaller --batch-size$/],
    [["--hidden-size", "8000", "--optimizer", "adam", "--val-size", "100", "--early-stop", "3"], /^mnist-train: --hidden-size 8000 with --optimizer adam and --early-stop: a 784-8000-10 net \(6,360,010 parameters\) would write a checkpoint\.json of up to \d+ MB, more than the 500 MB --resume reads$/],
  ];
  for (const [args, message] of cases) {
    it(args.join(" "), async () => {
      const out = path.join(tmp.dir, `big-${args.join("")}`);
      const rssFile = path.join(tmp.dir, `rss-${args.join("")}`);
      const r = await start(process.execPath, ["--import", path.join(ROOT, "test", "fixtures", "report-rss.mjs"), bin("mnist-train"), ...args, "--out", out], { RSS_FILE: rssFile }).done;
      expect([r.code, r.stderr.trim().split("\n").length]).toEqual([2, 1]);
      expect(r.stderr.trim()).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expect(Number(text(rssFile))).toBeLessThan(400 * 1024 ** 2);
    }, 60_000);
  }

  it("--threads 256 on this machine's cores: a warning, and the run is the same", async () => {
    const out = path.join(tmp.dir, "threads");
    const r = await runBin("mnist-train", [...RUN, "--quiet", "--threads", "256", "--out", out]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toMatch(/^mnist-train: --threads 256 is more than the \d+ cores; using \d+ \(results do not depend on it\)$/);
    expect(params(out)).toEqual(params(reference));
  }, 120_000);
});
