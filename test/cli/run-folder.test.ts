/**
 * src/run/: the run folder's ownership (lock, stale locks, leftovers of interrupted writes, --force),
 * runs/latest and --name, the full validation of checkpoint.json, and the byte scan that bounds
 * what model.json and checkpoint.json can make the parser allocate. Also the user errors that must
 * be refused before any run folder exists.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/book/rng.js";
import type { MnistSplit } from "../../src/data/mnist.js";
import { FileFormatError } from "../../src/errors.js";
import { checkJsonShape } from "../../src/io/files.js";
import { checkPngDimensions, MAX_IMAGE_PIXELS } from "../../src/image/mnist-preprocess.js";
import { CheckpointSchema, stateFromCheckpoint, toCheckpointJson, type CheckpointJson } from "../../src/run/checkpoint.js";
import { MAX_MODEL_PARAMS, MODEL_JSON_LIMITS } from "../../src/run/model-file.js";
import { checkRunDirUsable, claimRunDir, namedRunDir, pointLatestAt } from "../../src/run/run-dir.js";
import { HyperparametersSchema, type ResolvedHyperparameters } from "../../src/train/hyperparameters.js";
import { train } from "../../src/train/trainer.js";
import { ROOT, runBin, runProcess, tempDir } from "../helpers.js";

const tmp = tempDir("mnist-ts-run-folder-");
afterAll(() => tmp.cleanup());
const notes: string[] = [];
const note = (l: string) => notes.push(l);

/** A process that has exited: its pid is free (and, on Linux, not reused within the test). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("the run folder's lock", () => {
  it("a live owner keeps it: a second claim is refused naming its pid; released, it can be claimed", async () => {
    const dir = path.join(tmp.dir, "owned");
    const lock = await claimRunDir(dir, { force: false, note });
    expect(JSON.parse(readFileSync(path.join(dir, ".lock"), "utf8")).pid).toBe(process.pid);
    // another process (a child holding the same lock file content) is what a second run sees
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      lock.release();
      writeFileSync(path.join(dir, ".lock"), JSON.stringify({ pid: child.pid }));
      await expect(claimRunDir(dir, { force: false, note })).rejects.toThrow(`--out ${dir}: the run folder is in use by another mnist-train (pid ${child.pid})`);
    } finally {
      child.kill();
    }
    await new Promise((r) => child.on("exit", r));
    // its owner gone, the lock is stale and taken over
    const again = await claimRunDir(dir, { force: false, note });
    expect(JSON.parse(readFileSync(path.join(dir, ".lock"), "utf8")).pid).toBe(process.pid);
    again.release();
    expect(existsSync(path.join(dir, ".lock"))).toBe(false);
  });

  it("a crashed owner's lock (dead pid, a reused pid with another start time, or unreadable) does not stick", async () => {
    const dir = path.join(tmp.dir, "stale");
    mkdirSync(dir);
    for (const content of [JSON.stringify({ pid: deadPid() }), JSON.stringify({ pid: process.ppid, started: "1" }), "{\"pi"]) {
      writeFileSync(path.join(dir, ".lock"), content);
      const lock = await claimRunDir(dir, { force: false, note });
      expect(readdirSync(dir)).toEqual([".lock"]);
      lock.release();
    }
  });

  it("temp files of an interrupted write (dead pids) are removed, so the same --out is not refused as not empty", async () => {
    const dir = path.join(tmp.dir, "leftovers");
    mkdirSync(dir);
    const dead = deadPid();
    const leftovers = [`.config.json.${dead}.0123abcd.tmp`, `.write-test-${dead}.renamed`, `.write-test-${dead}`, `.lock.${dead}.89abcdef.stale`];
    for (const f of leftovers) writeFileSync(path.join(dir, f), "x");
    // a live process's temp file is not touched (it may be writing it now)
    const live = `.loss.csv.${process.ppid}.fedcba98.tmp`;
    writeFileSync(path.join(dir, live), "x");
    await checkRunDirUsable(dir, false);
    const lock = await claimRunDir(dir, { force: false, note });
    expect(readdirSync(dir).sort()).toEqual([".lock", live].sort());
    lock.release();
  });

  it("--force removes exactly the previous run's files, and says which", async () => {
    const dir = path.join(tmp.dir, "force");
    mkdirSync(dir);
    for (const f of ["config.json", "loss.csv", "val.csv", "model.json", "mine.txt"]) writeFileSync(path.join(dir, f), "old");
    await expect(claimRunDir(dir, { force: false, note })).rejects.toThrow(`--out ${dir}: the folder is not empty (5 entries); choose another, or pass --force to overwrite`);
    expect(existsSync(path.join(dir, ".lock"))).toBe(false);
    notes.length = 0;
    const lock = await claimRunDir(dir, { force: true, note });
    expect(notes).toEqual([`--force: removed the previous run's config.json, loss.csv, val.csv, model.json from ${dir}`]);
    expect(readdirSync(dir).sort()).toEqual([".lock", "mine.txt"]);
    lock.release();
  });

  it("checking an --out creates nothing; a file in the way or under a file is refused", async () => {
    const dir = path.join(tmp.dir, "not-yet", "deeper");
    await checkRunDirUsable(dir, false);
    expect(existsSync(path.join(tmp.dir, "not-yet"))).toBe(false);
    const file = path.join(tmp.dir, "a-file");
    writeFileSync(file, "");
    await expect(checkRunDirUsable(path.join(file, "run"), false)).rejects.toThrow("cannot create the run folder (ENOTDIR)");
    await expect(checkRunDirUsable(file, false)).rejects.toThrow("a file is in the way");
  });
});

describe("runs/latest and --name", () => {
  it("runs/latest is replaced atomically and points at the newest run; --name takes plain folder names only", async () => {
    const cwd = process.cwd();
    const root = path.join(tmp.dir, "latest-root");
    mkdirSync(path.join(root, "runs", "a"), { recursive: true });
    mkdirSync(path.join(root, "runs", "b"));
    process.chdir(root);
    try {
      expect(await pointLatestAt(path.join("runs", "a"))).toBe(true);
      expect(readlinkSync("runs/latest")).toBe("a");
      expect(await pointLatestAt(path.join("runs", "b"))).toBe(true);
      expect(readlinkSync("runs/latest")).toBe("b");
      expect(lstatSync("runs/latest").isSymbolicLink()).toBe(true);
      // a run outside runs/ does not move it
      expect(await pointLatestAt("elsewhere")).toBe(false);
      expect(readdirSync("runs").sort()).toEqual(["a", "b", "latest"]);
    } finally {
      process.chdir(cwd);
    }
    expect(namedRunDir("lr-0.1")).toBe(path.join("runs", "lr-0.1"));
    for (const bad of ["", "..", "../x", "a/b", ".hidden", "latest"]) expect(() => namedRunDir(bad)).toThrow(/^--name /);
  });
});

// A small synthetic run whose checkpoint is tampered with, one field at a time.
function split(count: number, seed: number): MnistSplit {
  const rng = new Rng(seed);
  const images = new Uint8Array(count * 16);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(10);
  return { count, rows: 4, cols: 4, images, labels };
}

describe("checkpoint.json is validated in full", () => {
  const hp = {
    ...HyperparametersSchema.parse({}),
    iters: 40, batchSize: 8, lr: 0.01, hiddenSize: [6, 5], seed: 11, evalEvery: 7,
    optimizer: "adam", sampling: "shuffle", valSize: 30, earlyStop: 50,
  } as ResolvedHyperparameters;
  const expectations = { inputSize: 16, hiddenSize: [6, 5], outputSize: 10, optimizer: "adam" as const, bookNet: false, trainCount: 120, sampling: "shuffle" as const };
  let good: CheckpointJson;
  beforeAll(async () => {
    const abort = new AbortController();
    const r = await train({ train: split(150, 1), test: split(40, 2) }, hp, { signal: abort.signal, listeners: [{ iteration: (e) => e.iteration === 20 && abort.abort() }] });
    good = CheckpointSchema.parse(JSON.parse(JSON.stringify(toCheckpointJson(r.state, "0".repeat(64)))));
  });
  const tampered = (edit: (c: CheckpointJson) => void) => {
    const c = structuredClone(good);
    edit(c);
    return stateFromCheckpoint(c, expectations);
  };

  it("the untouched checkpoint is accepted", () => {
    expect(good.sampler!.order).toHaveLength(120);
    expect(good.best).toBeDefined();
    expect(typeof stateFromCheckpoint(good, expectations)).toBe("object");
  });

  it("each tampering is refused with what is wrong", () => {
    expect(tampered((c) => (c.sampler!.order[3] = 120))).toBe(`"sampler.order[3]" is 120, past the 120 training images`);
    expect(tampered((c) => (c.sampler!.order = c.sampler!.order.slice(0, 5)))).toBe(`"sampler.order" has 5 entries, expected 120 (one per training image)`);
    expect(tampered((c) => (c.sampler!.pos = 121))).toBe(`"sampler.pos" is 121, past the end of "sampler.order" (120)`);
    expect(tampered((c) => delete c.sampler)).toBe(`"sampler" is missing (the run uses --sampling shuffle)`);
    expect(tampered((c) => delete c.best!.params.W2)).toBe(`"best.params.W2" is missing for a 16-6-5-10 net`);
    expect(tampered((c) => (c.best!.params.b1 = [1]))).toBe(`"best.params.b1" has 1 values, expected 6 for a 16-6-5-10 net`);
    expect(tampered((c) => delete c.optimizer)).toBe(`"optimizer" is missing (the run uses adam)`);
    expect(tampered((c) => delete c.optimizer!.slots.W3)).toBe(`"optimizer.slots.W3" is missing (the run uses adam)`);
    expect(tampered((c) => (c.optimizer!.slots.b2 = c.optimizer!.slots.b2.slice(0, 1)))).toBe(`"optimizer.slots.b2" has 1 arrays, expected 2 for adam`);
    expect(tampered((c) => (c.optimizer!.slots.W9 = []))).toBe(`"optimizer.slots.W9" is not a parameter of a 16-6-5-10 net`);
    expect(tampered((c) => delete c.params.b3)).toBe(`"params.b3" is missing for a 16-6-5-10 net`);
  });
});

describe("--resume accepts every valid checkpoint", () => {
  it("a shuffled Adam run on the full training set (a 60,000-entry permutation) resumes to the end", async () => {
    const { TrainOptionsSchema } = await import("../../src/cli/train-options.js");
    const { createHash } = await import("node:crypto");
    const recorded = TrainOptionsSchema.parse({ iters: 30, batchSize: 100, lr: 0.001, hiddenSize: 8, optimizer: "adam", sampling: "shuffle", seed: 5, evalEvery: 1000, testLimit: 50 });
    const configText = JSON.stringify(recorded, null, 2) + "\n";
    const rng = new Rng(9);
    const images = new Uint8Array(60_000 * 784);
    for (let i = 0; i < images.length; i += 97) images[i] = rng.int(256);
    const data = {
      train: { count: 60_000, rows: 28, cols: 28, images, labels: new Uint8Array(60_000).map(() => rng.int(10)) },
      test: { count: 50, rows: 28, cols: 28, images: new Uint8Array(50 * 784), labels: new Uint8Array(50) },
    };
    const abort = new AbortController();
    const r = await train(data, recorded as ResolvedHyperparameters, { signal: abort.signal, listeners: [{ iteration: (e) => e.iteration === 10 && abort.abort() }] });
    const checkpoint = toCheckpointJson(r.state, createHash("sha256").update(configText).digest("hex"));
    expect(checkpoint.sampler!.order).toHaveLength(60_000);
    const dir = path.join(tmp.dir, "full-shuffle");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "config.json"), configText);
    writeFileSync(path.join(dir, "checkpoint.json"), JSON.stringify(checkpoint));
    const resumed = await runBin("mnist-train", ["--resume", dir, "--quiet"]);
    expect([resumed.code, resumed.stderr]).toEqual([0, ""]);
    expect(existsSync(path.join(dir, "model.json"))).toBe(true);
  }, 120_000);
});

describe("JSON bytes are scanned before parsing", () => {
  const model = (data: string) => `{"format":"mnist-ts.model","architecture":{"type":"two-layer-net","inputSize":2,"hiddenSize":2,"outputSize":1,"activation":"sigmoid"},"params":{"W1":{"shape":[2,2],"data":[${data}]}}}`;
  const scan = (text: string) => () => checkJsonShape(Buffer.from(text), "m.json", MODEL_JSON_LIMITS);

  it("numbers beyond the declared architecture, or thousands of objects, are refused without parsing", () => {
    expect(scan(model("1,2,3,4"))).not.toThrow();
    // 2-2-1 declares 9 parameters, and 1000 more numbers are allowed for the rest of the file;
    // this one holds 1010 data values, 2 in the shape and 3 in the architecture
    expect(scan(model(Array(1010).fill("0").join(",")))).toThrow("m.json: holds 1015 numbers, more than the 1009 its declared shapes allow");
    expect(scan("[" + Array(2000).fill("{}").join(",") + "]")).toThrow("m.json: holds more than 1000 objects and arrays");
    expect(scan("[".repeat(20) + "]".repeat(20))).toThrow("m.json: is nested more than 8 levels deep");
    // digits inside strings are not numbers; escaped quotes do not end a string
    expect(scan(`{"architecture":{"type":"mlp","sizes":[1,1,1]},"x":"${"1,".repeat(5000)}\\"${"2,".repeat(5000)}"}`)).not.toThrow();
  });

  it("a declared architecture larger than any model mnist-train writes does not raise the bound", () => {
    const declared = `{"architecture":{"type":"two-layer-net","inputSize":784,"hiddenSize":100000,"outputSize":10},"params":{"W1":{"data":[`;
    const zeros = MAX_MODEL_PARAMS + 1001;
    expect(scan(declared + "0,".repeat(zeros - 1) + "0]}}}")).toThrow(`m.json: holds ${zeros + 3} numbers, more than the ${MAX_MODEL_PARAMS + 1000} its declared shapes allow`);
  });

  it("a 255 MB model.json of [{},{},…] is refused by mnist-eval in bounded memory", async () => {
    const file = path.join(tmp.dir, "objects.json");
    const unit = "{},".repeat(1 << 20);
    writeFileSync(file, "[");
    for (let i = 0; i < 85; i++) writeFileSync(file, unit, { flag: "a" });
    writeFileSync(file, "{}]", { flag: "a" });
    const rss = path.join(tmp.dir, "objects.rss");
    const r = await runProcess(process.execPath, ["--import", path.join(ROOT, "test", "fixtures", "report-rss.mjs"), path.join(ROOT, "bin", "mnist-eval.js"), file], { cwd: ROOT, env: { ...process.env, RSS_FILE: rss } });
    expect([r.code, r.stderr.trim()]).toEqual([1, `mnist-eval: ${file}: holds more than 1000 objects and arrays (a valid file has far fewer)`]);
    // the file's bytes and the runtime, nothing per object
    expect(Number(readFileSync(rss, "utf8"))).toBeLessThan(700 * 1024 ** 2);
  }, 60_000);
});

describe("PNG dimensions are capped before decoding", () => {
  const header = (w: number, h: number) => {
    const b = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
    b.writeUInt32BE(13, 8);
    b.write("IHDR", 12, "latin1");
    b.writeUInt32BE(w, 16);
    b.writeUInt32BE(h, 20);
    return b;
  };
  it("20000×20000 and 30,000,000×1 are refused from the header; 5000×5000 passes to the decoder", () => {
    expect(() => checkPngDimensions(header(20000, 20000), "big.png")).toThrow(`big.png: is 20000×20000 pixels, more than the ${MAX_IMAGE_PIXELS / 1e6} megapixels (at most 20000 a side) accepted; scale it down`);
    expect(() => checkPngDimensions(header(30_000_000, 1), "wide.png")).toThrow(FileFormatError);
    expect(() => checkPngDimensions(header(5000, 5000), "ok.png")).not.toThrow();
  });
});

describe("through the bins", () => {
  it("user errors found after the data is loaded exit 2 and leave no run folder", async () => {
    const cfg = path.join(tmp.dir, "both.json");
    writeFileSync(cfg, '{"iters":5,"epochs":1}');
    const cases: [string[], RegExp][] = [
      [["--config", cfg], /^mnist-train: .*both\.json: "iters" 5 and "epochs" 1 disagree \(1 epochs are 10 iterations\); give one of them$/],
      [["--val-size", "5000"], /^mnist-train: --val-size 5000 leaves no training images \(of 1000\)$/],
      [["--early-stop", "3"], /^mnist-train: --early-stop needs --val-size/],
      [["--sampling", "shuffle", "--batch-size", "100", "--train-limit", "50"], /^mnist-train: --sampling shuffle needs --batch-size at most the 50 training images \(got 100\)$/],
      [["--grad", "numerical", "--hidden-size", "10,10"], /^mnist-train: --grad numerical is for the book's two-layer net only/],
      [["--name", "x/y"], /^mnist-train: --name must be a plain folder name/],
    ];
    for (const [args, message] of cases) {
      const out = path.join(tmp.dir, "never-made");
      const r = await runBin("mnist-train", ["--train-limit", "1000", "--test-limit", "100", "--quiet", ...args, ...(args.includes("--name") ? [] : ["--out", out])]);
      expect([r.code, r.stderr.trim().split("\n").length], r.stderr).toEqual([2, 1]);
      expect(r.stderr.trim()).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
  }, 120_000);

  it("a run folder is accepted wherever a model.json is; an unfinished one is named as such", async () => {
    const run = path.join(tmp.dir, "for-eval");
    expect((await runBin("mnist-train", ["--train-limit", "1000", "--test-limit", "100", "--iters", "30", "--seed", "1", "--quiet", "--out", run])).code).toBe(0);
    const viaFolder = await runBin("mnist-eval", [run, "--limit", "100", "--json"]);
    const viaFile = await runBin("mnist-eval", [path.join(run, "model.json"), "--limit", "100", "--json"]);
    expect(viaFolder.code).toBe(0);
    expect(JSON.parse(viaFolder.stdout).testAccuracy).toBe(JSON.parse(viaFile.stdout).testAccuracy);
    const png = path.join(tmp.dir, "stroke.png");
    const image = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 28 * 28; p++) image.data.fill(p % 28 === 14 ? 255 : 0, 4 * p, 4 * p + 3), (image.data[4 * p + 3] = 255);
    writeFileSync(png, PNG.sync.write(image));
    const predictedViaFolder = await runBin("mnist-predict", [run, png, "--json"]);
    const predictedViaFile = await runBin("mnist-predict", [path.join(run, "model.json"), png, "--json"]);
    expect(predictedViaFolder.code).toBe(0);
    expect(JSON.parse(predictedViaFolder.stdout).predictions).toEqual(JSON.parse(predictedViaFile.stdout).predictions);
    const unfinished = path.join(tmp.dir, "unfinished");
    mkdirSync(unfinished);
    writeFileSync(path.join(unfinished, "checkpoint.json"), "{}");
    const r = await runBin("mnist-eval", [unfinished]);
    expect([r.code, r.stderr.trim()]).toEqual([1, `mnist-eval: ${unfinished}: is a folder without model.json (an unfinished run: continue it with mnist-train --resume)`]);
  }, 120_000);

  it("mnist-report: a FIFO loss.csv is skipped, not waited on; an unclosed [ is a pattern that matches nothing; runs/latest counts once", async () => {
    const root = path.join(tmp.dir, "report");
    const run = path.join(root, "runs", "one");
    expect((await runBin("mnist-train", ["--train-limit", "1000", "--test-limit", "100", "--iters", "20", "--quiet", "--out", run])).code).toBe(0);
    symlinkSync("one", path.join(root, "runs", "latest"));
    const listed = await runBin("mnist-report", [path.join(root, "runs", "one"), path.join(root, "runs", "latest"), "--json"]);
    expect(JSON.parse(listed.stdout).runs).toHaveLength(1);
    const fifoRun = path.join(root, "fifo");
    mkdirSync(fifoRun);
    writeFileSync(path.join(fifoRun, "config.json"), readFileSync(path.join(run, "config.json")));
    execFileSync("mkfifo", [path.join(fifoRun, "loss.csv")]);
    const r = await runBin("mnist-report", [fifoRun]);
    expect([r.code, r.stderr.trim().split("\n")]).toEqual([1, [`mnist-report: skipping ${fifoRun}: ${fifoRun}/loss.csv: is not a regular file`, `mnist-report: no readable run folders among ${fifoRun}`]]);
    const g = await runBin("mnist-report", [path.join(root, "[abc")]);
    expect([g.code, g.stderr.trim()]).toEqual([1, `mnist-report: ${path.join(root, "[abc")}: no folder matches`]);
  }, 120_000);

  it("mnist-gradcheck: errors that are NaN fail (exit 1), they do not print ok", async () => {
    const r = await runBin("mnist-gradcheck", ["--weight-init-std", "1e200", "--hidden-size", "3"]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/^ok/m);
    expect(r.stdout).toMatch(/^FAIL: max relative error NaN is not ≤ tolerance 0\.01$/m);
    expect(r.stderr.trim()).toMatch(/^mnist-gradcheck: max relative error is NaN \(in \w+\): the gradients are not finite numbers; try a smaller --weight-init-std$/);
  }, 120_000);
});
