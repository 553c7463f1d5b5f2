// The library's train() with partial hyperparameters, and loadModel/saveModel against the commands.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnistRaw, type MnistRaw } from "../../../src/data/mnist.js";
import { loadModel, saveModel } from "../../../src/run/model-file.js";
import { train } from "../../../src/train/library-train.js";
import { train as trainLoop, type EpochEvent } from "../../../src/train/trainer.js";
import { HyperparametersSchema } from "../../../src/train/hyperparameters.js";
import { runBin, tempDir } from "../../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let mnist: MnistRaw;
beforeAll(async () => {
  mnist = await loadMnistRaw();
});

describe("train() with partial hyperparameters", () => {
  it("fills in the book's values, as mnist-train does, and trains exactly as the full call", async () => {
    const epochs: number[] = [];
    const r = await train(mnist, { iters: 30, trainLimit: 500, testLimit: 200, batchSize: 20, seed: 3 }, { listeners: { epoch: (e: EpochEvent) => epochs.push(e.epoch) }, threads: 1 });
    // the book's ch04 settings, written out by hand; an epoch = 500 / 20 = 25 iterations
    expect(r.hyperparameters).toMatchObject({ iters: 30, batchSize: 20, lr: 0.1, hiddenSize: 50, weightInitStd: 0.01, seed: 3, evalEvery: 25, grad: "analytic", optimizer: "sgd", activation: "sigmoid", dtype: "float32" });
    expect(epochs).toEqual([1 / 25, 26 / 25, 30 / 25]);
    const full = { ...HyperparametersSchema.parse({ iters: 30, trainLimit: 500, testLimit: 200, batchSize: 20 }), seed: 3, evalEvery: 25 };
    const reference = await trainLoop({ train: mnist.train, test: mnist.test }, full, { threads: 1 });
    expect(r.testAccuracy).toBe(reference.testAccuracy);
    expect(r.finalLoss).toBe(reference.finalLoss);
    expect(Array.from(r.net.params.W1 as Float64Array)).toEqual(Array.from(reference.net.params.W1 as Float64Array));
    expect(r.datasetSha256).toBe(mnist.datasetSha256);
  });

  it("epochs count the images trained on (valSize held out); a random seed is chosen and returned", async () => {
    const r = await train(mnist, { epochs: 2, trainLimit: 500, valSize: 100, testLimit: 100, batchSize: 20 }, { threads: 1 });
    expect(r.hyperparameters.iters).toBe(2 * 20);
    expect(r.iterations).toBe(40);
    expect(Number.isInteger(r.hyperparameters.seed)).toBe(true);
    expect(r.valAccuracy).toBeGreaterThan(0);
  });

  it("a bad or unknown field is a UsageError naming it", async () => {
    await expect(train(mnist, { lr: -1 })).rejects.toThrow(/^hyperparameters: "lr" must be a positive number \(got -1\)$/);
    await expect(train(mnist, { learningRate: 0.1 } as never)).rejects.toThrow(/^hyperparameters: unknown key "learningRate"$/);
    await expect(train(mnist, { epochs: 1, iters: 5 })).rejects.toThrow(/--epochs and --iters cannot both be given/);
  });
});

describe("saveModel / loadModel", () => {
  it("a net trained in code is a model.json the commands read: mnist-eval reproduces and shows its recorded accuracy", async () => {
    const r = await train(mnist, { iters: 40, trainLimit: 1000, testLimit: 300, batchSize: 20, seed: 5 }, { threads: 1 });
    const file = path.join(tmp.dir, "model.json");
    await saveModel(file, r);
    const e = await runBin("mnist-eval", [file, "--limit", "300", "--json"]);
    expect(e.code, e.stderr).toBe(0);
    const report = JSON.parse(e.stdout);
    expect(report.testAccuracy).toBe(r.testAccuracy);
    expect(report.recordedTestAccuracy).toBe(r.testAccuracy);
    expect(report.hyperparameters).toMatchObject({ iters: 40, seed: 5, evalEvery: 50 });
    const loaded = await loadModel(file);
    const x = new Float64Array(784 * 3);
    for (let i = 0; i < x.length; i++) x[i] = mnist.test.images[i] / 255;
    expect(Array.from(loaded.predict(x))).toEqual(Array.from(r.net.predict(x)));
    // a bare net: no training record
    await saveModel(file, r.net);
    expect(JSON.parse(readFileSync(file, "utf8")).training).toBeUndefined();
  });

  it("loadModel names the file and the field at fault", async () => {
    await expect(loadModel(path.join(tmp.dir, "none.json"))).rejects.toThrow(/none\.json: no such file$/);
    const file = path.join(tmp.dir, "bad.json");
    const r = await train(mnist, { iters: 1, trainLimit: 100, testLimit: 10, hiddenSize: 4, seed: 1 }, { threads: 1 });
    await saveModel(file, r.net);
    const model = JSON.parse(readFileSync(file, "utf8"));
    model.params.W1.shape = [784, 5];
    writeFileSync(file, JSON.stringify(model));
    await expect(loadModel(file)).rejects.toThrow(/bad\.json: "params\.W1\.shape" is \[784, 5\], expected \[784, 4\]/);
  });
});
