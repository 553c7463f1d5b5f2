// The board's view of a layer net: mnist-eval's numbers, the first conv's filters as their own
// small pictures, and a drawn digit classified with the softmax of the net's scores.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { loadMnistRaw, PIXEL_SCALE } from "../../../src/data/mnist.js";
import { ModelCache } from "../../../src/board/model-view.js";
import { parseLayerList } from "../../../src/reference/layer-spec.js";
import { buildReferenceNet } from "../../../src/reference/net-from-spec.js";
import { toModelJson } from "../../../src/run/model-json.js";
import { predictProbabilities, predictSplit } from "../../../src/train/evaluate.js";
import { tempDir } from "../../helpers.js";

const tmp = tempDir("mnist-ts-board-layers-");
afterAll(tmp.cleanup);

function saved(list: string): { dir: string; net: ReturnType<typeof buildReferenceNet> } {
  const net = buildReferenceNet(parseLayerList(list).layers, new Rng(1), { init: "he" });
  const dir = path.join(tmp.dir, list.replace(/\W+/g, "-"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "model.json"), JSON.stringify(toModelJson(net)));
  return { dir, net };
}

describe("the board's view of a layer net", () => {
  it("a first conv's filters are drawn as FH × FW pictures; the errors and accuracy are mnist-eval's", async () => {
    const { dir, net } = saved("conv 5 3x3 s2, relu, maxpool 2, affine 10");
    const view = await new ModelCache().view(dir, "conv");
    expect(view.architecture).toBe("conv 5 3x3 s2, relu, maxpool 2x2, affine 10");
    expect(view.weights).toMatchObject({ units: 5, shown: 5, width: 3, height: 3, kind: "filters" });
    const filter2 = Array.from(net.params.W1.subarray(18, 27));
    const lo = Math.min(...filter2), hi = Math.max(...filter2);
    expect(Array.from(Buffer.from(view.weights.images[2], "base64"))).toEqual(filter2.map((v) => Math.round(((v - lo) / (hi - lo)) * 255)));
    const { test } = await loadMnistRaw();
    const predicted = predictSplit(net, test);
    expect(view.errorCount).toBe(predicted.filter((p, i) => p !== test.labels[i]).length);
  });

  it("a first affine after a batch norm draws 28×28 units; one after a pooling draws none", async () => {
    const bn = await new ModelCache().view(saved("batchnorm, affine 6, relu, affine 10").dir, "bn");
    expect(bn.weights).toMatchObject({ units: 6, shown: 6, width: 28, height: 28, kind: "units" });
    const pooled = await new ModelCache().view(saved("maxpool 2, affine 10").dir, "pooled");
    expect(pooled.weights).toMatchObject({ units: 0, shown: 0, images: [] });
  });

  it("a drawn digit gets the softmax of the net's scores", async () => {
    const { dir, net } = saved("conv 2 5x5 s3, tanh, affine 10");
    const { test } = await loadMnistRaw();
    const png = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 784; p++) {
      png.data[4 * p] = png.data[4 * p + 1] = png.data[4 * p + 2] = test.images[p];
      png.data[4 * p + 3] = 255;
    }
    const got = await new ModelCache().predict(dir, "d", PNG.sync.write(png));
    const pixels = Buffer.from(got.pixels, "base64");
    expect(got.probabilities).toEqual(Array.from(predictProbabilities(net, Float64Array.from(pixels, (v) => PIXEL_SCALE[v]))));
    expect(got.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});
