// mnist-train --grad numerical end to end: the fast numerical gradient on worker threads.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBin, tempDir } from "../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SMALL = ["--grad", "numerical", "--hidden-size", "8", "--iters", "6", "--batch-size", "10", "--train-limit", "300", "--test-limit", "100", "--seed", "2", "--json", "--quiet"];

describe("mnist-train --grad numerical", () => {
  it("trains; the model does not depend on --threads; --threads is not a hyperparameter", async () => {
    const models = [];
    for (const threads of ["1", "2"]) {
      const out = path.join(tmp.dir, `t${threads}`);
      const r = await runBin("mnist-train", [...SMALL, "--threads", threads, "--out", out]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout);
      expect(summary.hyperparameters.grad).toBe("numerical");
      expect(summary.iterations).toBe(6);
      expect(JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"))).not.toHaveProperty("threads");
      models.push(JSON.parse(readFileSync(path.join(out, "model.json"), "utf8")));
    }
    expect(models[1].params).toEqual(models[0].params);
    expect(models[1].training.finalLoss).toBe(models[0].training.finalLoss);
  });

  it("rejects a bad --threads with exit 2", async () => {
    const expected: Record<string, string> = {
      "0": "must be a positive whole number",
      "1.5": "must be a whole number",
      x: "must be a number",
      "1000": "must be at most 256",
    };
    for (const [bad, why] of Object.entries(expected)) {
      const r = await runBin("mnist-train", [...SMALL, "--threads", bad, "--out", path.join(tmp.dir, "bad")]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`mnist-train: --threads ${why} (got "${bad}")\n`);
    }
  });
});
