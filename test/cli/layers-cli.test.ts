// --layers end to end (the built bins): a small conv net trains and its loss falls; its model.json
// gives mnist-eval the accuracy recorded at training and mnist-predict the net's own probabilities;
// mnist-report shows the list; mnist-gradcheck checks every layer type; bad lists are exit 2 and
// one line.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnistRaw, PIXEL_SCALE, type MnistSplit } from "../../src/data/mnist.js";
import { decodePng, mnistFromImage } from "../../src/image/mnist-preprocess.js";
import { loadModel } from "../../src/run/model-file.js";
import { predictProbabilities } from "../../src/train/evaluate.js";
import { TrainOptionsSchema } from "../../src/cli/train-options.js";
import { formatLayers, parseLayerList, SIMPLE_CONVNET_LAYERS } from "../../src/reference/layer-spec.js";
import { resolveSettings } from "../../src/train/plan.js";
import { ROOT, runBin, tempDir } from "../helpers.js";

const tmp = tempDir("mnist-ts-layers-");
afterAll(() => tmp.cleanup());

const CONV = "conv 4 3x3, relu, maxpool 2, affine 10";
const runDir = path.join(tmp.dir, "conv");
let test: MnistSplit;
let trained: { code: number | null; stderr: string; stdout: string };

beforeAll(async () => {
  test = (await loadMnistRaw()).test;
  trained = await runBin("mnist-train", [
    "--layers", CONV, "--optimizer", "adam", "--lr", "0.01", "--batch-size", "20", "--iters", "60", "--eval-every", "30",
    "--train-limit", "600", "--test-limit", "200", "--seed", "2", "--out", runDir, "--json", "--threads", "1",
  ]);
}, 300_000);

