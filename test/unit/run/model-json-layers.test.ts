// model.json of a layer net (version 2, architecture "layers"): the round trip predicts exactly
// what the net did, and every way a file can be wrong is one message naming the field.
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { checkJsonShape } from "../../../src/io/files.js";
import { describeZodIssue } from "../../../src/io/zod-message.js";
import { parseLayerList } from "../../../src/reference/layer-spec.js";
import { buildReferenceNet, paramShapes } from "../../../src/reference/net-from-spec.js";
import { SequentialNet } from "../../../src/reference/sequential-net.js";
import { MODEL_JSON_LIMITS } from "../../../src/run/model-file.js";
import { AnyModelJsonSchema, netFromModelJson, toModelJson } from "../../../src/run/model-json.js";

const LIST = "conv 3 5x5 s2 p1, batchnorm, relu, maxpool 2, dropout 0.3, conv 2 3x3, tanh, flatten, affine 7, sigmoid, affine 10";

function trainedNet(): SequentialNet {
  const rng = new Rng(3);
  const net = buildReferenceNet(parseLayerList(LIST).layers, rng, { init: "he" });
  // non-trivial batch-norm statistics and biases
  const x = rng.fillNormal(new Float64Array(4 * 784), 1);
  for (let i = 0; i < 3; i++) net.gradient(x, [1, 2, 3, 4]);
  for (const [name, p] of Object.entries(net.params)) if (name.startsWith("b")) rng.fillNormal(p, 0.1);
  return net;
}

const parse = (v: unknown) => {
  const r = AnyModelJsonSchema.safeParse(v);
  return r.success ? "ok" : describeZodIssue(r.error.issues[0], v, "key");
};

describe("model.json of a layer net", () => {
  const net = trainedNet();
  const json = () => JSON.parse(JSON.stringify(toModelJson(net)));

  it("holds the typed list, every parameter with its shape and the batch-norm statistics as state", () => {
    const m = json();
    expect(m.version).toBe(2);
    expect(m.architecture).toEqual({ type: "layers", inputShape: [1, 28, 28], layers: parseLayerList(LIST).layers, classes: 10 });
    // conv W [FN, C, FH, FW], affine W [D, M], gamma/beta and the statistics [D] (D = C·H·W after the conv)
    expect(Object.fromEntries(Object.entries(m.params).map(([k, v]) => [k, (v as { shape: number[] }).shape]))).toEqual({
      W1: [3, 1, 5, 5], b1: [3], gamma1: [3 * 13 * 13], beta1: [3 * 13 * 13], W2: [2, 3, 3, 3], b2: [2], W3: [2 * 4 * 4, 7], b3: [7], W4: [7, 10], b4: [10],
    });
    expect(Object.keys(m.state)).toEqual(["runningMean1", "runningVar1"]);
    expect(paramShapes(parseLayerList(LIST).layers).params.W3).toEqual([32, 7]);
  });

  it("round-trips: the loaded net predicts exactly what the trained one did", () => {
    const loaded = netFromModelJson(AnyModelJsonSchema.parse(json()));
    expect(loaded).toBeInstanceOf(SequentialNet);
    const x = new Rng(9).fillNormal(new Float64Array(5 * 784), 1);
    expect(Array.from(loaded.predict(x))).toEqual(Array.from(net.predict(x)));
    expect((loaded as SequentialNet).state).toEqual(net.state);
    expect(toModelJson(loaded, undefined, new Date(0))).toEqual(toModelJson(net, undefined, new Date(0)));
  });

  it("a typed list written another way (text, no stride) reads as the same net", () => {
    const m = json();
    m.architecture.layers = LIST;
    expect(parse(m)).toBe('"architecture.layers" must be an array (got "conv 3 5x5 s2 p1, batchnorm, relu, maxpool 2, dropout 0.…)');
    m.architecture.layers = parseLayerList(LIST).layers.map((l) => (l.type === "maxpool" ? { type: "maxpool", kernel: l.kernel } : l));
    expect(parse(m)).toBe("ok");
  });

  const broken: [string, (m: Record<string, any>) => void, string | RegExp][] = [
    ["version 1", (m) => (m.version = 1), '"version" must be 2 (a "layers" model is version 2) (got 1)'],
    ["a bad layer", (m) => (m.architecture.layers[1] = { type: "batchnorm", momentum: 0.5 }), '"architecture.layers": layer 2 "batchnorm": unknown key "momentum"'],
    ["a window larger than its input", (m) => (m.architecture.layers[5].kernel = [9, 9]), /^"architecture\.layers": layer 6 "conv 2 9x9": the 9×9 window is larger than its 6×6 input$/],
    ["not ending in the classes", (m) => (m.architecture.classes = 12), /^"architecture\.layers": layer 11 "affine 10": gives 10 values per image, not the 12 class scores/],
    ["a parameter of the wrong shape", (m) => (m.params.W2.shape = [2, 3, 9]), '"params.W2.shape" is [2, 3, 9], expected [2, 3, 3, 3] (got an array of 3)'],
    ["too few values", (m) => m.params.b3.data.pop(), '"params.b3.data" has 6 values, expected 7 for shape [7] (got an array of 6)'],
    ["a missing parameter", (m) => delete m.params.gamma1, '"params.gamma1" is missing'],
    ["a parameter of no layer", (m) => (m.params.W9 = { shape: [1], data: [0] }), /^"params\.W9" is not a parameter of the net "conv 3 5x5 s2 p1, batchnorm, relu, maxpool 2x2, dropout 0\.3, conv 2 3x3, tanh, flatten, affine 7, sigmoid, affine 10" \(got an object\)$/],
    ["a missing statistic", (m) => delete m.state.runningVar1, '"state.runningVar1" is missing'],
    ["a NaN in the statistics", (m) => (m.state.runningMean1.data[0] = "NaN"), '"state.runningMean1.data.0" must hold only finite numbers (got "NaN")'],
    ["a bad name", (m) => (m.state.mean = m.state.runningMean1), /^"state\.mean" is not a state name/],
    ["more parameters than a model may have", (m) => {
      m.architecture.layers[5].filters = 100_000;
      m.architecture.layers[8].units = 100;
    }, '"architecture" declares more than 50000000 parameters (got an object)'],
  ];
  it.each(broken)("%s: one message naming the field", (_name, edit, message) => {
    const m = json();
    edit(m);
    const got = parse(m);
    if (typeof message === "string") expect(got).toBe(message);
    else expect(got).toMatch(message);
  });

  it("the byte scan allows exactly the numbers the declared list needs (parameters and statistics), from the list alone", () => {
    const text = JSON.stringify(json());
    expect(() => checkJsonShape(Buffer.from(text), "m.json", MODEL_JSON_LIMITS)).not.toThrow();
    const m = json();
    m.params.b4.data.push(...new Array(2000).fill(0));
    expect(() => checkJsonShape(Buffer.from(JSON.stringify(m)), "m.json", MODEL_JSON_LIMITS)).toThrow(/^m\.json: holds \d+ numbers, more than the \d+ its declared shapes allow$/);
  });
});
