// The sweep scripts end to end on tiny configs (a few values, small subsets): reruns that keep,
// resume or refuse a point; then mnist-report on their folders and on a nested sweep (table,
// --json, --csv, --plot, --sort, --top) and each run's curves.svg.
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accuracySeries, lossSeries, movingAverage } from "../../src/report/curves.js";
import { parseCsv, readRun } from "../../src/report/run-data.js";
import { planPoint, requestedSettings, settingDifferences } from "../../src/cli/sweep-plan.js";
import { ANSI, ROOT, runBin, runProcess, tempDir, type RunResult } from "../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SWEEP = path.join(tmp.dir, "sweep-lr");
const SWEEP_FLAGS = "--train-limit 1000 --test-limit 300 --batch-size 20";
// A stand-in repository for the Slurm script: its run-one.sh prints the point it was given.
const FAKE_ROOT = path.join(tmp.dir, "fake-repo");
mkdirSync(path.join(FAKE_ROOT, "configs/sweeps"), { recursive: true });
cpSync(path.join(ROOT, "configs/sweeps/grid-values.sh"), path.join(FAKE_ROOT, "configs/sweeps/grid-values.sh"));
writeFileSync(path.join(FAKE_ROOT, "configs/sweeps/run-one.sh"), '#!/usr/bin/env bash\necho "$1 $2 $3 threads=$THREADS"\n', { mode: 0o755 });

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return runProcess("bash", [path.join(ROOT, script), ...args], { cwd: tmp.dir, env: { ...process.env, NO_COLOR: "1", ...env } });
}

/** Tags balance and nest: enough to catch a truncated or hand-mangled SVG without an XML parser. */
function checkWellFormed(xml: string): void {
  const stack: string[] = [];
  const body = xml.replace(/<!--[\s\S]*?-->/g, "").replace(/<\?[\s\S]*?\?>/g, "");
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (selfClosing) continue;
    if (closing) expect(stack.pop(), `</${name}>`).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
  // No stray '<' that the tag pattern did not account for.
  expect(body.replace(/<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g, "")).not.toMatch(/</);
}

