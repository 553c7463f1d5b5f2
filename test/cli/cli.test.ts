// End-to-end tests of the built bins on small subsets of real MNIST.
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ANSI, runBin, tempDir } from "../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SMALL = ["--train-limit", "500", "--test-limit", "300", "--iters", "30", "--batch-size", "20", "--seed", "7"];

function readCsv(file: string): string[][] {
  return readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(","));
}

describe("mnist-train", () => {
  const out = path.join(tmp.dir, "run1");
  let summary: Record<string, any>;

  it("trains, writes the run folder and prints one JSON line on stdout", async () => {
    const r = await runBin("mnist-train", [...SMALL, "--out", out, "--json"]);
    expect(r.stderr).not.toMatch(ANSI);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    summary = JSON.parse(lines[0]);
    expect(summary.runDir).toBe(out);
    expect(summary.iterations).toBe(30);
    expect(summary.seed).toBe(7);
    expect(summary.hyperparameters).toMatchObject({ iters: 30, batchSize: 20, lr: 0.1, hiddenSize: 50, grad: "analytic", evalEvery: 25 });
    expect(summary.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(summary.testAccuracy).toBeLessThanOrEqual(1);
    expect(readdirSync(out).sort()).toEqual(["config.json", "curves.svg", "epochs.csv", "loss.csv", "model.json", "summary.json"]);
    // human logs went to stderr, plain (piped): evaluation lines in the documented form, in true
    // epochs (25 iterations each: iteration 0 ends 1/25 of an epoch) with the latest iteration's loss
    const loss0 = Number(readFileSync(path.join(out, "loss.csv"), "utf8").split("\n")[1].split(",")[1]);
    expect(r.stderr).toMatch(new RegExp(`^epoch 0\\.04  train 0\\.\\d{4}  test 0\\.\\d{4}  loss ${loss0.toFixed(4)}  \\(iteration 0, evaluation 0, `, "m"));
    expect(r.stderr).toMatch(/^epoch 1\.20  train .* \(iteration 29, evaluation 2, /m);
    // the header counts the images used; the end names the curves
    expect(r.stderr).toMatch(/500 training \/ 300 test images \(bundled\), 1\.2 epochs of 25 iterations/);
    expect(r.stderr).toContain(`curves: ${path.join(out, "curves.svg")} (`);
    expect(summary.epochs).toBe(30 / 25);
  });

  it("loss.csv has a row per iteration; epochs.csv a row per evaluation plus the final one", () => {
    const loss = readCsv(path.join(out, "loss.csv"));
    expect(loss[0]).toEqual(["iteration", "loss"]);
    expect(loss).toHaveLength(31);
    expect(loss.slice(1).map((r) => Number(r[0]))).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const r of loss.slice(1)) expect(Number(r[1])).toBeGreaterThan(0);
    expect(Number(loss[30][1])).toBe(summary.finalLoss);
    const epochs = readCsv(path.join(out, "epochs.csv"));
    expect(epochs[0]).toEqual(["evaluation", "epoch", "iteration", "train_acc", "test_acc", "elapsed_s"]);
    // evalEvery = floor(500 / 20) = 25: iterations 0 and 25, then the final model at 29; epochs completed = (iteration + 1) / 25
    expect(epochs.slice(1).map((r) => [Number(r[0]), Number(r[1]), Number(r[2])])).toEqual([[0, 1 / 25, 0], [1, 26 / 25, 25], [2, 30 / 25, 29]]);
    expect(Number(epochs[3][4])).toBe(summary.testAccuracy);
    expect(Number(epochs[3][3])).toBe(summary.trainAccuracy);
  });

  it("model.json follows the documented format", () => {
    const model = JSON.parse(readFileSync(path.join(out, "model.json"), "utf8"));
    expect(model.format).toBe("mnist-ts.model");
    expect(model.version).toBe(1);
    expect(model.architecture).toEqual({ type: "two-layer-net", inputSize: 784, hiddenSize: 50, outputSize: 10, activation: "sigmoid" });
    expect(model.params.W1.shape).toEqual([784, 50]);
    expect(model.params.W1.data).toHaveLength(784 * 50);
    expect(model.params.b2.shape).toEqual([10]);
    expect(model.training).toMatchObject({ seed: 7, iterations: 30, testAccuracy: summary.testAccuracy, trainAccuracy: summary.trainAccuracy });
    expect(model.training.datasetSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Number.isNaN(Date.parse(model.createdAt))).toBe(false);
    const config = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"));
    expect(config).toMatchObject({ iters: 30, batchSize: 20, seed: 7, trainLimit: 500, testLimit: 300, dataSource: "bundled", evalEvery: 25 });
  });

  it("mnist-eval reproduces the recorded test accuracy", async () => {
    const r = await runBin("mnist-eval", [path.join(out, "model.json"), "--limit", "300", "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.testAccuracy).toBe(summary.testAccuracy);
    expect(report.count).toBe(300);
    expect(report.confusion).toHaveLength(10);
    const total = report.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    expect(total).toBe(300);
    const diagonal = report.confusion.reduce((s: number, row: number[], i: number) => s + row[i], 0);
    expect(diagonal / 300).toBe(report.testAccuracy);
    expect(report.perClass).toHaveLength(10);
    const text = await runBin("mnist-eval", [path.join(out, "model.json"), "--limit", "300"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`test accuracy  ${summary.testAccuracy.toFixed(4)}`);
    expect(text.stdout).toContain(`recorded       ${summary.testAccuracy.toFixed(4)}  (at training, on the same 300 images)`);
    expect(text.stdout).toContain("confusion matrix");
    expect(text.stdout).not.toMatch(ANSI);
    // plain SGD with the std init: its settings, and none of the other optimizers' or schedules'
    const trained = text.stdout.split("\n").find((l) => l.startsWith("trained with"))!;
    for (const k of ["iters=30", "batchSize=20", "lr=0.1", "hiddenSize=50", "weightInitStd=0.01", "seed=7", "optimizer=sgd", "testLimit=300"]) expect(trained).toContain(k);
    for (const k of ["beta1", "beta2", "momentum", "rmsDecay", "lrGamma", "lrStepEpochs", "weightDecay", "dropout"]) expect(trained).not.toContain(k);
    expect(report.recordedTestAccuracy).toBe(summary.testAccuracy);
    expect(report.recordedCount).toBe(300);
    // on all 10,000 test images: the recorded figure is on another set, and says so
    const all = await runBin("mnist-eval", [path.join(out, "model.json")]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`recorded       ${summary.testAccuracy.toFixed(4)}  (at training, on the first 300 test images: a different test set from these 10000)`);
  });

  it("--dtype float64: recorded in the model, and mnist-eval reproduces its accuracy too", async () => {
    const dir = path.join(tmp.dir, "run-f64");
    const r = await runBin("mnist-train", [...SMALL, "--dtype", "float64", "--out", dir, "--json", "--quiet"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.hyperparameters.dtype).toBe("float64");
    const e = await runBin("mnist-eval", [path.join(dir, "model.json"), "--limit", "300", "--json"]);
    expect(JSON.parse(e.stdout).testAccuracy).toBe(s.testAccuracy);
    const bad = await runBin("mnist-train", ["--dtype", "float16", "--out", path.join(tmp.dir, "f16")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('mnist-train: --dtype must be float32 or float64 (got "float16")');
  });

  it("the same seed twice gives identical parameters; another seed does not", async () => {
    const again = path.join(tmp.dir, "run1-again");
    const other = path.join(tmp.dir, "run1-other");
    expect((await runBin("mnist-train", [...SMALL, "--out", again, "--quiet"])).code).toBe(0);
    expect((await runBin("mnist-train", [...SMALL, "--seed", "8", "--out", other, "--quiet"])).code).toBe(0);
    const params = (dir: string) => JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")).params;
    expect(params(again)).toEqual(params(out));
    expect(params(other)).not.toEqual(params(out));
    expect(readFileSync(path.join(again, "loss.csv"), "utf8")).toBe(readFileSync(path.join(out, "loss.csv"), "utf8"));
  });

  it("--config supplies options, flags override it, and a run's config.json repeats the run", async () => {
    const cfg = path.join(tmp.dir, "cfg.json");
    writeFileSync(cfg, JSON.stringify({ iters: 12, batchSize: 10, trainLimit: 200, testLimit: 100, seed: 3, lr: 5 }));
    const a = path.join(tmp.dir, "cfg-a");
    const r = await runBin("mnist-train", ["--config", cfg, "--lr", "0.2", "--out", a, "--json", "--quiet"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const s = JSON.parse(r.stdout);
    expect(s.hyperparameters).toMatchObject({ iters: 12, batchSize: 10, lr: 0.2, seed: 3, evalEvery: 20 });
    const b = path.join(tmp.dir, "cfg-b");
    const again = await runBin("mnist-train", ["--config", path.join(a, "config.json"), "--out", b, "--json", "--quiet"]);
    expect(again.code).toBe(0);
    const p = (dir: string) => JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")).params;
    expect(p(b)).toEqual(p(a));
  });
});

describe("bad input: one line, the right exit code, nothing written", () => {
  const cases: [string, string[], number, RegExp][] = [
    ["negative lr", ["--lr", "-1"], 2, /^mnist-train: --lr must be a positive number \(got "-1"\)$/],
    ["non-numeric lr", ["--lr", "abc"], 2, /^mnist-train: --lr must be a number \(got "abc"\)$/],
    ["fractional iters", ["--iters", "1.5"], 2, /^mnist-train: --iters must be a whole number \(got "1\.5"\)$/],
    ["zero batch size", ["--batch-size", "0"], 2, /^mnist-train: --batch-size must be a positive whole number \(got "0"\)$/],
    ["bad grad mode", ["--grad", "magic"], 2, /^mnist-train: --grad must be analytic or numerical \(got "magic"\)$/],
    ["bad data source", ["--data-source", "ftp"], 2, /^mnist-train: --data-source must be bundled or download \(got "ftp"\)$/],
    ["train limit too big", ["--train-limit", "70000"], 2, /^mnist-train: --train-limit must be at most 60000 \(got "70000"\)$/],
    ["unknown flag", ["--bogus"], 2, /^mnist-train: unknown option '--bogus'/],
    ["missing flag value", ["--lr"], 2, /^mnist-train: option '--lr <x>' argument missing$/],
    ["missing config file", ["--config", "/nonexistent/cfg.json"], 1, /^mnist-train: \/nonexistent\/cfg\.json: no such file$/],
  ];
  for (const [name, args, code, message] of cases) {
    it(name, async () => {
      const out = path.join(tmp.dir, `bad-${name.replace(/\W+/g, "-")}`);
      const r = await runBin("mnist-train", ["--out", out, ...args]);
      expect(r.code).toBe(code);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stdout).toBe("");
      expect(existsSync(out)).toBe(false);
    });
  }

  it("config files: corrupt JSON is exit 1, a bad value or unknown key is exit 2, each naming the file", async () => {
    const corrupt = path.join(tmp.dir, "corrupt.json");
    writeFileSync(corrupt, "{ iters: 3");
    let r = await runBin("mnist-train", ["--config", corrupt]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^mnist-train: ${corrupt}: is not valid JSON`));
    const wrongType = path.join(tmp.dir, "wrong-type.json");
    writeFileSync(wrongType, JSON.stringify({ lr: "fast" }));
    r = await runBin("mnist-train", ["--config", wrongType]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`mnist-train: ${wrongType}: "lr" must be a number (got "fast")`);
    const unknown = path.join(tmp.dir, "unknown.json");
    writeFileSync(unknown, JSON.stringify({ iters: 3, learningRate: 0.1 }));
    r = await runBin("mnist-train", ["--config", unknown]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`mnist-train: ${unknown}: unknown key "learningRate"`);
  });

  it("a non-empty --out is refused before any training", async () => {
    const dir = path.join(tmp.dir, "occupied");
    writeFileSync(path.join(tmp.dir, "occupied-marker"), "");
    await runBin("mnist-train", [...SMALL, "--iters", "1", "--out", dir, "--quiet"]);
    const r = await runBin("mnist-train", [...SMALL, "--out", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/--out .*occupied: the folder is not empty/);
  });

  it("mnist-eval: missing file, corrupt JSON, wrong shapes, wrong architecture", async () => {
    let r = await runBin("mnist-eval", [path.join(tmp.dir, "none.json")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^mnist-eval: .*none\.json: no such file$/);
    const bad = path.join(tmp.dir, "bad-model.json");
    writeFileSync(bad, "not json");
    r = await runBin("mnist-eval", [bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/bad-model\.json: is not valid JSON/);
    const good = JSON.parse(readFileSync(path.join(tmp.dir, "run1", "model.json"), "utf8"));
    const shapes = structuredClone(good);
    shapes.params.W1.shape = [784, 40];
    writeFileSync(bad, JSON.stringify(shapes));
    r = await runBin("mnist-eval", [bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/"params\.W1\.shape" is \[784, 40\], expected \[784, 50\]/);
    const nan = structuredClone(good);
    nan.params.b1.data[3] = "NaN";
    writeFileSync(bad, JSON.stringify(nan));
    r = await runBin("mnist-eval", [bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/"params\.b1\.data\.3" must hold only finite numbers \(got "NaN"\)/);
    const arch = structuredClone(good);
    arch.architecture.type = "transformer";
    writeFileSync(bad, JSON.stringify(arch));
    r = await runBin("mnist-eval", [bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/"architecture\.type" must be "two-layer-net" \(got "transformer"\)/);
    r = await runBin("mnist-eval", [path.join(tmp.dir, "run1", "model.json"), "--limit", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('mnist-eval: --limit must be a positive whole number (got "0")');
    for (const res of [r]) expect(res.stderr).not.toMatch(/\n\s+at /);
  });
});
