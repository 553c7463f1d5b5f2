// mnist-predict end to end: PNGs built from real test digits (scaled 3×, dark ink on white,
// off-centre) go through MNIST's preprocessing and must be classified like the originals.
// Also the preprocessing steps on their own, and mnist-eval --show-errors.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnistRaw, PIXEL_SCALE, type MnistSplit } from "../../src/data/mnist.js";
import { digitArt } from "../../src/image/digit-art.js";
import { decodeImage, decodePng, mnistFromImage, resizeArea, centreOfMass } from "../../src/image/mnist-preprocess.js";
import { ModelJsonSchema, netFromModelJson } from "../../src/run/model-json.js";
import { ANSI, runBin, tempDir } from "../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Test image `i` scaled 3× (84×84), inverted to dark ink on white, pasted at (left, top) of a white canvas. */
function digitPng(test: MnistSplit, i: number, canvas = { width: 120, height: 100 }, at = { left: 6, top: 12 }, alpha = false): Buffer {
  const png = new PNG({ width: canvas.width, height: canvas.height });
  for (let p = 0; p < canvas.width * canvas.height; p++) {
    png.data[4 * p] = png.data[4 * p + 1] = png.data[4 * p + 2] = alpha ? 0 : 255;
    png.data[4 * p + 3] = alpha ? 0 : 255;
  }
  for (let y = 0; y < 84; y++) {
    for (let x = 0; x < 84; x++) {
      const v = test.images[i * 784 + Math.floor(y / 3) * 28 + Math.floor(x / 3)];
      const p = (at.top + y) * canvas.width + at.left + x;
      if (alpha) {
        png.data[4 * p + 3] = v; // black ink on a transparent canvas
      } else {
        png.data[4 * p] = png.data[4 * p + 1] = png.data[4 * p + 2] = 255 - v;
      }
    }
  }
  return PNG.sync.write(png);
}

/** The same picture as a JPEG (quality 90, as a phone or a paint program saves it). */
function digitJpeg(test: MnistSplit, i: number): Buffer {
  const png = PNG.sync.read(digitPng(test, i));
  return Buffer.from(jpeg.encode({ width: png.width, height: png.height, data: png.data }, 90).data);
}

let test: MnistSplit;
beforeAll(async () => {
  test = (await loadMnistRaw()).test;
});

describe("MNIST preprocessing", () => {
  it("gives back a real MNIST digit (already 20×20 in 28×28, centred by mass) nearly unchanged from its 3× dark-on-light picture", () => {
    for (const i of [0, 1, 2, 3, 4]) {
      const { pixels, inverted } = mnistFromImage(decodePng(digitPng(test, i), "d.png"), "d.png");
      expect(inverted).toBe(true);
      const original = test.images.subarray(i * 784, (i + 1) * 784);
      let dot = 0, na = 0, nb = 0;
      for (let p = 0; p < 784; p++) {
        dot += pixels[p] * original[p];
        na += pixels[p] ** 2;
        nb += original[p] ** 2;
      }
      expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.95);
    }
  });

  it("fits the ink into 20×20 keeping the aspect ratio and puts its centre of mass at the centre", () => {
    // A tall bar 30×90 on white, far in a corner.
    const png = new PNG({ width: 200, height: 150 });
    png.data.fill(255);
    for (let y = 5; y < 95; y++) for (let x = 150; x < 180; x++) png.data.fill(0, 4 * (y * 200 + x), 4 * (y * 200 + x) + 3);
    const { pixels } = mnistFromImage(decodePng(PNG.sync.write(png), "bar.png"), "bar.png");
    const rows = new Set<number>();
    const cols = new Set<number>();
    for (let p = 0; p < 784; p++) if (pixels[p] > 0) (rows.add(Math.floor(p / 28)), cols.add(p % 28));
    expect(rows.size).toBe(20);
    expect(cols.size).toBe(7); // 30/90 × 20 = 6.7 → 7 columns
    const com = centreOfMass({ width: 28, height: 28, data: Float64Array.from(pixels) });
    expect(Math.abs(com.x - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(com.y - 14)).toBeLessThanOrEqual(0.5);
  });

  it("reads black ink on a transparent canvas as dark on light", () => {
    const { pixels, inverted } = mnistFromImage(decodePng(digitPng(test, 0, undefined, undefined, true), "t.png"), "t.png");
    expect(inverted).toBe(true);
    expect(Math.max(...pixels)).toBe(255);
  });

  it("a JPEG of a digit preprocesses to nearly the 28×28 of the same picture as a PNG (cosine > 0.995)", () => {
    for (const i of [0, 1, 2]) {
      const fromPng = mnistFromImage(decodeImage(digitPng(test, i), "d.png"), "d.png");
      const fromJpeg = mnistFromImage(decodeImage(digitJpeg(test, i), "d.jpg"), "d.jpg");
      expect(fromJpeg.inverted).toBe(true);
      let dot = 0, a = 0, b = 0;
      for (let p = 0; p < 784; p++) {
        dot += fromPng.pixels[p] * fromJpeg.pixels[p];
        a += fromPng.pixels[p] ** 2;
        b += fromJpeg.pixels[p] ** 2;
      }
      expect(dot / Math.sqrt(a * b)).toBeGreaterThan(0.995);
    }
  });

  it("area averaging preserves the mean when shrinking", () => {
    const img = { width: 9, height: 6, data: Float64Array.from({ length: 54 }, (_, i) => (i * 37) % 256) };
    const small = resizeArea(img, 4, 3);
    const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(small.data)).toBeCloseTo(mean(img.data), 9);
  });

  it("draws 28×28 with Unicode shading inside a frame", () => {
    const art = digitArt(test.images.subarray(0, 784));
    expect(art).toHaveLength(30);
    for (const line of art.slice(1, -1)) expect(line).toMatch(/^│[ ░▒▓█]{56}│$/);
    expect(digitArt(test.images.subarray(0, 784), 28, "compact")).toHaveLength(16);
  });
});

