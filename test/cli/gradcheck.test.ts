// mnist-gradcheck end to end (the built bin) on real MNIST images.
import { describe, expect, it } from "vitest";
import { ANSI, runBin } from "../helpers.js";

describe("mnist-gradcheck", () => {
  it("784-50-10, batch 3: numerical and back-propagation agree; --json prints one line; exit 0", async () => {
    const r = await runBin("mnist-gradcheck", ["--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]);
    expect(report.network).toEqual({ inputSize: 784, hiddenSize: 50, outputSize: 10, weightInitStd: 0.01, seed: 0 });
    expect(report.batch).toEqual({ size: 3, offset: 0 });
    expect(Object.keys(report.tensors)).toEqual(["W1", "b1", "W2", "b2"]);
    expect(report.tensors.W1.shape).toEqual([784, 50]);
    for (const k of ["W1", "b1", "W2", "b2"]) {
      const t = report.tensors[k];
      // the book's gradient_check.py reports mean differences of 1e-10 to 1e-7
      expect(t.meanAbsDiff).toBeGreaterThan(0);
      expect(t.meanAbsDiff).toBeLessThan(1e-6);
      expect(t.maxAbsDiff).toBeGreaterThanOrEqual(t.meanAbsDiff);
      // vs back-propagation: the book's δ = 1e-7 in the log biases by ~δ/y ≈ 1e-6
      expect(t.maxRelError).toBeLessThan(1e-3);
      // vs the exact derivative of the same loss: only the O(h²) truncation error is left
      expect(t.maxRelErrorSameLoss).toBeLessThan(1e-5);
    }
    expect(report.tensors.b2.maxRelErrorSameLoss).toBeLessThan(1e-7);
    expect(report.pass).toBe(true);
    expect(report.maxRelError).toBe(Math.max(...["W1", "b1", "W2", "b2"].map((k) => report.tensors[k].maxRelError)));
  });

  it("prints a plain table when piped, and fails with exit 1 above --tolerance", async () => {
    const ok = await runBin("mnist-gradcheck", ["--batch-size", "2", "--hidden-size", "10", "--offset", "5", "--seed", "3"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toMatch(ANSI);
    expect(ok.stdout).toMatch(/^gradient check {2}784-10-10 net \(seed 3/);
    expect(ok.stdout).toMatch(/training images 5\.\.6/);
    for (const k of ["W1", "b1", "W2", "b2"]) expect(ok.stdout).toMatch(new RegExp(`^  ${k}\\s+\\d\\.\\d\\de-\\d+`, "m"));
    expect(ok.stdout).toMatch(/^ok: max relative error/m);

    const bad = await runBin("mnist-gradcheck", ["--tolerance", "1e-12", "--json"]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).pass).toBe(false);
    expect(bad.stderr).toMatch(/^mnist-gradcheck: max relative error \d\.\d\de-\d+ \(in \w+\) exceeds --tolerance 1e-12\n$/);
  });

  it("rejects bad flags with exit 2 and one line", async () => {
    for (const args of [["--batch-size", "0"], ["--tolerance", "-1"], ["--offset", "59999", "--batch-size", "3"], ["--bogus"]]) {
      const r = await runBin("mnist-gradcheck", args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^mnist-gradcheck: /);
    }
  });
});
