// mnist-train --augment on small subsets of real MNIST: recorded, reproducible, resumable bit for
// bit after a signal, evaluated on the real test images; bad bounds refused with one line.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, runBin, tempDir, type RunResult } from "../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SMALL = ["--train-limit", "1000", "--test-limit", "300", "--batch-size", "20", "--seed", "4"];
const text = (dir: string, f: string) => readFileSync(path.join(dir, f), "utf8");
const json = (dir: string, f: string) => JSON.parse(text(dir, f));
const rows = (dir: string, f: string) => (existsSync(path.join(dir, f)) ? text(dir, f).split("\n").length - 2 : 0);
/** epochs.csv without elapsed_s (the only column that depends on the clock). */
const epochsNoTime = (dir: string) =>
  text(dir, "epochs.csv")
    .trim()
    .split("\n")
    .map((l) => l.split(",").slice(0, 5).join(","));

describe("mnist-train --augment", () => {
  const dir = (name: string) => path.join(tmp.dir, name);

  it("records its bounds, differs from the plain run, repeats bit for bit, and mnist-eval measures the recorded accuracy", async () => {
    const args = [...SMALL, "--iters", "150", "--augment", "--augment-rotate", "15"];
    const a = await runBin("mnist-train", [...args, "--out", dir("a"), "--json"]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/augmented batches \(shift ≤ 2 px, rotation ≤ 15°, scale ± 0\.1\)/);
    const summary = JSON.parse(a.stdout);
    expect(summary.hyperparameters).toMatchObject({ augment: true, augmentShift: 2, augmentRotate: 15, augmentScale: 0.1 });
    expect(json(dir("a"), "config.json")).toMatchObject({ augment: true, augmentShift: 2, augmentRotate: 15, augmentScale: 0.1 });
    expect(json(dir("a"), "model.json").training.hyperparameters).toMatchObject({ augment: true, augmentRotate: 15 });

    const b = await runBin("mnist-train", [...args, "--out", dir("b"), "--quiet"]);
    expect(b.code).toBe(0);
    expect(text(dir("b"), "loss.csv")).toBe(text(dir("a"), "loss.csv"));
    expect(epochsNoTime(dir("b"))).toEqual(epochsNoTime(dir("a")));
    expect(json(dir("b"), "model.json").params).toEqual(json(dir("a"), "model.json").params);

    const plain = await runBin("mnist-train", [...SMALL, "--iters", "150", "--out", dir("plain"), "--quiet"]);
    expect(plain.code).toBe(0);
    expect(text(dir("plain"), "loss.csv")).not.toBe(text(dir("a"), "loss.csv"));
    expect(text(dir("plain"), "loss.csv").split("\n")[1]).not.toBe(text(dir("a"), "loss.csv").split("\n")[1]);

    const e = await runBin("mnist-eval", [dir("a"), "--limit", "300", "--json"]);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).testAccuracy).toBe(summary.testAccuracy);
    const trained = (await runBin("mnist-eval", [dir("a"), "--limit", "300"])).stdout.split("\n").find((l) => l.startsWith("trained with"))!;
    for (const k of ["augment=true", "augmentShift=2", "augmentRotate=15", "augmentScale=0.1"]) expect(trained).toContain(k);
    const plainTrained = (await runBin("mnist-eval", [dir("plain"), "--limit", "300"])).stdout.split("\n").find((l) => l.startsWith("trained with"))!;
    expect(plainTrained).not.toContain("augment");
  });

  it("SIGINT at a random iteration, then --resume: the uninterrupted run bit for bit", async () => {
    const args = [...SMALL, "--iters", "1000", "--augment", "--quiet"];
    const whole = await runBin("mnist-train", [...args, "--out", dir("whole")]);
    expect(whole.code).toBe(0);
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "mnist-train.js"), ...args, "--out", dir("cut")], { cwd: ROOT, stdio: "ignore" });
    const done = new Promise<RunResult["code"]>((resolve) => child.on("close", resolve));
    const target = 1 + Math.floor(Math.random() * 100);
    const t0 = Date.now();
    while (rows(dir("cut"), "loss.csv") < target && Date.now() - t0 < 60_000) await sleep(20);
    child.kill("SIGINT");
    expect(await done).toBe(130);
    const at = json(dir("cut"), "checkpoint.json").iteration;
    expect(at).toBeGreaterThanOrEqual(target);
    expect(at).toBeLessThan(1000);
    const resumed = await runBin("mnist-train", ["--resume", dir("cut"), "--quiet"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(text(dir("cut"), "loss.csv")).toBe(text(dir("whole"), "loss.csv"));
    expect(epochsNoTime(dir("cut"))).toEqual(epochsNoTime(dir("whole")));
    expect(json(dir("cut"), "model.json").params).toEqual(json(dir("whole"), "model.json").params);
  });

  for (const [args, message] of [
    [["--augment-shift", "1.5"], '--augment-shift must be a whole number of pixels (got "1.5")'],
    [["--augment-shift", "28"], '--augment-shift must be in [0, 27] pixels (got "28")'],
    [["--augment-shift", "-1"], '--augment-shift must be in [0, 27] pixels (got "-1")'],
    [["--augment-rotate", "181"], '--augment-rotate must be in [0, 180] degrees (got "181")'],
    [["--augment-rotate", "ten"], '--augment-rotate must be a number (got "ten")'],
    [["--augment-scale", "1"], '--augment-scale must be in [0, 1) (got "1")'],
    [["--augment-scale", "-0.1"], '--augment-scale must be in [0, 1) (got "-0.1")'],
  ] as const) {
    it(`refuses ${args.join(" ")} (exit 2, one line naming the flag)`, async () => {
      const r = await runBin("mnist-train", [...SMALL, "--augment", ...args, "--out", dir("bad")]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`mnist-train: ${message}\n`);
      expect(existsSync(dir("bad"))).toBe(false);
    });
  }
});
