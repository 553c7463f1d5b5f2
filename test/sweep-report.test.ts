// The lr sweep script end to end on a tiny config (two values, small subsets), then mnist-report on
// its folders (table, --json, --csv, --plot) and each run's curves.svg.
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accuracySeries, lossSeries, movingAverage } from "../src/report/curves.js";
import { parseCsv, readRun } from "../src/report/run-data.js";
import { ANSI, ROOT, runBin, runProcess, tempDir, type RunResult } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SWEEP = path.join(tmp.dir, "sweep-lr");

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
    script = await runScript("configs/sweeps/lr-sweep.sh", ["0.1", "1"], {
      SWEEP_DIR: SWEEP,
      ITERS: "40",
      TRAIN_FLAGS: "--train-limit 1000 --test-limit 300 --batch-size 20",
    });
  });

  it("runs end to end: one run folder per value, its log beside it, a ranked table at the end", () => {
    expect(script.code, script.stderr).toBe(0);
    for (const lr of ["0.1", "1"]) {
      const run = path.join(SWEEP, `lr-${lr}`);
      for (const f of ["config.json", "loss.csv", "epochs.csv", "model.json", "summary.json", "curves.svg"]) expect(existsSync(path.join(run, f)), f).toBe(true);
      expect(existsSync(`${run}.log`)).toBe(true);
      expect(JSON.parse(readFileSync(path.join(run, "config.json"), "utf8"))).toMatchObject({ lr: Number(lr), iters: 40, seed: 1, trainLimit: 1000 });
    }
    const lines = script.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^#\s+run\s+status\s+lr\s+hidden\s+batch\s+iters\s+seed\s+epochs\s+final loss\s+train acc\s+test acc\s+wall s$/);
    // 40 iterations of 50 per epoch (1000 images, batch 20)
    expect(lines[1]).toMatch(/\s40\s+1\s+0\.8\s/);
    expect(lines).toHaveLength(3);
    expect(existsSync(path.join(SWEEP, "overlay.svg"))).toBe(true);
  });

  it("a second run of the script keeps the finished runs", async () => {
    const before = readFileSync(path.join(SWEEP, "lr-1", "summary.json"), "utf8");
    const again = await runScript("configs/sweeps/lr-sweep.sh", ["1"], { SWEEP_DIR: SWEEP, ITERS: "40" });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/lr=1: done already/);
    expect(readFileSync(path.join(SWEEP, "lr-1", "summary.json"), "utf8")).toBe(before);
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
    expect(table[0]).toEqual(["rank", "run", "status", "lr", "hidden_size", "batch_size", "iters", "seed", "iterations", "epochs", "final_loss", "train_accuracy", "test_accuracy", "val_accuracy", "wall_time_s"]);
    expect(table).toHaveLength(4);
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
