// The package root as another project sees it: `import … from "mnist-ts"` after installing this folder.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT, runProcess, tempDir } from "../helpers.js";

const tmp = tempDir("mnist-ts-consumer-");
afterAll(() => tmp.cleanup());

it("exports the documented API from the package root", async () => {
  // `npm install <folder>` links the folder into node_modules; do the same without the network.
  mkdirSync(path.join(tmp.dir, "node_modules"));
  symlinkSync(ROOT, path.join(tmp.dir, "node_modules", "mnist-ts"), "dir");
  writeFileSync(path.join(tmp.dir, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
  writeFileSync(
    path.join(tmp.dir, "main.js"),
    `import * as m from "mnist-ts";
     const names = ["loadMnist", "parseIdx", "sigmoid", "softmax", "meanSquaredError", "crossEntropyError",
       "numericalDiff", "numericalGradient", "gradientDescent", "TwoLayerNet", "train", "Rng"];
     const missing = names.filter((n) => typeof m[n] !== "function");
     const net = new m.TwoLayerNet(784, 50, 10, { seed: 42 });
     const { test } = await m.loadMnist({ oneHotLabel: true });
     const x = test.x.subarray(0, 784 * 5);
     const t = test.t.subarray(0, 10 * 5);
     console.log(JSON.stringify({ missing, loss: net.loss(x, t), shape: test.xShape, cee: m.crossEntropyError([0.1, 0.05, 0.6, 0, 0.05, 0.1, 0, 0.1, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]) }));`,
  );
  const r = await runProcess(process.execPath, ["main.js"], { cwd: tmp.dir, env: process.env });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.missing).toEqual([]);
  expect(out.shape).toEqual([10000, 784]);
  expect(out.cee).toBe(0.510825457099338);
  expect(Math.abs(out.loss - Math.log(10))).toBeLessThan(0.01); // small random weights: ≈ uniform outputs
});