describe("the lr sweep script", () => {
  let script: RunResult;
  beforeAll(async () => {
    script = await runScript("configs/sweeps/lr-sweep.sh", ["0.1", "1"], { SWEEP_DIR: SWEEP, ITERS: "40", TRAIN_FLAGS: SWEEP_FLAGS });
  });

  it("runs end to end: one run folder per value, its log beside it, a ranked table at the end", () => {
    expect(script.code, script.stderr).toBe(0);
    for (const lr of ["0.1", "1"]) {
      const run = path.join(SWEEP, `lr-${lr}`);
      for (const f of ["config.json", "loss.csv", "epochs.csv", "model.json", "summary.json", "curves.svg"]) expect(existsSync(path.join(run, f)), f).toBe(true);
      expect(existsSync(`${run}.log`)).toBe(true);
      expect(JSON.parse(readFileSync(path.join(run, "config.json"), "utf8"))).toMatchObject({ lr: Number(lr), iters: 40, seed: 1, trainLimit: 1000 });
    }
    // each log ends with the run's one-line result
    for (const lr of ["0.1", "1"]) {
      const summary = JSON.parse(readFileSync(path.join(SWEEP, `lr-${lr}`, "summary.json"), "utf8"));
      expect(readFileSync(path.join(SWEEP, `lr-${lr}.log`), "utf8").trimEnd().split("\n").at(-1)).toBe(
        `complete: test ${summary.testAccuracy.toFixed(4)}, train ${summary.trainAccuracy.toFixed(4)}, final loss ${summary.finalLoss.toFixed(4)}, 40 iterations, ${summary.wallTimeS.toFixed(1)} s`,
      );
    }
    // only lr differs between the runs: the one hyperparameter column; the rest said once on stderr
    const lines = script.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^#\s+run\s+status\s+lr\s+final loss\s+train acc\s+test acc\s+wall s$/);
    expect(lines).toHaveLength(3);
    expect(script.stderr).toMatch(/mnist-report: all 2 runs: hidden 50, batch 20, iters 40, seed 1, train-limit 1000, test-limit 300, eval-every 50, test set first 300\n/);
    expect(existsSync(path.join(SWEEP, "overlay.svg"))).toBe(true);
  });

  it("a second run of the script with the same settings keeps the finished runs", async () => {
    const before = readFileSync(path.join(SWEEP, "lr-1", "summary.json"), "utf8");
    const again = await runScript("configs/sweeps/lr-sweep.sh", ["1"], { SWEEP_DIR: SWEEP, ITERS: "40", TRAIN_FLAGS: SWEEP_FLAGS });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/lr-1: done already: complete: test /);
    expect(again.stderr).not.toMatch(/training/);
    expect(readFileSync(path.join(SWEEP, "lr-1", "summary.json"), "utf8")).toBe(before);
  });

  it("a rerun with other settings is an error naming the folder and the settings, or with ON_MISMATCH=new a new folder", async () => {
    const sweep = path.join(tmp.dir, "sweep-rerun");
    cpSync(path.join(SWEEP, "lr-1"), path.join(sweep, "lr-1"), { recursive: true });
    const before = readFileSync(path.join(sweep, "lr-1", "summary.json"), "utf8");
    const env = { SWEEP_DIR: sweep, ITERS: "30", TRAIN_FLAGS: SWEEP_FLAGS };
    const refused = await runScript("configs/sweeps/lr-sweep.sh", ["1"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `sweep: ${path.join(sweep, "lr-1")}: holds a run with other settings (--iters: recorded 40, requested 30); remove it, or set ON_MISMATCH=new to train this point into a new folder beside it\n`,
    );
    expect(refused.stderr).toMatch(/1 run\(s\) failed/);
    expect(readFileSync(path.join(sweep, "lr-1", "summary.json"), "utf8")).toBe(before);
    expect(existsSync(path.join(sweep, "lr-1-2"))).toBe(false);
    // without TRAIN_FLAGS the data limits differ too, each named
    const limits = await runScript("configs/sweeps/lr-sweep.sh", ["1"], { SWEEP_DIR: sweep, ITERS: "40" });
    expect(limits.code).toBe(1);
    expect(limits.stderr).toMatch(/--test-limit: recorded 300, requested unset; --train-limit: recorded 1000, requested unset\)/);

    const moved = await runScript("configs/sweeps/lr-sweep.sh", ["1"], { ...env, ON_MISMATCH: "new" });
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stderr).toContain(`${path.join(sweep, "lr-1-2")}: training`);
    expect(JSON.parse(readFileSync(path.join(sweep, "lr-1-2", "config.json"), "utf8"))).toMatchObject({ lr: 1, iters: 30 });
    expect(readFileSync(path.join(sweep, "lr-1", "summary.json"), "utf8")).toBe(before);
    // the new folder is found again on the next rerun with those settings
    const again = await runScript("configs/sweeps/lr-sweep.sh", ["1"], { ...env, ON_MISMATCH: "new" });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`${path.join(sweep, "lr-1-2")}: done already`);
    expect(existsSync(path.join(sweep, "lr-1-3"))).toBe(false);
    const bad = await runScript("configs/sweeps/lr-sweep.sh", ["1"], { ...env, ON_MISMATCH: "replace" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/sweep: ON_MISMATCH \(--on-mismatch\) must be error or new \(got "replace"\)/);
  });

  it("mnist-report --json: one line, runs ranked by test accuracy, with hyperparameters, loss, accuracies and wall time", async () => {
    // An interrupted run: no model.json. It is listed last, marked incomplete.
    const partial = path.join(SWEEP, "lr-partial");
    cpSync(path.join(SWEEP, "lr-0.1"), partial, { recursive: true });
    rmSync(path.join(partial, "model.json"));
    rmSync(path.join(partial, "summary.json"));
    const r = await runBin("mnist-report", [path.join(SWEEP, "lr-1"), path.join(SWEEP, "lr-0.1"), partial, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const { runs, skipped } = JSON.parse(lines[0]);
    expect(skipped).toEqual([]);
    expect(runs).toHaveLength(3);
    expect(runs.map((x: { rank: number }) => x.rank)).toEqual([1, 2, 3]);
    const complete = runs.slice(0, 2);
    expect(complete[0].testAccuracy).toBeGreaterThanOrEqual(complete[1].testAccuracy);
    for (const row of complete) {
      const summary = JSON.parse(readFileSync(path.join(row.run, "summary.json"), "utf8"));
      expect(row).toMatchObject({
        status: "complete",
        hiddenSize: 50,
        batchSize: 20,
        iters: 40,
        seed: 1,
        iterations: 40,
        finalLoss: summary.finalLoss,
        trainAccuracy: summary.trainAccuracy,
        testAccuracy: summary.testAccuracy,
        wallTimeS: summary.wallTimeS,
      });
      expect(row.wallTimeS).toBeGreaterThan(0);
    }
    expect(runs[2]).toMatchObject({ run: partial, status: "incomplete", lr: 0.1 });
    expect(runs[2].testAccuracy).toBe(runs.find((x: { run: string }) => x.run.endsWith("lr-0.1")).testAccuracy);
  });

  it("mnist-report on the sweep folder: a plain table (no ANSI when piped), --csv, --plot", async () => {
    const r = await runBin("mnist-report", [SWEEP]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(ANSI);
    const rows = r.stdout.trimEnd().split("\n").slice(1);
    expect(rows).toHaveLength(3);
    expect(rows[2]).toMatch(/lr-partial\s+incomplete/);
    expect(r.stderr).toMatch(/1 incomplete run/);
    const csv = await runBin("mnist-report", [SWEEP, "--csv"]);
    const table = csv.stdout.trim().split("\n").map((l) => l.split(","));
    // every hyperparameter, not only those that differ
    expect(table[0].slice(0, 8)).toEqual(["rank", "run", "status", "lr", "hidden_size", "batch_size", "iters", "optimizer"]);
    expect(table[0]).toContain("activation");
    expect(table[0]).toContain("train_limit");
    expect(table[0].slice(-8)).toEqual(["test_set", "iterations", "epochs", "final_loss", "train_accuracy", "test_accuracy", "val_accuracy", "wall_time_s"]);
    expect(table).toHaveLength(4);
    const at = (row: string[], col: string) => row[table[0].indexOf(col)];
    expect(table.slice(1).map((row) => [at(row, "lr"), at(row, "batch_size"), at(row, "test_limit"), at(row, "test_set")])).toEqual([
      ["1", "20", "300", "first 300"],
      ["0.1", "20", "300", "first 300"],
      ["0.1", "20", "300", "first 300"],
    ]);
    const plot = path.join(tmp.dir, "overlay.svg");
    const p = await runBin("mnist-report", [SWEEP, "--plot", plot, "--json"]);
    expect(p.code, p.stderr).toBe(0);
    const svg = readFileSync(plot, "utf8");
    checkWellFormed(svg);
    for (const label of ["lr-0.1", "lr-1", "lr-partial"]) expect(svg).toContain(`>${label}</text>`);
  });

  it("mnist-report shows the validation accuracy of runs that held out a validation set (val.csv), and only then", async () => {
    const dir = path.join(tmp.dir, "with-val");
    const flags = ["--train-limit", "1000", "--test-limit", "200", "--iters", "60", "--eval-every", "30", "--seed", "4", "--quiet"];
    const done = await runBin("mnist-train", [...flags, "--val-size", "200", "--out", path.join(dir, "val-complete")]);
    expect(done.code, done.stderr).toBe(0);
    // an interrupted run: its CSVs only (the last val.csv row counts)
    const partial = path.join(dir, "val-partial");
    cpSync(path.join(dir, "val-complete"), partial, { recursive: true });
    for (const f of ["model.json", "summary.json"]) rmSync(path.join(partial, f));
    writeFileSync(path.join(partial, "val.csv"), "epoch,iteration,val_acc\n0,0,0.1\n1,30,0.375\n");
    const recorded = JSON.parse(readFileSync(path.join(dir, "val-complete", "summary.json"), "utf8")).valAccuracy;
    const lastRow = Number(readFileSync(path.join(dir, "val-complete", "val.csv"), "utf8").trim().split("\n").at(-1)!.split(",").at(-1));
    expect(recorded).toBe(lastRow);
    const r = await runBin("mnist-report", [dir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const runs = JSON.parse(r.stdout).runs as { run: string; valAccuracy: number | null }[];
    expect(Object.fromEntries(runs.map((x) => [path.basename(x.run), x.valAccuracy]))).toEqual({ "val-complete": recorded, "val-partial": 0.375 });
    const table = await runBin("mnist-report", [dir]);
    expect(table.stdout.split("\n")[0]).toMatch(/test acc\s+val acc\s+wall s/);
    // the sweep's runs have no validation set: no such column
    expect((await runBin("mnist-report", [SWEEP])).stdout.split("\n")[0]).not.toMatch(/val acc/);
  });

  it("a run folder of the previous format (epochs.csv's first column the evaluation index, no recorded epochs) still reads", async () => {
    const fresh = path.join(SWEEP, "lr-0.1");
    const old = path.join(tmp.dir, "old-format", "lr-0.1");
    cpSync(fresh, old, { recursive: true });
    const rows = readFileSync(path.join(fresh, "epochs.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
    writeFileSync(path.join(old, "epochs.csv"), ["epoch,iteration,train_acc,test_acc,elapsed_s", ...rows.map((c) => [c[0], ...c.slice(2)].join(","))].join("\n") + "\n");
    const { epochs: _e, ...summary } = JSON.parse(readFileSync(path.join(fresh, "summary.json"), "utf8"));
    writeFileSync(path.join(old, "summary.json"), JSON.stringify(summary) + "\n");
    const [a, b] = [await readRun(fresh), await readRun(old)];
    expect(b.itersPerEpoch).toBe(50);
    expect(a.itersPerEpoch).toBe(50);
    expect(b.epochs).toEqual(a.epochs);
    expect(b.summary.epochs).toBe(40 / 50);
    const r = await runBin("mnist-report", [path.dirname(old), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).runs[0]).toMatchObject({ iterations: 40, epochs: 0.8 });
  });

  it("mnist-report expands a glob the shell left alone; files it matches (logs, svg) are ignored", async () => {
    const r = await runBin("mnist-report", [path.join(SWEEP, "*"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).runs.map((x: { run: string }) => path.basename(x.run)).sort()).toEqual(["lr-0.1", "lr-1", "lr-partial"]);
  });

  it("mnist-report: a missing folder is exit 1, --json with --csv exit 2", async () => {
    let r = await runBin("mnist-report", [path.join(tmp.dir, "nope")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^mnist-report: .*nope: no such folder$/);
    r = await runBin("mnist-report", [SWEEP, "--json", "--csv"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("mnist-report: --json and --csv are exclusive: choose one");
  });

  it("curves.svg: valid SVG, titled with the hyperparameters, the loss (raw and smoothed) and the accuracy (train solid, test dashed)", () => {
    const svg = readFileSync(path.join(SWEEP, "lr-0.1", "curves.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toMatch(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    checkWellFormed(svg);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(texts).toContain("lr 0.1 · hidden 50 · batch 20 · 40 iterations · seed 1 · 1000 train images · 300 test images");
    for (const t of ["Loss per iteration", "Accuracy per epoch", "loss (every iteration)", "moving average (100 iterations)", "train", "test", "iteration", "accuracy"]) {
      expect(texts).toContain(t);
    }
    // Four lines: raw loss, smoothed loss, train accuracy, test accuracy.
    const lines = [...svg.matchAll(/<path [^>]*aria-roledescription="line mark"[^>]*>/g)].map((m) => m[0]);
    expect(lines).toHaveLength(4);
    const dash = (p: string) => /stroke-dasharray="([^"]*)"/.exec(p)?.[1] ?? null;
    expect(lines.filter((p) => /split: test/.test(p)).map(dash)).toEqual(["6,4"]); // test, dashed
    expect(lines.filter((p) => /split: train/.test(p)).map(dash)).toEqual(["1,0"]); // train, solid
    expect(lines.filter((p) => /series: /.test(p)).map(dash)).toEqual([null, null]); // the two loss curves
  });
});

/** A built bin started in the background, for a signal mid-run. */
function startBin(bin: string, args: string[]): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [path.join(ROOT, "bin", `${bin}.js`), ...args], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout: "", stderr }));
  });
  return { child, done };
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`not after ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

const lossRows = (dir: string) => (existsSync(path.join(dir, "loss.csv")) ? readFileSync(path.join(dir, "loss.csv"), "utf8").split("\n").length - 2 : 0);

describe("sweep points that did not end normally", () => {
  it("an interrupted point resumes from its checkpoint (mnist-train --resume) and ends complete", async () => {
    const sweep = path.join(tmp.dir, "sweep-resume");
    const run = path.join(sweep, "lr-0.1");
    // Long enough (about a second) that the signal always lands before the run ends.
    const iters = 5000;
    const flags = ["--lr", "0.1", "--iters", String(iters), "--seed", "1", "--train-limit", "500", "--test-limit", "100", "--batch-size", "20"];
    const { child, done } = startBin("mnist-train", [...flags, "--out", run, "--quiet"]);
    await waitFor("loss.csv rows", () => lossRows(run) >= 20);
    child.kill("SIGINT");
    expect((await done).code).toBe(130);
    const stoppedAt = JSON.parse(readFileSync(path.join(run, "checkpoint.json"), "utf8")).iteration;
    expect(stoppedAt).toBeLessThan(iters);

    const r = await runScript("configs/sweeps/train-point.sh", [run, ...flags], {});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${run}: resuming from its checkpoint`);
    expect(readFileSync(`${run}.log`, "utf8")).toMatch(/^resuming from checkpoint\.json\ncomplete: test \d\.\d{4}, .*, 5000 iterations, [\d.]+ s\n$/);
    expect(JSON.parse(readFileSync(path.join(run, "summary.json"), "utf8"))).toMatchObject({ iterations: iters });
    expect(lossRows(run)).toBe(iters);
    expect(existsSync(path.join(run, "checkpoint.json"))).toBe(false);
    // the resumed run carried on from the checkpoint: its loss rows before it are the interrupted run's
    const again = await runScript("configs/sweeps/train-point.sh", [run, ...flags], {});
    expect(again.stderr).toMatch(/done already: complete: /);
  });

  it("a diverged point is a result: exit 0, its log says so, a rerun keeps it, mnist-report ranks it last", async () => {
    const sweep = path.join(tmp.dir, "sweep-diverge");
    const flags = ["--iters", "60", "--seed", "1", "--train-limit", "500", "--test-limit", "100"];
    const div = path.join(sweep, "lr-1e308");
    const r = await runScript("configs/sweeps/train-point.sh", [div, "--lr", "1e308", ...flags], {});
    expect(r.code, r.stderr).toBe(0);
    const line = readFileSync(`${div}.log`, "utf8").trimEnd().split("\n").at(-1);
    expect(line).toMatch(/^diverged: loss NaN at iteration \d+$/);
    expect(r.stderr).toContain(`${div}: ${line}`);
    expect(existsSync(path.join(div, "model.json"))).toBe(false);
    const again = await runScript("configs/sweeps/train-point.sh", [div, "--lr", "1e308", ...flags], {});
    expect(again.code).toBe(0);
    expect(again.stderr).toBe(`${div}: done already: ${line}\n`);

    const ok = await runScript("configs/sweeps/train-point.sh", [path.join(sweep, "lr-0.1"), "--lr", "0.1", ...flags], {});
    expect(ok.code, ok.stderr).toBe(0);
    const report = await runBin("mnist-report", [sweep]);
    expect(report.code, report.stderr).toBe(0);
    const rows = report.stdout.trimEnd().split("\n");
    expect(rows[1]).toMatch(/^1\s+\S+lr-0\.1\s+complete\s/);
    expect(rows[2]).toMatch(/^2\s+\S+lr-1e308\s+diverged\s/);
    expect(report.stderr).toMatch(/1 diverged run \(the loss became NaN or infinite; no model\) ranked last/);
  });

  it("train-point.sh: the sweep's own flags in the settings are a usage error (exit 2)", async () => {
    const r = await runScript("configs/sweeps/train-point.sh", [path.join(tmp.dir, "x"), "--lr", "0.1", "--out", "elsewhere"], {});
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("sweep: the sweep's mnist-train flags: the sweep sets --out for each point; leave it out of TRAIN_FLAGS");
  });
});