describe("mnist-train --layers", () => {
  it("trains the conv net on the engine: the start line names it, its loss falls, config.json records the list and float32", () => {
    expect(trained.code).toBe(0);
    expect(trained.stderr).toMatch(/^mnist-train: net "conv 4 3x3, relu, maxpool 2x2, affine 10" \(std init, adam\), analytic gradient, 60 iterations of batch 20/);
    const losses = readFileSync(path.join(runDir, "loss.csv"), "utf8").trim().split("\n").slice(1).map((l) => Number(l.split(",")[1]));
    expect(losses).toHaveLength(60);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 10)) * 0.6);
    const config = JSON.parse(readFileSync(path.join(runDir, "config.json"), "utf8"));
    expect(config.layers).toBe("conv 4 3x3, relu, maxpool 2x2, affine 10");
    expect(config.dtype).toBe("float32");
    for (const k of ["hiddenSize", "activation", "dropout"]) expect(config).not.toHaveProperty(k);
    const summary = JSON.parse(trained.stdout);
    expect(summary.testAccuracy).toBeGreaterThan(0.5);
  });

  it("its config.json repeats the run (--config), byte for byte in loss.csv", async () => {
    const again = path.join(tmp.dir, "again");
    const r = await runBin("mnist-train", ["--config", path.join(runDir, "config.json"), "--out", again, "--quiet", "--threads", "1"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(again, "loss.csv"), "utf8")).toBe(readFileSync(path.join(runDir, "loss.csv"), "utf8"));
  }, 300_000);

  it("mnist-eval of its model.json measures the accuracy recorded at training", async () => {
    const r = await runBin("mnist-eval", [runDir, "--limit", "200", "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.count).toBe(200);
    expect(report.testAccuracy).toBe(JSON.parse(trained.stdout).testAccuracy);
    expect(report.testAccuracy).toBe(report.recordedTestAccuracy);
    const text = await runBin("mnist-eval", [runDir, "--limit", "200"]);
    expect(text.stdout).toMatch(/^trained with .*layers=conv 4 3x3, relu, maxpool 2x2, affine 10$/m);
    expect(text.stdout).not.toMatch(/hiddenSize|activation=/);
  });

  it("mnist-predict gives the probabilities of the loaded net (the softmax of its scores)", async () => {
    const png = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 784; p++) {
      png.data[4 * p] = png.data[4 * p + 1] = png.data[4 * p + 2] = test.images[784 * 3 + p];
      png.data[4 * p + 3] = 255;
    }
    const file = path.join(tmp.dir, "digit.png");
    writeFileSync(file, PNG.sync.write(png));
    const r = await runBin("mnist-predict", [runDir, file, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [prediction] = JSON.parse(r.stdout).predictions;
    const net = await loadModel(runDir);
    const { pixels } = mnistFromImage(decodePng(readFileSync(file), file), file);
    const expected = Array.from(predictProbabilities(net, Float64Array.from(pixels, (v) => PIXEL_SCALE[v])));
    expect(prediction.probabilities).toEqual(expected);
    expect(prediction.probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 12);
    expect(prediction.digit).toBe(expected.indexOf(Math.max(...expected)));
  });

  it("mnist-report shows the list as the run's architecture", async () => {
    const r = await runBin("mnist-report", [runDir, "--json"]);
    expect(r.code).toBe(0);
    const [row] = JSON.parse(r.stdout).runs;
    expect(row.hyperparameters.layers).toBe("conv 4 3x3, relu, maxpool 2x2, affine 10");
    expect(row.hiddenSize).toBeNull();
    expect(row.hyperparameters.hiddenSize).toBeNull();
    const text = await runBin("mnist-report", [runDir]);
    expect(text.stderr).toMatch(/layers "conv 4 3x3, relu, maxpool 2x2, affine 10"/);
  });

  it("mnist-export writes it as ONNX; a padded maxpool is refused with one line", async () => {
    const ok = await runBin("mnist-export", [runDir, "--onnx", path.join(tmp.dir, "conv.onnx")]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(/conv\.onnx: "conv 4 3x3, relu, maxpool 2x2, affine 10" network, ONNX opset 13, \d+ bytes\n$/);
    const model = JSON.parse(readFileSync(path.join(runDir, "model.json"), "utf8"));
    model.architecture.layers[2].pad = 1;
    model.params.W2 = { shape: [4 * 14 * 14, 10], data: new Array(4 * 14 * 14 * 10).fill(0) };
    const padded = path.join(tmp.dir, "padded.json");
    writeFileSync(padded, JSON.stringify(model));
    const r = await runBin("mnist-export", [padded, "--onnx", path.join(tmp.dir, "padded.onnx")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mnist-export: .*padded\.json: layer 3 "maxpool 2x2 p1" pads its windows with zeros \(the book's max pooling\), which ONNX MaxPool cannot express .*\n$/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("configs/simple-convnet.json", () => {
  it("is the book's ch07 recipe (train_convnet.py with common/trainer.py): SimpleConvNet, Adam lr 0.001, batch 100 drawn with replacement, 20 epochs, std 0.01", () => {
    const config = TrainOptionsSchema.parse(JSON.parse(readFileSync(path.join(ROOT, "configs", "simple-convnet.json"), "utf8")));
    expect(config.layers).toBe(formatLayers(parseLayerList(SIMPLE_CONVNET_LAYERS).layers));
    expect(config).toMatchObject({ optimizer: "adam", lr: 0.001, batchSize: 100, epochs: 20, init: "std", weightInitStd: 0.01, sampling: "replacement", evalEvery: 600 });
    // the book's iter_per_epoch = 60000 / 100: 12,000 iterations
    expect(resolveSettings(config, 60_000).iters).toBe(12_000);
  });

  it("starts a run (one epoch on 200 images)", async () => {
    const out = path.join(tmp.dir, "simple-convnet");
    const r = await runBin("mnist-train", ["--config", path.join(ROOT, "configs", "simple-convnet.json"), "--epochs", "1", "--train-limit", "200", "--test-limit", "100", "--seed", "1", "--out", out, "--quiet", "--threads", "1"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const model = JSON.parse(readFileSync(path.join(out, "model.json"), "utf8"));
    expect(model.params.W1.shape).toEqual([30, 1, 5, 5]);
    expect(model.params.W2.shape).toEqual([4320, 100]);
  }, 300_000);
});

describe("bad layer lists and conflicting options: exit 2, one line, no stack trace, no run folder", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown layer", ["--layers", "conv 4 3x3, pool 2, affine 10"], /^mnist-train: --layers: layer 2 "pool 2": unknown layer "pool" \(known: conv, maxpool, affine, dropout, relu, sigmoid, tanh, batchnorm, flatten\)$/],
    ["a window larger than its input", ["--layers", "conv 4 5x5, maxpool 30, affine 10"], /^mnist-train: --layers: layer 2 "maxpool 30": the 30×30 window is larger than its 24×24 input$/],
    ["a net not ending in 10 scores", ["--layers", "conv 4 3x3, relu, affine 12"], /^mnist-train: --layers: layer 3 "affine 12": gives 12 values per image, not the 10 class scores the net must end with \(end with "affine 10"\)$/],
    ["an empty list", ["--layers", ""], /^mnist-train: --layers: the layer list is empty$/],
    ["--layers with --hidden-size", ["--layers", "affine 10", "--hidden-size", "100"], /^mnist-train: --layers and --hidden-size cannot both be given \(the layer list declares the whole net\)$/],
    ["--layers with --activation", ["--layers", "affine 10", "--activation", "relu"], /^mnist-train: --layers and --activation cannot both be given/],
    ["--layers with --dropout", ["--layers", "affine 10", "--dropout", "0.5"], /^mnist-train: --layers and --dropout cannot both be given/],
    ["--layers with --grad numerical", ["--layers", "affine 10", "--grad", "numerical"], /^mnist-train: --grad numerical is for the book's two-layer net only/],
  ];
  it.each(cases)("%s", async (_name, args, message) => {
    const out = path.join(tmp.dir, "bad");
    const r = await runBin("mnist-train", [...args, "--iters", "1", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it("a --config file's layers with a --hidden-size flag, or both in the file, is refused, naming the file", async () => {
    const file = path.join(tmp.dir, "layers.json");
    writeFileSync(file, JSON.stringify({ layers: [{ type: "affine", units: 10 }] }));
    const r = await runBin("mnist-train", ["--config", file, "--hidden-size", "20", "--iters", "1", "--out", path.join(tmp.dir, "bad2")]);
    expect([r.code, r.stderr]).toEqual([2, `mnist-train: --hidden-size: ${file} declares the whole net as "layers"; change it with --layers\n`]);
    writeFileSync(file, JSON.stringify({ layers: "conv 2 3x3, affine 10", dropout: 0.1 }));
    const s = await runBin("mnist-train", ["--config", file, "--iters", "1", "--out", path.join(tmp.dir, "bad3")]);
    expect([s.code, s.stderr]).toEqual([2, `mnist-train: ${file}: "layers" and "dropout" cannot both be given (the layer list declares the whole net)\n`]);
  });

});

describe("flags over a --config file", () => {
  it("flags override a --config file's net and length, whichever way the file gives them", async () => {
    // a fully connected config of hidden sizes and epochs, run with a layer list for a few iterations
    const file = path.join(tmp.dir, "mlp.json");
    writeFileSync(file, JSON.stringify({ hiddenSize: 30, activation: "tanh", dropout: 0.2, epochs: 3, batchSize: 10 }));
    const out = path.join(tmp.dir, "overridden");
    const r = await runBin("mnist-train", ["--config", file, "--layers", "affine 12, relu, affine 10", "--iters", "4", "--train-limit", "100", "--test-limit", "50", "--quiet", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"));
    expect([cfg.layers, cfg.iters, cfg.epochs, cfg.hiddenSize, cfg.dropout, cfg.batchSize]).toEqual(["affine 12, relu, affine 10", 4, undefined, undefined, undefined, 10]);
    // a config of iterations, run for an epoch
    writeFileSync(file, JSON.stringify({ iters: 7, batchSize: 20 }));
    const out2 = path.join(tmp.dir, "overridden2");
    const s = await runBin("mnist-train", ["--config", file, "--epochs", "1", "--train-limit", "100", "--test-limit", "50", "--quiet", "--out", out2]);
    expect(s.code, s.stderr).toBe(0);
    const cfg2 = JSON.parse(readFileSync(path.join(out2, "config.json"), "utf8"));
    expect([cfg2.epochs, cfg2.iters]).toEqual([1, 5]);
  });
});

describe("mnist-gradcheck --layers", () => {
  const ALL = "conv 3 5x5 s3, batchnorm, tanh, maxpool 2, dropout 0.3, flatten, affine 8, relu, affine 6, sigmoid, affine 10";
  it("every layer type: conv, batchnorm, maxpool, dropout, flatten, affine, relu, sigmoid, tanh agree with the numerical gradient", async () => {
    const r = await runBin("mnist-gradcheck", ["--layers", ALL, "--weight-init-std", "0.3", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.network).toEqual({ inputSize: 784, layers: "conv 3 5x5 s3, batchnorm, tanh, maxpool 2x2, dropout 0.3, flatten, affine 8, relu, affine 6, sigmoid, affine 10", outputSize: 10, weightInitStd: 0.3, seed: 0 });
    expect(Object.keys(report.tensors)).toEqual(["W1", "b1", "gamma1", "beta1", "W2", "b2", "W3", "b3", "W4", "b4"]);
    expect(report.tensors.W1.shape).toEqual([3, 1, 5, 5]);
    expect(report.tensors.gamma1.shape).toEqual([3 * 8 * 8]);
    expect(report.tensors.W2.shape).toEqual([3 * 4 * 4, 8]);
    for (const [name, t] of Object.entries(report.tensors) as [string, { maxRelError: number; maxRelErrorSameLoss: number; maxAbs: number }][]) {
      expect(t.maxRelError, name).toBeLessThan(1e-3);
      // a conv bias before a batch norm has no effect on the loss (the mean takes it away): zero both ways
      if (name !== "b1") expect(t.maxAbs, name).toBeGreaterThan(1e-4);
    }
    expect(report.tensors.b1.maxAbs).toBe(0);
    expect(report.pass).toBe(true);
    const text = await runBin("mnist-gradcheck", ["--layers", "conv 2 5x5 s3, tanh, affine 10", "--weight-init-std", "0.3"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^gradient check {2}"conv 2 5x5 s3, tanh, affine 10" net \(seed 0, init std 0\.3\)/);
    expect(text.stdout).toMatch(/^ok: max relative error/m);
  });

  it("a bad list, or --layers with --hidden-size, is exit 2 and one line", async () => {
    const bad = await runBin("mnist-gradcheck", ["--layers", "conv 4 3x3, affine 12"]);
    expect([bad.code, bad.stderr]).toEqual([2, 'mnist-gradcheck: --layers: layer 2 "affine 12": gives 12 values per image, not the 10 class scores the net must end with (end with "affine 10")\n']);
    const both = await runBin("mnist-gradcheck", ["--layers", "affine 10", "--hidden-size", "5"]);
    expect([both.code, both.stderr]).toEqual([2, "mnist-gradcheck: --layers and --hidden-size cannot both be given (the layer list declares the whole net)\n"]);
  });
});
