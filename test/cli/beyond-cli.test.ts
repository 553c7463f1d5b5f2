// mnist-train / mnist-eval with the beyond-chapter-4 options, on small subsets of real MNIST.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBin, tempDir } from "../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SMALL = ["--train-limit", "600", "--test-limit", "300", "--batch-size", "20", "--seed", "3"];

describe("mnist-train beyond chapter 4", () => {
  it("--hidden-size 40,30 relu/he adam with validation: an mlp model.json that mnist-eval loads", async () => {
    const out = path.join(tmp.dir, "deep");
    const r = await runBin("mnist-train", [
      ...SMALL, "--hidden-size", "40,30", "--activation", "relu", "--init", "he", "--optimizer", "adam", "--lr", "0.002",
      "--epochs", "2", "--sampling", "shuffle", "--val-size", "100", "--early-stop", "5", "--lr-schedule", "step", "--lr-step-epochs", "1",
      "--weight-decay", "1e-4", "--dropout", "0.1", "--out", out, "--json", "--quiet",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    // 500 training images after the 100 held out: 25 iterations per epoch
    expect(summary.iterations).toBe(50);
    expect(summary.hyperparameters).toMatchObject({ hiddenSize: [40, 30], activation: "relu", init: "he", optimizer: "adam", epochs: 2, iters: 50, valSize: 100 });
    expect(summary.valAccuracy).toBeGreaterThan(0.3);
    const model = JSON.parse(readFileSync(path.join(out, "model.json"), "utf8"));
    expect(model.architecture).toEqual({ type: "mlp", sizes: [784, 40, 30, 10], activation: "relu" });
    expect(model.training.hyperparameters.optimizer).toBe("adam");
    const val = readFileSync(path.join(out, "val.csv"), "utf8").trim().split("\n");
    expect(val[0]).toBe("evaluation,epoch,iteration,val_acc");
    // true epochs over the 500 images trained on (25 iterations each), not the 600 of --train-limit
    expect(val.slice(1, 3).map((l) => l.split(",").slice(0, 3).map(Number))).toEqual([[0, 1 / 25, 0], [1, 26 / 25, 25]]);
    expect(summary.epochs).toBe(2);
    const e = await runBin("mnist-eval", [path.join(out, "model.json"), "--limit", "300", "--json"]);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).testAccuracy).toBe(summary.testAccuracy);
    const text = await runBin("mnist-eval", [path.join(out, "model.json"), "--limit", "300"]);
    const trained = text.stdout.split("\n").find((l) => l.startsWith("trained with"))!;
    for (const k of ["optimizer=adam", "beta1=0.9", "beta2=0.999", "lrSchedule=step", "lrStepEpochs=1", "lrGamma=0.1", "weightDecay=0.0001", "dropout=0.1", "init=he"]) expect(trained).toContain(k);
    for (const k of ["momentum", "rmsDecay", "weightInitStd"]) expect(trained).not.toContain(k);
  });

  it("--optimizer adadelta --adadelta-rho 0.95 (PyTorch's Adadelta, lr 1.0, the example's step schedule): recorded, and only its ρ shown", async () => {
    const out = path.join(tmp.dir, "adadelta");
    const r = await runBin("mnist-train", [
      ...SMALL, "--hidden-size", "30", "--activation", "relu", "--optimizer", "adadelta", "--adadelta-rho", "0.95", "--lr", "1",
      "--epochs", "2", "--lr-schedule", "step", "--lr-step-epochs", "1", "--lr-gamma", "0.7", "--out", out, "--json", "--quiet",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.hyperparameters).toMatchObject({ optimizer: "adadelta", adadeltaRho: 0.95, lr: 1, lrSchedule: "step", lrGamma: 0.7 });
    expect(summary.testAccuracy).toBeGreaterThan(0.5);
    const text = await runBin("mnist-eval", [path.join(out, "model.json"), "--limit", "300"]);
    const trained = text.stdout.split("\n").find((l) => l.startsWith("trained with"))!;
    for (const k of ["optimizer=adadelta", "adadeltaRho=0.95", "lrGamma=0.7"]) expect(trained).toContain(k);
    for (const k of ["momentum", "rmsDecay", "beta1", "beta2"]) expect(trained).not.toContain(k);
  });

  it("the book's defaults still write a two-layer-net model.json", async () => {
    const out = path.join(tmp.dir, "book");
    const r = await runBin("mnist-train", [...SMALL, "--iters", "5", "--out", out]);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, "model.json"), "utf8")).architecture.type).toBe("two-layer-net");
    expect(existsSync(path.join(out, "val.csv"))).toBe(false);
  });

  it("--eval-every 300 with 100-iteration epochs: the lines say epochs 3 and 6, the header counts what was trained on", async () => {
    const out = path.join(tmp.dir, "epochs");
    const r = await runBin("mnist-train", ["--train-limit", "1100", "--val-size", "100", "--test-limit", "100", "--batch-size", "10", "--iters", "601", "--eval-every", "300", "--seed", "1", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1000 training \/ 100 validation \/ 100 test images \(bundled\), 6\.01 epochs of 100 iterations/);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("epoch "));
    expect(lines.map((l) => l.match(/^epoch (\S+) .*\(iteration (\d+), evaluation (\d+),/)!.slice(1))).toEqual([
      ["0.01", "0", "0"],
      ["3.01", "300", "1"],
      ["6.01", "600", "2"],
    ]);
  });

  for (const [name, args, message] of [
    ["--early-stop without --val-size", ["--early-stop", "3"], /--early-stop needs --val-size/],
    ["--epochs with --iters", ["--epochs", "2", "--iters", "10"], /--epochs and --iters cannot both be given/],
    ["an unknown optimizer", ["--optimizer", "lbfgs"], /--optimizer must be sgd, momentum, nesterov, adagrad, rmsprop, adam, adadelta/],
    ["dropout 1", ["--dropout", "1"], /--dropout must be in \[0, 1\)/],
    ["--adadelta-rho 1", ["--optimizer", "adadelta", "--adadelta-rho", "1"], /--adadelta-rho must be in \[0, 1\)/],
    ["a bad layer list", ["--hidden-size", "10,x"], /--hidden-size/],
  ] as const) {
    it(`rejects ${name} (exit 2, one line)`, async () => {
      const r = await runBin("mnist-train", [...SMALL, ...args, "--out", path.join(tmp.dir, "bad"), "--force"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    });
  }
});