describe("mnist-predict", () => {
  let modelFile: string;
  let picked: number[];

  beforeAll(async () => {
    const out = path.join(tmp.dir, "model-run");
    // ~90% test accuracy in a few seconds: 300 iterations at lr 1 on 10,000 images.
    const r = await runBin("mnist-train", ["--train-limit", "10000", "--test-limit", "1000", "--iters", "300", "--lr", "1", "--eval-every", "300", "--seed", "1", "--out", out, "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
    modelFile = path.join(out, "model.json");
    // One test digit per class that the model gets right from the original 28×28 input.
    const net = netFromModelJson(ModelJsonSchema.parse(JSON.parse(readFileSync(modelFile, "utf8"))));
    picked = [];
    const x = new Float64Array(784);
    for (let k = 0; k < 10; k++) {
      for (let i = 0; i < test.count; i++) {
        if (test.labels[i] !== k) continue;
        for (let p = 0; p < 784; p++) x[p] = PIXEL_SCALE[test.images[i * 784 + p]];
        const y = Array.from(net.predict(x));
        if (y.indexOf(Math.max(...y)) === k) {
          picked.push(i);
          break;
        }
      }
    }
    expect(picked).toHaveLength(10);
  });

  it("classifies at least 9 of 10 digits drawn dark-on-light, 3× larger and off-centre", async () => {
    const files = picked.map((i, k) => {
      const file = path.join(tmp.dir, `digit-${k}.png`);
      // Offsets differ per digit: left/top anywhere in the white margin.
      writeFileSync(file, digitPng(test, i, { width: 120, height: 100 }, { left: (k * 7) % 36, top: (k * 5) % 16 }));
      return file;
    });
    const r = await runBin("mnist-predict", [modelFile, ...files, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const { predictions } = JSON.parse(lines[0]);
    expect(predictions).toHaveLength(10);
    let right = 0;
    predictions.forEach((p: { image: string; digit: number; probabilities: number[]; inverted: boolean }, k: number) => {
      expect(p.image).toBe(files[k]);
      expect(p.inverted).toBe(true);
      expect(p.probabilities).toHaveLength(10);
      expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      if (p.digit === k) right++;
    });
    expect(right).toBeGreaterThanOrEqual(9);
  });

  it("prints the digit, the ten probabilities and, with --show, the 28×28 input", async () => {
    const file = path.join(tmp.dir, "digit-show.png");
    writeFileSync(file, digitPng(test, picked[3]));
    const r = await runBin("mnist-predict", [modelFile, file, "--show"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(ANSI);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: \\d  \\(p = 0\\.\\d{3}; dark ink on a light background, inverted\\)$`));
    expect(lines.filter((l) => /^  │[ ░▒▓█]{56}│$/.test(l))).toHaveLength(28);
    expect(lines.filter((l) => /^  \d  [01]\.\d{4}/.test(l))).toHaveLength(10);
  });

  it("reads a JPEG (a phone photo's format) like the PNG", async () => {
    const files = [3, 7].map((k) => {
      const file = path.join(tmp.dir, `photo-${k}.jpg`);
      writeFileSync(file, digitJpeg(test, picked[k]));
      return file;
    });
    const r = await runBin("mnist-predict", [modelFile, ...files, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).predictions.map((p: { digit: number }) => p.digit)).toEqual([3, 7]);
  });

  it("answers every file: a blank picture among three gets an error line, the other two their digits, exit 1 at the end", async () => {
    const seven = path.join(tmp.dir, "seven.png");
    const three = path.join(tmp.dir, "three.png");
    const blankFile = path.join(tmp.dir, "blank.png");
    writeFileSync(seven, digitPng(test, picked[7]));
    writeFileSync(three, digitPng(test, picked[3]));
    const blank = new PNG({ width: 10, height: 10 });
    blank.data.fill(255);
    writeFileSync(blankFile, PNG.sync.write(blank));
    const missing = path.join(tmp.dir, "missing.png");
    const text = await runBin("mnist-predict", [modelFile, seven, blankFile, three, missing]);
    expect(text.code).toBe(1);
    expect(text.stderr.trim().split("\n")).toEqual([`mnist-predict: ${blankFile}: holds no digit (a blank image)`, `mnist-predict: ${missing}: no such file`]);
    expect(text.stdout).toContain(`${seven}: 7 `);
    expect(text.stdout).toContain(`${three}: 3 `);
    const json = await runBin("mnist-predict", [modelFile, seven, blankFile, three, "--json"]);
    expect(json.code).toBe(1);
    const lines = json.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const { predictions } = JSON.parse(lines[0]);
    expect(predictions.map((p: { image: string; digit?: number; error?: string }) => [p.image, p.digit ?? p.error])).toEqual([
      [seven, 7],
      [blankFile, `${blankFile}: holds no digit (a blank image)`],
      [three, 3],
    ]);
  });

  it("a file that is not an image, a broken PNG, a blank picture: one line, exit 1", async () => {
    const bad = path.join(tmp.dir, "not.png");
    writeFileSync(bad, "hello");
    let r = await runBin("mnist-predict", [modelFile, bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^mnist-predict: .*not\.png: is neither a PNG nor a JPEG image$/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    writeFileSync(bad, digitPng(test, 0).subarray(0, 200));
    r = await runBin("mnist-predict", [modelFile, bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^mnist-predict: .*not\.png: is not a readable PNG/);
    writeFileSync(bad, digitJpeg(test, 0).subarray(0, 300));
    r = await runBin("mnist-predict", [modelFile, bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^mnist-predict: .*not\.png: is not a readable JPEG/);
    const blank = new PNG({ width: 10, height: 10 });
    blank.data.fill(255);
    writeFileSync(bad, PNG.sync.write(blank));
    r = await runBin("mnist-predict", [modelFile, bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/not\.png: holds no digit/);
    r = await runBin("mnist-predict", [modelFile]);
    expect(r.code).toBe(2);
  });

  it("mnist-eval --show-errors N draws N misclassified test digits with true and predicted labels", async () => {
    const r = await runBin("mnist-eval", [modelFile, "--limit", "500", "--show-errors", "3"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("test accuracy");
    const captions = [...r.stdout.matchAll(/#(\d+) true (\d) → predicted (\d)/g)];
    expect(captions).toHaveLength(3);
    for (const [, index, truth, predicted] of captions) {
      expect(Number(index)).toBeLessThan(500);
      expect(test.labels[Number(index)]).toBe(Number(truth));
      expect(predicted).not.toBe(truth);
    }
    const bad = await runBin("mnist-eval", [modelFile, "--show-errors", "-1"]);
    expect(bad.code).toBe(2);
  });
});
