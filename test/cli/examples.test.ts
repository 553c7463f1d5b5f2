// examples/book-ch04.ts, compiled by `npm run build` against the package's own types, run on a
// small split: its per-epoch accuracies are mnist-train's for the same settings, and it learns.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT, runBin, runProcess, tempDir } from "../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

it("examples/book-ch04.ts trains the book's net and prints the accuracy per epoch, as mnist-train does", async () => {
  const split = ["--train-limit", "2000", "--test-limit", "500", "--iters", "600"];
  const model = path.join(tmp.dir, "example-model.json");
  const ex = await runProcess(process.execPath, [path.join(ROOT, "dist", "examples", "book-ch04.js"), ...split, "--save", model], { cwd: tmp.dir, env: process.env });
  expect(ex.code, ex.stderr).toBe(0);
  const lines = ex.stdout.trim().split("\n");
  const epochs = lines.filter((l) => l.startsWith("epoch ")).map((l) => l.match(/^epoch (\S+)  train acc, test acc \| (\S+), (\S+)$/)!.slice(1).map(Number));
  // 2000 images / batch 100 = 20 iterations an epoch: evaluations after iterations 0, 20, …, 580 and the last, 599
  expect(epochs.map((e) => e[0])).toEqual([...Array.from({ length: 30 }, (_, k) => Math.round(((20 * k + 1) / 20) * 100) / 100), 30]);
  expect(epochs.at(-1)![2]).toBeGreaterThan(0.6);

  const out = path.join(tmp.dir, "cli-run");
  const cli = await runBin("mnist-train", [...split, "--batch-size", "100", "--lr", "0.1", "--seed", "1", "--out", out, "--quiet"]);
  expect(cli.code, cli.stderr).toBe(0);
  const rows = readFileSync(path.join(out, "epochs.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(",").map(Number));
  expect(epochs).toEqual(rows.map((r) => [Math.round(r[1] * 100) / 100, Math.round(r[3] * 1e4) / 1e4, Math.round(r[4] * 1e4) / 1e4]));
  const finalLoss = Number(readFileSync(path.join(out, "loss.csv"), "utf8").trim().split("\n").at(-1)!.split(",")[1]);
  expect(lines.at(-1)).toMatch(new RegExp(`^final loss ${finalLoss.toFixed(4)} after 600 iterations`));
  // its saved model is a model.json the commands read, with the accuracy it recorded
  const e = await runBin("mnist-eval", [model, "--limit", "500", "--json"]);
  expect(e.code, e.stderr).toBe(0);
  expect(JSON.parse(e.stdout).testAccuracy).toBe(JSON.parse(readFileSync(path.join(out, "summary.json"), "utf8")).testAccuracy);
});