describe("mnist-report on a real sweep", () => {
  const root = path.join(tmp.dir, "nested");
  const BASE = ["--iters", "30", "--train-limit", "500", "--seed", "2", "--quiet"];
  const runs: Record<string, string[]> = {
    // two levels of sweep folders, runs differing by optimizer, activation, lr
    "by-act/sigmoid/adam": ["--optimizer", "adam", "--lr", "0.01", "--test-limit", "200"],
    "by-act/relu/sgd": ["--activation", "relu", "--lr", "0.1", "--test-limit", "200"],
    // another test set, and a learning rate so small that the validation accuracy never betters its first value
    "other/early": ["--lr", "1e-9", "--test-limit", "100", "--val-size", "100", "--early-stop", "1", "--eval-every", "5"],
    "other/diverged": ["--lr", "1e308", "--test-limit", "200"],
  };
  beforeAll(async () => {
    for (const [name, flags] of Object.entries(runs)) {
      const r = await runBin("mnist-train", [...BASE, ...flags, "--out", path.join(root, name)]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(name.endsWith("diverged") ? 3 : 0);
    }
  });

  it("finds runs at any depth; statuses complete, early-stopped, diverged; the varying hyperparameters and the test sets", async () => {
    const r = await runBin("mnist-report", [root, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const status = Object.fromEntries(out.runs.map((x: { run: string; status: string }) => [path.relative(root, x.run), x.status]));
    expect(status).toEqual({ "by-act/sigmoid/adam": "complete", "by-act/relu/sgd": "complete", "other/early": "early-stopped", "other/diverged": "diverged" });
    expect(path.relative(root, out.runs[3].run)).toBe("other/diverged");
    expect(out.varying).toEqual(["lr", "optimizer", "activation", "testLimit", "valSize", "earlyStop"]);
    expect(out.testSets.sort()).toEqual(["first 100", "first 200"]);
    const early = out.runs.find((x: { run: string }) => x.run.endsWith("early"));
    const summary = JSON.parse(readFileSync(path.join(root, "other/early/summary.json"), "utf8"));
    expect(summary.earlyStopped.iteration).toBeLessThan(30);
    expect(early).toMatchObject({ iterations: summary.iterations, testSet: "first 100", hyperparameters: { optimizer: "sgd", activation: "sigmoid", valSize: 100 } });
  });

  it("the table: only the differing hyperparameters as columns, the test set marked, statuses spelled out", async () => {
    const r = await runBin("mnist-report", [root]);
    expect(r.code, r.stderr).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^#\s+run\s+status\s+lr\s+optimizer\s+activation\s+val-size\s+early-stop\s+test set\s+ran\s+final loss\s+train acc\s+test acc\s+val acc\s+wall s$/);
    expect(header).not.toMatch(/hidden|batch|iters|seed|test-limit/);
    expect(rows).toHaveLength(4);
    expect(rows.find((l) => l.includes("other/early"))).toMatch(/early-stopped\s+1e-9\s+sgd\s+sigmoid\s+100\s+1\s+first 100\s/);
    expect(rows.find((l) => l.includes("by-act/sigmoid/adam"))).toMatch(/complete\s+0\.01\s+adam\s+sigmoid\s+-\s+-\s+first 200\s+30\s/);
    expect(rows[3]).toMatch(/other\/diverged\s+diverged\s/);
    expect(r.stderr).toMatch(/runs evaluated on 2 different test sets \(first 200, first 100; column "test set"\): their test accuracies do not compare directly/);
    expect(r.stderr).toMatch(/all 4 runs: hidden 50, batch 100, iters 30, seed 2, train-limit 500, eval-every 5\n/);
  });

  it("--sort KEY and --top N", async () => {
    const names = async (...args: string[]) => {
      const r = await runBin("mnist-report", [root, "--json", ...args]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).runs.map((x: { run: string; rank: number }) => `${x.rank} ${path.relative(root, x.run)}`);
    };
    // finished runs first, lowest lr first among them; the diverged run stays last
    expect(await names("--sort", "lr")).toEqual(["1 other/early", "2 by-act/sigmoid/adam", "3 by-act/relu/sgd", "4 other/diverged"]);
    // ties (sgd, sgd) fall back on test accuracy
    expect(await names("--sort", "optimizer", "--top", "2")).toEqual(["1 by-act/sigmoid/adam", "2 by-act/relu/sgd"]);
    const byAcc = await runBin("mnist-report", [root, "--json", "--sort", "test-acc"]);
    const acc = JSON.parse(byAcc.stdout).runs.slice(0, 3).map((x: { testAccuracy: number }) => x.testAccuracy);
    expect(acc).toEqual([...acc].sort((a, b) => b - a));
    expect(await names("--sort", "wall", "--top", "1")).toHaveLength(1);
    const table = await runBin("mnist-report", [root, "--top", "1"]);
    expect(table.stdout.trimEnd().split("\n")).toHaveLength(2);
  });

  it("a bad --sort or --top is a usage error (exit 2) naming what is accepted", async () => {
    let r = await runBin("mnist-report", [root, "--sort", "colour"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^mnist-report: --sort colour: not a column; use one of test-acc, train-acc, val-acc, final-loss, wall, ran, run or a hyperparameter \(lr, hidden-size, .*optimizer, activation.*\)$/);
    for (const bad of ["0", "-1", "two", "1.5"]) {
      r = await runBin("mnist-report", [root, "--top", bad]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`mnist-report: --top must be a positive whole number (got "${bad}")`);
    }
  });
});

describe("the sweep scripts", () => {
  it("the Slurm array's task mapping covers every grid point once, and a mismatched --array is refused", async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await runProcess("bash", [path.join(ROOT, "configs/sweeps/slurm-array.sbatch")], {
        cwd: tmp.dir,
        // run-one.sh stands in for itself: print the point instead of training it
        env: { ...process.env, MNIST_TS_ROOT: FAKE_ROOT, SLURM_ARRAY_TASK_ID: String(i), SLURM_ARRAY_TASK_COUNT: "4", LRS: "0.1 0.5", HIDDEN: "20", BATCH: "50 100" },
      });
      expect(r.code, r.stderr).toBe(0);
      seen.push(r.stdout.trim());
    }
    expect(seen.sort()).toEqual(["0.1 20 100 threads=1", "0.1 20 50 threads=1", "0.5 20 100 threads=1", "0.5 20 50 threads=1"]);
    const r = await runProcess("bash", [path.join(ROOT, "configs/sweeps/slurm-array.sbatch")], {
      cwd: tmp.dir,
      env: { ...process.env, MNIST_TS_ROOT: FAKE_ROOT, SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_COUNT: "27", LRS: "0.1 0.5", HIDDEN: "20", BATCH: "50 100" },
    });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("slurm-array.sbatch: the array has 27 tasks but the grid 4 points: submit with --array=0-3");
  });

  it("the README and docs/sweeps.md refer to the Slurm script instead of copying it", () => {
    for (const doc of ["README.md", "docs/sweeps.md"]) {
      const text = readFileSync(path.join(ROOT, doc), "utf8");
      expect(text, doc).not.toMatch(/#SBATCH/);
      expect(text, doc).toContain("configs/sweeps/slurm-array.sbatch");
    }
  });
});

describe("sweep points: the settings a folder is compared on", () => {
  it("the requested settings are what mnist-train would record, derived values included", async () => {
    const r = await requestedSettings(["--lr", "0.5", "--epochs", "2", "--train-limit", "1000", "--seed", "3"]);
    expect(r.seedGiven).toBe(true);
    expect(r.options).toMatchObject({ lr: 0.5, epochs: 2, iters: 20, evalEvery: 10, trainLimit: 1000, seed: 3, batchSize: 100, optimizer: "sgd", dtype: "float32" });
    // --threads and --checkpoint-every do not change results: never a difference
    const recorded = { ...r.options, checkpointEvery: 7 };
    expect(settingDifferences(recorded, await requestedSettings(["--lr", "0.5", "--epochs", "2", "--train-limit", "1000", "--seed", "3", "--threads", "1"]))).toEqual([]);
    expect(settingDifferences(recorded, await requestedSettings(["--lr", "0.5", "--epochs", "3", "--train-limit", "1000", "--seed", "3"]))).toEqual([
      "--epochs: recorded 2, requested 3",
      "--iters: recorded 20, requested 30",
    ]);
  });

  it("without --seed any recorded seed matches (a fresh run would draw its own); a --config file counts like flags", async () => {
    const noSeed = await requestedSettings(["--lr", "0.5"]);
    expect(noSeed.seedGiven).toBe(false);
    expect(noSeed.options.seed).toBeUndefined();
    expect(settingDifferences({ ...noSeed.options, seed: 123 }, noSeed)).toEqual([]);
    const file = path.join(tmp.dir, "point-config.json");
    writeFileSync(file, JSON.stringify({ lr: 0.5, hiddenSize: [100, 50], optimizer: "adam" }));
    const fromFile = await requestedSettings(["--config", file, "--seed", "1"]);
    expect(settingDifferences({ ...fromFile.options, hiddenSize: [100] }, fromFile)).toEqual(["--hidden-size: recorded 100, requested 100,50"]);
  });

  it("a folder that is not a run is an error unless ON_MISMATCH=new; an empty one is used", async () => {
    const base = path.join(tmp.dir, "points");
    mkdirSync(path.join(base, "empty"), { recursive: true });
    mkdirSync(path.join(base, "notes"), { recursive: true });
    writeFileSync(path.join(base, "notes", "readme.txt"), "mine");
    const req = await requestedSettings(["--lr", "0.1", "--seed", "1"]);
    expect(await planPoint(path.join(base, "empty"), req)).toEqual({ action: "fresh", dir: path.join(base, "empty") });
    await expect(planPoint(path.join(base, "notes"), req)).rejects.toThrow(`${path.join(base, "notes")}: not a run folder (no config.json); move it away, or set ON_MISMATCH=new`);
    expect(await planPoint(path.join(base, "notes"), req, "new")).toEqual({ action: "fresh", dir: path.join(base, "notes-2") });
    writeFileSync(path.join(base, "empty", "config.json"), "{ not json");
    await expect(planPoint(path.join(base, "empty"), req)).rejects.toThrow(/empty\/config\.json: is not valid JSON/);
  });
});

describe("curve data", () => {
  it("moving average: trailing window, shorter at the start, NaN skipped", () => {
    expect(movingAverage([1, 2, 3, 4, 5], 2)).toEqual([1, 1.5, 2.5, 3.5, 4.5]);
    expect(movingAverage([2, Number.NaN, 4], 3)).toEqual([2, 2, 3]);
  });

  it("downsamples the raw loss honestly (labelled) and keeps the last iteration", () => {
    const loss = Array.from({ length: 10_000 }, (_, i) => ({ iteration: i, loss: 1 / (i + 1) }));
    const s = lossSeries(loss);
    expect(s.stride).toBe(10);
    expect(s.rawLabel).toBe("loss (1 in 10 iterations)");
    const raw = s.rows.filter((r) => r.series === s.rawLabel);
    expect(raw).toHaveLength(1001);
    expect(raw.at(-1)).toEqual({ iteration: 9999, loss: 1 / 10_000, series: s.rawLabel });
    const nan = lossSeries([{ iteration: 0, loss: 2 }, { iteration: 1, loss: Number.NaN }]);
    expect(nan.rows.find((r) => r.iteration === 1 && r.series === nan.rawLabel)?.loss).toBeNull();
  });

  it("accuracy x axis is the recorded epochs", () => {
    const rows = accuracySeries([{ evaluation: 0, epoch: 1 / 600, iteration: 0, trainAccuracy: 0.1, testAccuracy: 0.2, elapsedS: 0 }, { evaluation: 1, epoch: 601 / 600, iteration: 600, trainAccuracy: 0.9, testAccuracy: 0.8, elapsedS: 1 }, { evaluation: 2, epoch: 1.5, iteration: 899, trainAccuracy: 0.92, testAccuracy: 0.9, elapsedS: 2 }]);
    expect(rows.map((r) => [r.epoch, r.split, r.accuracy])).toEqual([[0.0017, "train", 0.1], [0.0017, "test", 0.2], [1.0017, "train", 0.9], [1.0017, "test", 0.8], [1.5, "train", 0.92], [1.5, "test", 0.9]]);
  });

  it("CSV parsing drops a half-written last line (a run still writing)", () => {
    expect(parseCsv("iteration,loss\n0,2.3\n1,2.2\n2,2.", "loss.csv", ["iteration", "loss"])).toEqual([[0, 2.3], [1, 2.2]]);
    expect(() => parseCsv("a,b\n", "x.csv", ["iteration", "loss"])).toThrow(/x\.csv: expected the header "iteration,loss"/);
  });
});
