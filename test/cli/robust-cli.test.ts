/**
 * mnist-train and mnist-eval when things go wrong: divergence, signals, resume, crashes, hostile
 * files, unusable output folders. Each failure: one line, its documented exit code, nothing lost.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { reportError } from "../../src/cli/run-command.js";
import { ROOT, runBin, tempDir, type RunResult } from "../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const RUN = ["--train-limit", "1000", "--test-limit", "200", "--batch-size", "20", "--seed", "3", "--quiet"];

function startBin(bin: string, args: string[], extraEnv: Record<string, string> = {}): { child: ChildProcess; done: Promise<RunResult> } {
  const env = { ...process.env, ...extraEnv };
  delete env.FORCE_COLOR;
  const child = spawn(process.execPath, [path.join(ROOT, "bin", `${bin}.js`), ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Data rows in a CSV (the header excluded), 0 while it does not exist. */
function csvRows(file: string): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file, "utf8").split("\n").length - 2;
}

async function waitForRows(file: string, rows: number, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (csvRows(file) < rows) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${file}: fewer than ${rows} rows after ${timeoutMs} ms`);
    await sleep(20);
  }
}

const params = (dir: string) => JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")).params;
const text = (dir: string, f: string) => readFileSync(path.join(dir, f), "utf8");
/** epochs.csv without elapsed_s (the only column that depends on the clock). */
const epochsNoTime = (dir: string) =>
  text(dir, "epochs.csv")
    .trim()
    .split("\n")
    .map((l) => l.split(",").slice(0, 4).join(","));
const noTempFiles = (dir: string) => expect(readdirSync(dir).filter((f) => f.endsWith(".tmp") || f.startsWith(".write-test"))).toEqual([]);

describe("interrupt and resume", () => {
  const reference = path.join(tmp.dir, "uninterrupted");
  // Long enough (about a second here) that the signal always lands before the run ends, however
  // late the 20 ms poll and the buffered loss.csv let the test see the target iteration.
  const N = 5000;
  const ITERS = ["--iters", String(N)];

  it("an uninterrupted reference run", async () => {
    const r = await runBin("mnist-train", [...RUN, ...ITERS, "--out", reference]);
    expect(r.code).toBe(0);
    expect(existsSync(path.join(reference, "checkpoint.json"))).toBe(false);
  });

  it("SIGINT at a random iteration: exit 130 and a checkpoint; --resume ends bit-identical to the uninterrupted run", async () => {
    const dir = path.join(tmp.dir, "interrupted");
    const { child, done } = startBin("mnist-train", [...RUN, ...ITERS, "--out", dir]);
    const target = 1 + Math.floor(Math.random() * 150);
    await waitForRows(path.join(dir, "loss.csv"), target);
    child.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toBe(""); // --quiet
    expect(readdirSync(dir).sort()).toEqual(["checkpoint.json", "config.json", "epochs.csv", "loss.csv"]);
    const checkpoint = JSON.parse(text(dir, "checkpoint.json"));
    expect(checkpoint).toMatchObject({ format: "mnist-ts.checkpoint", version: 1 });
    expect(checkpoint.iteration).toBeGreaterThanOrEqual(target);
    expect(checkpoint.iteration).toBeLessThan(N);
    expect(csvRows(path.join(dir, "loss.csv"))).toBe(checkpoint.iteration); // flushed up to the stop

    const resumed = await runBin("mnist-train", ["--resume", dir, "--json"]);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ iterations: N, seed: 3 });
    expect(resumed.stderr).toMatch(new RegExp(`resuming at iteration ${checkpoint.iteration}`));
    expect(params(dir)).toEqual(params(reference));
    expect(text(dir, "loss.csv")).toBe(text(reference, "loss.csv"));
    expect(epochsNoTime(dir)).toEqual(epochsNoTime(reference));
    expect(existsSync(path.join(dir, "checkpoint.json"))).toBe(false);
    noTempFiles(dir);
  });

  it("a crash (SIGKILL) after --checkpoint-every: resume trims the CSVs to the checkpoint and still ends bit-identical", async () => {
    const dir = path.join(tmp.dir, "crashed");
    const { child, done } = startBin("mnist-train", [...RUN, ...ITERS, "--out", dir, "--checkpoint-every", "60"]);
    const ckpt = path.join(dir, "checkpoint.json");
    const t0 = Date.now();
    while (!existsSync(ckpt) || JSON.parse(readFileSync(ckpt, "utf8")).iteration < 120) {
      if (Date.now() - t0 > 60_000) throw new Error("no checkpoint");
      await sleep(20);
    }
    child.kill("SIGKILL");
    await done;
    const at = JSON.parse(readFileSync(ckpt, "utf8")).iteration;
    expect(at % 60).toBe(0);
    expect(csvRows(path.join(dir, "loss.csv"))).toBeGreaterThanOrEqual(at); // possibly rows past the checkpoint
    const resumed = await runBin("mnist-train", ["--resume", dir, "--quiet"]);
    expect(resumed.code).toBe(0);
    expect(params(dir)).toEqual(params(reference));
    expect(text(dir, "loss.csv")).toBe(text(reference, "loss.csv"));
    expect(epochsNoTime(dir)).toEqual(epochsNoTime(reference));
  });

  it("a second signal exits at once with 130, leaving only complete files", async () => {
    const dir = path.join(tmp.dir, "twice");
    const { child, done } = startBin("mnist-train", [...RUN, "--iters", "100000", "--out", dir]);
    await waitForRows(path.join(dir, "loss.csv"), 1);
    child.kill("SIGTERM");
    child.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(130);
    noTempFiles(dir);
    expect(existsSync(path.join(dir, "model.json"))).toBe(false);
    JSON.parse(text(dir, "config.json"));
    const loss = text(dir, "loss.csv");
    expect(loss.endsWith("\n")).toBe(true);
    for (const line of loss.trim().split("\n").slice(1)) expect(line).toMatch(/^\d+,\d+(\.\d+)?(e-?\d+)?$/);
    if (existsSync(path.join(dir, "checkpoint.json"))) JSON.parse(text(dir, "checkpoint.json"));
  });

  it("a signal before training starts exits 130 at once", async () => {
    const dir = path.join(tmp.dir, "early");
    // The data comes from a local mirror that never answers: the signal lands while the command
    // waits for it, after its handlers are installed and before any run folder exists.
    let requested!: () => void;
    const asked = new Promise<void>((resolve) => (requested = resolve));
    const server = createServer(() => requested());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const args = [...RUN, "--data-source", "download", "--data-dir", path.join(tmp.dir, "early-cache"), "--out", dir];
      const { child, done } = startBin("mnist-train", args, { MNIST_MIRROR: mirror });
      await asked;
      child.kill("SIGINT");
      const r = await done;
      expect(r.code).toBe(130);
      expect(existsSync(dir)).toBe(false);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  /** A run folder holding the reference run's config.json and nothing else. */
  const noCheckpoint = () => {
    const dir = path.join(tmp.dir, "config-only");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "config.json"), text(reference, "config.json"));
    return dir;
  };

  it("refuses to resume what it cannot: changed options, finished runs, missing or tampered files", async () => {
    const cases: [string[], number, RegExp][] = [
      [["--resume", reference, "--lr", "0.5"], 2, /^mnist-train: --resume continues a run with the options in its config\.json; --lr cannot be given with it$/],
      [["--resume", reference, "--out", "x"], 2, /--out cannot be given with it$/],
      [["--resume", reference], 1, /^mnist-train: --resume .*uninterrupted: nothing to resume: the run is complete \(model\.json exists\)$/],
      [["--resume", path.join(tmp.dir, "nope")], 1, /^mnist-train: --resume .*nope: no such run folder$/],
      [["--resume", noCheckpoint()], 1, /nothing to resume: no checkpoint\.json in it$/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runBin("mnist-train", args);
      expect([r.code, r.stderr.trim()]).toEqual([code, expect.stringMatching(message)]);
    }
    // a checkpoint whose config.json was edited since
    const dir = path.join(tmp.dir, "tampered");
    const { child, done } = startBin("mnist-train", [...RUN.filter((a) => a !== "--quiet"), "--iters", "100000", "--out", dir]);
    await waitForRows(path.join(dir, "loss.csv"), 1);
    child.kill("SIGINT");
    const interrupted = await done;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr.trim().split("\n").at(-1)).toMatch(
      /^mnist-train: interrupted after \d+ iterations; checkpoint written, no model\.json; continue with: mnist-train --resume .*tampered$/,
    );
    const config = JSON.parse(text(dir, "config.json"));
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, lr: 0.5 }, null, 2) + "\n");
    let r = await runBin("mnist-train", ["--resume", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/checkpoint\.json: was written for a different config\.json/);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
    const checkpoint = JSON.parse(text(dir, "checkpoint.json"));
    writeFileSync(path.join(dir, "checkpoint.json"), JSON.stringify({ ...checkpoint, params: { ...checkpoint.params, b1: [1, "x"] } }));
    r = await runBin("mnist-train", ["--resume", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/checkpoint\.json: "params\.b1\.1" must hold only finite numbers \(got "x"\)$/);
    writeFileSync(path.join(dir, "checkpoint.json"), JSON.stringify({ ...checkpoint, params: { ...checkpoint.params, b1: [1] } }));
    r = await runBin("mnist-train", ["--resume", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/checkpoint\.json: "params\.b1" has 1 values, expected 50 for a 784-50-10 net$/);
    writeFileSync(path.join(dir, "checkpoint.json"), "{");
    r = await runBin("mnist-train", ["--resume", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/checkpoint\.json: is not valid JSON/);
  });
});

describe("divergence", () => {
  it("a NaN loss stops at once: exit 3, one line, CSVs up to it, no model.json", async () => {
    const dir = path.join(tmp.dir, "diverged");
    const r = await runBin("mnist-train", [...RUN, "--iters", "200", "--lr", "1e308", "--out", dir]);
    expect(r.code).toBe(3);
    const m = r.stderr.trim().match(/^mnist-train: loss became NaN at iteration (\d+) \(lr 1e\+308\); try a smaller --lr$/);
    expect(m).not.toBeNull();
    const at = Number(m![1]);
    const loss = text(dir, "loss.csv").trim().split("\n");
    expect(loss).toHaveLength(at + 2);
    expect(loss[at + 1]).toBe(`${at},NaN`);
    expect(readdirSync(dir).sort()).toEqual(["config.json", "epochs.csv", "loss.csv"]);
  });
});

describe("internal errors", () => {
  it("an unexpected exception is exit 70, one line, the stack only with --debug", () => {
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => (lines.push(s), true)) as typeof process.stderr.write;
    try {
      expect(reportError("mnist-train", new TypeError("x is undefined"), false)).toBe(70);
      expect(lines).toEqual(["mnist-train: internal error: x is undefined (this is a bug; rerun with --debug for details)\n"]);
      expect(reportError("mnist-train", new TypeError("x is undefined"), true)).toBe(70);
      expect(lines[2]).toMatch(/^TypeError: x is undefined\n\s+at /);
    } finally {
      process.stderr.write = write;
    }
  });
});

describe("outputs and hostile files through the bins", () => {
  it("an --out that cannot be created or written is reported before loading data or training", async () => {
    const file = path.join(tmp.dir, "a-file");
    writeFileSync(file, "");
    const t0 = Date.now();
    const r = await runBin("mnist-train", ["--iters", "1000000", "--out", path.join(file, "run")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^mnist-train: --out .*a-file\/run: cannot create the run folder \(ENOTDIR\)$/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it("a non-empty --out is refused; --force accepts it", async () => {
    const dir = path.join(tmp.dir, "full");
    const first = await runBin("mnist-train", [...RUN, "--iters", "2", "--out", dir]);
    expect(first.code).toBe(0);
    const r = await runBin("mnist-train", [...RUN, "--iters", "2", "--out", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/the folder is not empty/);
    expect((await runBin("mnist-train", [...RUN, "--iters", "2", "--out", dir, "--force"])).code).toBe(0);
  });

  it("mnist-eval: __proto__ keys, a huge declared shape and a 2 GB file are one line each, exit 1", async () => {
    const good = text(path.join(tmp.dir, "full"), "model.json");
    const bad = path.join(tmp.dir, "hostile.json");
    const cases: [string, RegExp][] = [
      [good.replace('{"format"', '{"__proto__":{"x":1},"format"'), /hostile\.json: unknown key "__proto__"$/],
      [good.replace('"hiddenSize":50', '"hiddenSize":99999'), /hostile\.json: "architecture" declares more than 50000000 parameters/],
      [good.slice(0, good.length / 2), /hostile\.json: is not valid JSON/],
    ];
    for (const [contents, message] of cases) {
      writeFileSync(bad, contents);
      const r = await runBin("mnist-eval", [bad]);
      expect([r.code, r.stderr.trim().split("\n").length]).toEqual([1, 1]);
      expect(r.stderr.trim()).toMatch(message);
    }
    truncateSync(bad, 2 ** 31);
    const r = await runBin("mnist-eval", [bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/hostile\.json: is 2147483648 bytes, more than the 268435456 a valid file can be$/);
  });

  it("a --config with __proto__ or a wrong type is exit 2, naming the file", async () => {
    const cfg = path.join(tmp.dir, "proto-config.json");
    writeFileSync(cfg, '{"__proto__": {"iters": 1}}');
    let r = await runBin("mnist-train", ["--config", cfg]);
    expect([r.code, r.stderr.trim()]).toEqual([2, `mnist-train: ${cfg}: unknown key "__proto__"`]);
    writeFileSync(cfg, '{"checkpointEvery": "often"}');
    r = await runBin("mnist-train", ["--config", cfg]);
    expect([r.code, r.stderr.trim()]).toEqual([2, `mnist-train: ${cfg}: "checkpointEvery" must be a number (got "often")`]);
  });
});
