/**
 * mnist-export --onnx: the exported file, run by onnxruntime, classifies the 10,000 MNIST test
 * images exactly as mnist-ts does (mnist-eval's prediction path) and gives the same probabilities
 * within 1e-5 (a conv net with batch norm and pooling: 1e-4); its graph is the documented one; bad
 * input is one line and a documented exit code.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import onnxProto from "onnx-proto";
import ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argmaxRows } from "../../src/book/matrix.js";
import { Rng } from "../../src/book/rng.js";
import { parseLayerList } from "../../src/reference/layer-spec.js";
import { buildReferenceNet } from "../../src/reference/net-from-spec.js";
import { loadMnist, loadMnistRaw, type MnistRaw } from "../../src/data/mnist.js";
import { layersOf, ONNX_OPSET, toOnnx } from "../../src/export/onnx.js";
import { AnyModelJsonSchema, netFromModelJson, toModelJson, type ModelJson } from "../../src/run/model-json.js";
import { predictProbabilities, predictSplit } from "../../src/train/evaluate.js";
import { HyperparametersSchema, type ResolvedHyperparameters } from "../../src/train/hyperparameters.js";
import { train } from "../../src/train/trainer.js";
import { runBin, tempDir } from "../helpers.js";

const { onnx } = onnxProto;
const tmp = tempDir("mnist-ts-onnx-");
afterAll(tmp.cleanup);

/** A session on one thread: the machine's cores are shared with the other test files. */
const SESSION_OPTIONS = { intraOpNumThreads: 1, interOpNumThreads: 1 };
const session = (model: string | Uint8Array) =>
  typeof model === "string" ? ort.InferenceSession.create(model, SESSION_OPTIONS) : ort.InferenceSession.create(model, SESSION_OPTIONS);

const tinyModel = (activation: "sigmoid" | "relu" | "tanh"): ModelJson => ({
  format: "mnist-ts.model",
  version: 1,
  architecture: { type: "mlp", sizes: [3, 2, 2], activation },
  params: {
    W1: { shape: [3, 2], data: [1, 0, 0, 1, 1, 1] },
    b1: { shape: [2], data: [0, -5] },
    W2: { shape: [2, 2], data: [1, 2, 3, 4] },
    b2: { shape: [2], data: [0.5, 0] },
  },
  createdAt: "2026-01-01T00:00:00.000Z",
});

describe("the ONNX graph", () => {
  it("a 3-2-2 net by hand: logits and softmax for each activation", async () => {
    // x = (1, 2, 3): x·W1 + b1 = (1 + 3, 2 + 3 − 5) = (4, 0).
    const hidden = { sigmoid: [1 / (1 + Math.exp(-4)), 0.5], relu: [4, 0], tanh: [Math.tanh(4), 0] };
    for (const act of ["sigmoid", "relu", "tanh"] as const) {
      const s = await session(toOnnx(tinyModel(act)));
      const out = await s.run({ x: new ort.Tensor("float32", Float32Array.of(1, 2, 3), [1, 3]) });
      const [h1, h2] = hidden[act];
      const logits = [h1 * 1 + h2 * 3 + 0.5, h1 * 2 + h2 * 4];
      expect(out.logits.dims).toEqual([1, 2]);
      expect(out.logits.data[0]).toBeCloseTo(logits[0], 5);
      expect(out.logits.data[1]).toBeCloseTo(logits[1], 5);
      const p1 = 1 / (1 + Math.exp(logits[0] - logits[1]));
      expect(out.probabilities.data[0]).toBeCloseTo(1 - p1, 6);
      expect(out.probabilities.data[1]).toBeCloseTo(p1, 6);
      await s.release();
    }
  });

  it("the batch dimension is dynamic", async () => {
    const s = await session(toOnnx(tinyModel("relu")));
    for (const n of [1, 5]) {
      const out = await s.run({ x: new ort.Tensor("float32", new Float32Array(n * 3).fill(1), [n, 3]) });
      // x = (1, 1, 1): hidden relu(2, −3) = (2, 0), logits (2.5, 4) on every row
      expect(out.logits.dims).toEqual([n, 2]);
      expect(Array.from(out.logits.data as Float32Array)).toEqual(new Array(n).fill([2.5, 4]).flat());
    }
    await s.release();
  });

  it("is the documented model: opset, input x [N, I], outputs logits and probabilities, Gemm + activation per layer, float32 weights", () => {
    const model = tinyModel("tanh");
    const decoded = onnx.ModelProto.decode(toOnnx(model, { producerVersion: "9.9.9" }));
    expect(decoded.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([["", ONNX_OPSET]]);
    expect(decoded.producerName).toBe("mnist-ts");
    expect(decoded.producerVersion).toBe("9.9.9");
    const g = decoded.graph!;
    const shape = (v: (typeof g.input)[number]) => v.type!.tensorType!.shape!.dim.map((d) => d.dimParam || Number(d.dimValue));
    expect(g.input.map((v) => [v.name, v.type!.tensorType!.elemType, shape(v)])).toEqual([["x", onnx.TensorProto.DataType.FLOAT, ["N", 3]]]);
    expect(g.output.map((v) => [v.name, shape(v)])).toEqual([["logits", ["N", 2]], ["probabilities", ["N", 2]]]);
    expect(g.node.map((n) => n.opType)).toEqual(["Gemm", "Tanh", "Gemm", "Softmax"]);
    expect(g.node[2].output).toEqual(["logits"]);
    const init = Object.fromEntries(g.initializer.map((t) => [t.name, t]));
    expect(init.W1.dims.map(Number)).toEqual([3, 2]);
    expect(init.W1.floatData).toEqual([1, 0, 0, 1, 1, 1]);
    expect(init.b1.floatData).toEqual([0, -5]);
  });

  it("weights are rounded to float32; one beyond float32's range is refused", () => {
    const model = tinyModel("relu");
    (model.params as Record<string, { data: number[] }>).W2.data[3] = 0.1;
    const w2 = onnx.ModelProto.decode(toOnnx(model)).graph!.initializer.find((t) => t.name === "W2")!;
    expect(w2.floatData[3]).toBe(Math.fround(0.1));
    (model.params as Record<string, { data: number[] }>).W2.data[3] = 1e39;
    expect(() => toOnnx(model)).toThrow(/W2 holds 1e\+39, outside float32's range/);
  });

  it("layersOf: the book's net is dense, sigmoid, dense; an MultiLayerNet has its activation after every hidden layer", () => {
    const kinds = (m: ModelJson) => layersOf(m).map((l) => (l.kind === "dense" ? `${l.weightName}:${l.inputs}x${l.outputs}` : l.activation));
    expect(kinds(tinyModel("tanh"))).toEqual(["W1:3x2", "tanh", "W2:2x2"]);
    const book: ModelJson = {
      format: "mnist-ts.model",
      version: 1,
      architecture: { type: "two-layer-net", inputSize: 2, hiddenSize: 1, outputSize: 2, activation: "sigmoid" },
      params: { W1: { shape: [2, 1], data: [1, 1] }, b1: { shape: [1], data: [0] }, W2: { shape: [1, 2], data: [1, -1] }, b2: { shape: [2], data: [0, 0] } },
      createdAt: "",
    };
    expect(kinds(book)).toEqual(["W1:2x1", "sigmoid", "W2:1x2"]);
  });
});

describe("the ONNX graph of a layer net", () => {
  const LIST = "conv 3 3x3 s2 p1, batchnorm, relu, maxpool 2 s1, conv 2 2x2, sigmoid, flatten, batchnorm, dropout 0.5, affine 5, tanh, affine 10";
  const layerModel = (list = LIST): ModelJson => {
    const rng = new Rng(4);
    const net = buildReferenceNet(parseLayerList(list).layers, rng, { init: "he" });
    // batch statistics from a few training passes, and biases away from 0
    const x = rng.fillNormal(new Float64Array(6 * 784), 1);
    for (let i = 0; i < 3; i++) net.gradient(x, [0, 1, 2, 3, 4, 5]);
    for (const [name, p] of Object.entries(net.params)) if (/^(b|beta)\d/.test(name)) rng.fillNormal(p, 0.3);
    return JSON.parse(JSON.stringify(toModelJson(net)));
  };

  it("is Conv, MaxPool, batch norm as Mul and Add, Flatten and Gemm on input x [N, 1, 28, 28], and computes what the reference net does", async () => {
    const model = layerModel();
    const g = onnx.ModelProto.decode(toOnnx(model)).graph!;
    const shape = (v: (typeof g.input)[number]) => v.type!.tensorType!.shape!.dim.map((d) => d.dimParam || Number(d.dimValue));
    expect(g.input.map(shape)).toEqual([["N", 1, 28, 28]]);
    expect(g.node.map((n) => n.opType)).toEqual(["Conv", "Mul", "Add", "Relu", "MaxPool", "Conv", "Sigmoid", "Flatten", "Mul", "Add", "Gemm", "Tanh", "Gemm", "Softmax"]);
    const init = Object.fromEntries(g.initializer.map((t) => [t.name, t.dims.map(Number)]));
    expect(init).toEqual({ W1: [3, 1, 3, 3], b1: [3], bn1_scale: [3, 14, 14], bn1_shift: [3, 14, 14], W2: [2, 3, 2, 2], b2: [2], bn2_scale: [288], bn2_shift: [288], W3: [288, 5], b3: [5], W4: [5, 10], b4: [10] });
    const net = netFromModelJson(AnyModelJsonSchema.parse(model));
    const x = Float64Array.from({ length: 4 * 784 }, (_, i) => ((i * 37) % 256) / 255);
    const s = await session(toOnnx(model));
    const out = await s.run({ x: new ort.Tensor("float32", Float32Array.from(x), [4, 1, 28, 28]) });
    await s.release();
    const expected = net.predict(x);
    const logits = out.logits.data as Float32Array;
    expect(out.logits.dims).toEqual([4, 10]);
    for (let i = 0; i < expected.length; i++) expect(Math.abs(logits[i] - expected[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(expected[i])));
  });

  it("a maxpool with padding is refused: ONNX pads max pooling with −∞, the book with zeros", () => {
    expect(() => toOnnx(layerModel("conv 2 3x3, maxpool 2 p1, affine 10"))).toThrow(/^layer 2 "maxpool 2x2 p1" pads its windows with zeros \(the book's max pooling\), which ONNX MaxPool cannot express/);
  });
});

describe("onnxruntime on the 10,000 MNIST test images agrees with mnist-ts", () => {
  let raw: MnistRaw;
  let x: Float32Array;
  beforeAll(async () => {
    raw = await loadMnistRaw();
    x = (await loadMnist()).test.x as Float32Array; // [10000 × 784], pixel / 255 as mnist-ts normalizes
  });

  const base = HyperparametersSchema.parse({});
  const nets: [string, Partial<ResolvedHyperparameters>][] = [
    ["the book's 784-50-10 sigmoid net (float32 kernels)", { iters: 600, lr: 0.5, trainLimit: 5000 }],
    [
      "a 784-64-32-10 relu net with dropout (Adam, He init)",
      { iters: 300, lr: 0.003, hiddenSize: [64, 32], activation: "relu", init: "he", optimizer: "adam", dropout: 0.2, trainLimit: 5000 },
    ],
    ["a 784-32-16-10 tanh net (momentum, Xavier init)", { iters: 300, lr: 0.05, hiddenSize: [32, 16], activation: "tanh", init: "xavier", optimizer: "momentum", trainLimit: 5000 }],
    ["the book's net in float64", { iters: 600, lr: 0.5, trainLimit: 5000, dtype: "float64" }],
    [
      "a conv net with batch norm, max pooling, dropout and flatten (--layers, float64 reference)",
      {
        iters: 150, lr: 0.01, batchSize: 50, optimizer: "adam", trainLimit: 2000, dtype: "float64",
        layers: "conv 4 5x5 s2, batchnorm, relu, maxpool 2, dropout 0.2, flatten, affine 16, batchnorm, tanh, affine 10",
      },
    ],
  ];

  it.each(nets)("%s: the same class for every image, probabilities within 1e-5 (1e-4 for the conv net)", async (name, overrides) => {
    const hp = { ...base, batchSize: 100, seed: 7, ...overrides, evalEvery: overrides.iters! } as ResolvedHyperparameters;
    const result = await train({ train: raw.train, test: raw.test }, hp, { threads: 1 });
    const record = {
      hyperparameters: hp,
      seed: hp.seed,
      iterations: result.iterations,
      finalLoss: result.finalLoss,
      trainAccuracy: result.trainAccuracy,
      testAccuracy: result.testAccuracy,
      datasetSha256: raw.datasetSha256,
    };
    const runDir = path.join(tmp.dir, name.replace(/\W+/g, "-"));
    mkdirSync(runDir, { recursive: true });
    writeFileSync(path.join(runDir, "model.json"), JSON.stringify(toModelJson(result.net, record)) + "\n");
    const onnxFile = path.join(runDir, "model.onnx");
    // the run folder stands for its model.json
    const r = await runBin("mnist-export", [runDir, "--onnx", onnxFile]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(overrides.layers ? /model\.onnx: "conv 4 5x5 s2, .*" network, ONNX opset 13, \d+ bytes\n$/ : /model\.onnx: 784-.*-10 (sigmoid|relu|tanh) network, ONNX opset 13, \d+ bytes\n$/);

    // mnist-eval's path: model.json read back, predicted with the kernels and precision it was trained with.
    const model = AnyModelJsonSchema.parse(JSON.parse(readFileSync(path.join(runDir, "model.json"), "utf8")));
    const net = netFromModelJson(model);
    const expectedClass = predictSplit(net, raw.test, raw.test.count, model.training?.hyperparameters.dtype);
    // Probabilities of the float64 reference network.
    const x64 = Float64Array.from(x);
    const expectedProb = predictProbabilities(net, x64);

    const s = await session(onnxFile);
    // a layer net takes images [N, 1, 28, 28]: the same values in the same order
    const out = await s.run({ x: new ort.Tensor("float32", x, overrides.layers ? [raw.test.count, 1, 28, 28] : [raw.test.count, 784]) });
    await s.release();
    const logits = out.logits.data as Float32Array;
    const prob = out.probabilities.data as Float32Array;
    expect(out.logits.dims).toEqual([10_000, 10]);
    const onnxClass = argmaxRows(logits, 10_000, 10, new Int32Array(10_000));

    let disagree = 0;
    let correct = 0;
    for (let i = 0; i < 10_000; i++) {
      if (onnxClass[i] !== expectedClass[i]) disagree++;
      if (onnxClass[i] === raw.test.labels[i]) correct++;
    }
    expect(disagree).toBe(0);
    // a trained net, so agreeing is not agreeing on one class for everything
    expect(correct / 10_000).toBeGreaterThan(overrides.layers ? 0.8 : 0.85);
    expect(correct / 10_000).toBeCloseTo(result.testAccuracy, 10);
    // and mnist-eval itself, run as a user would, counts the same confusion matrix
    const evalRun = await runBin("mnist-eval", [path.join(runDir, "model.json"), "--json"]);
    expect(evalRun.code).toBe(0);
    const confusion = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    for (let i = 0; i < 10_000; i++) confusion[raw.test.labels[i]][onnxClass[i]]++;
    expect(JSON.parse(evalRun.stdout).confusion).toEqual(confusion);

    let maxDiff = 0;
    for (let i = 0; i < prob.length; i++) maxDiff = Math.max(maxDiff, Math.abs(prob[i] - expectedProb[i]));
    // float32 through a conv, two batch norms (as x·s + c) and pooling: a few more roundings than a Gemm chain
    expect(maxDiff).toBeLessThan(overrides.layers ? 1e-4 : 1e-5);
  });
});

/** The first Python that can import `modules`, or null: the system's Python may be shadowed by another python3 on PATH. */
function pythonWith(modules: string): string | null {
  for (const python of ["python3", "/usr/bin/python3"]) {
    if (spawnSync(python, ["-c", `import ${modules}`], { encoding: "utf8" }).status === 0) return python;
  }
  return null;
}

describe("Python's ONNX tools (each test skips where its package is not installed)", () => {
  const checker = pythonWith("onnx");
  const runtime = pythonWith("onnxruntime, numpy");
  const deepModel = (): ModelJson => {
    const sizes = [784, 20, 15, 10];
    const params: Record<string, { shape: number[]; data: number[] }> = {};
    for (let l = 1; l < sizes.length; l++) {
      params[`W${l}`] = { shape: [sizes[l - 1], sizes[l]], data: Array.from({ length: sizes[l - 1] * sizes[l] }, (_, i) => Math.sin(i + l) / 10) };
      params[`b${l}`] = { shape: [sizes[l]], data: Array.from({ length: sizes[l] }, (_, i) => Math.cos(i * l) / 10) };
    }
    return { ...tinyModel("relu"), architecture: { type: "mlp", sizes, activation: "relu" }, params };
  };

  it.skipIf(!checker)("onnx.checker accepts the file (full check, strict shape inference gives logits and probabilities [N, 10])", () => {
    const file = path.join(tmp.dir, "deep.onnx");
    writeFileSync(file, toOnnx(deepModel()));
    const script = [
      "import json, sys, onnx",
      "m = onnx.load(sys.argv[1])",
      "onnx.checker.check_model(m, full_check=True)",
      "g = onnx.shape_inference.infer_shapes(m, strict_mode=True).graph",
      "print(json.dumps([[o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]] for o in g.output]))",
    ].join("\n");
    const py = spawnSync(checker!, ["-c", script, file], { encoding: "utf8" });
    expect(py.stderr).toBe("");
    expect(JSON.parse(py.stdout)).toEqual([["logits", ["N", 10]], ["probabilities", ["N", 10]]]);
  });

  it.skipIf(!checker)("onnx.checker accepts a layer net's file (Conv, MaxPool, Mul/Add, Flatten, Gemm), shapes inferred to [N, 10]", () => {
    const rng = new Rng(2);
    const net = buildReferenceNet(parseLayerList("conv 3 3x3 p1, batchnorm, relu, maxpool 2, flatten, batchnorm, affine 10").layers, rng);
    const file = path.join(tmp.dir, "layers.onnx");
    writeFileSync(file, toOnnx(JSON.parse(JSON.stringify(toModelJson(net)))));
    const script = [
      "import json, sys, onnx",
      "m = onnx.load(sys.argv[1])",
      "onnx.checker.check_model(m, full_check=True)",
      "g = onnx.shape_inference.infer_shapes(m, strict_mode=True).graph",
      "print(json.dumps([[o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]] for o in g.output]))",
    ].join("\n");
    const py = spawnSync(checker!, ["-c", script, file], { encoding: "utf8" });
    expect(py.stderr).toBe("");
    expect(JSON.parse(py.stdout)).toEqual([["logits", ["N", 10]], ["probabilities", ["N", 10]]]);
  });

  it.skipIf(!runtime)("Python onnxruntime runs the file and gives the probabilities onnxruntime-node gives", async () => {
    const file = path.join(tmp.dir, "deep-py.onnx");
    writeFileSync(file, toOnnx(deepModel()));
    const input = Float32Array.from({ length: 3 * 784 }, (_, i) => ((i * 37) % 256) / 255);
    const s = await session(file);
    const expected = Array.from((await s.run({ x: new ort.Tensor("float32", input, [3, 784]) })).probabilities.data as Float32Array);
    await s.release();
    const inputFile = path.join(tmp.dir, "x.f32");
    writeFileSync(inputFile, new Uint8Array(input.buffer)); // float32 in this machine's byte order, as numpy's fromfile reads it
    const script = [
      "import json, sys, numpy as np, onnxruntime as ort",
      "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])",
      "x = np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, 784)",
      "print(json.dumps(s.run(['probabilities'], {'x': x})[0].ravel().tolist()))",
    ].join("\n");
    const py = spawnSync(runtime!, ["-c", script, file, inputFile], { encoding: "utf8" });
    expect(py.stderr).toBe("");
    const got = JSON.parse(py.stdout) as number[];
    expect(got).toHaveLength(30);
    got.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThan(1e-6));
  });
});

describe("bad input: one line on stderr, a documented exit code, no file written", () => {
  const dir = path.join(tmp.dir, "bad");
  const good = path.join(dir, "good.json");
  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    const m = tinyModel("relu");
    const sizes = [784, 3, 10];
    const params: Record<string, { shape: number[]; data: number[] }> = {};
    for (let l = 1; l < sizes.length; l++) {
      params[`W${l}`] = { shape: [sizes[l - 1], sizes[l]], data: new Array(sizes[l - 1] * sizes[l]).fill(0.01) };
      params[`b${l}`] = { shape: [sizes[l]], data: new Array(sizes[l]).fill(0) };
    }
    writeFileSync(good, JSON.stringify({ ...m, architecture: { ...m.architecture, sizes }, params }));
    writeFileSync(path.join(dir, "corrupt.json"), '{"format": "mnist-ts.model", "vers');
    writeFileSync(path.join(dir, "wrong-shape.json"), JSON.stringify({ ...m, architecture: { ...m.architecture, sizes: [784, 3, 10] } }));
    writeFileSync(path.join(dir, "not-mnist.json"), JSON.stringify(m));
    writeFileSync(path.join(dir, "a-file"), "");
  });

  const cases: [string, () => string[], number, RegExp][] = [
    ["missing model", () => [path.join(dir, "nope.json"), "--onnx", path.join(dir, "o1.onnx")], 1, /nope\.json: no such file$/],
    ["run folder without a model.json", () => [path.join(dir, "empty-run"), "--onnx", path.join(dir, "o2.onnx")], 1, /empty-run: is a folder without model\.json$/],
    ["corrupt model", () => [path.join(dir, "corrupt.json"), "--onnx", path.join(dir, "o3.onnx")], 1, /corrupt\.json: is not valid JSON/],
    ["parameters of the wrong shape", () => [path.join(dir, "wrong-shape.json"), "--onnx", path.join(dir, "o4.onnx")], 1, /wrong-shape\.json: .*W1.*expected \[784, 3\]/],
    ["a model that is not for MNIST", () => [path.join(dir, "not-mnist.json"), "--onnx", path.join(dir, "o5.onnx")], 1, /not-mnist\.json: the model is 3-2-2 relu, but MNIST needs 784 inputs and 10 outputs$/],
    ["output folder missing", () => [good, "--onnx", path.join(dir, "no-such-dir", "o.onnx")], 1, /^mnist-export: --onnx .*no-such-dir\/o\.onnx: cannot write \(ENOENT\)$/],
    ["output under a file", () => [good, "--onnx", path.join(dir, "a-file", "o.onnx")], 1, /--onnx .*a-file\/o\.onnx: cannot write \(ENOTDIR\)$/],
    ["output is a folder", () => [good, "--onnx", dir], 1, /--onnx .*bad: cannot write \(EISDIR\)$/],
    ["no --onnx", () => [good], 2, /required option '--onnx <file>' not specified/],
    ["empty --onnx", () => [good, "--onnx", ""], 2, /--onnx must name the file to write$/],
    ["unknown flag", () => [good, "--onnx", path.join(dir, "o6.onnx"), "--opset", "9"], 2, /unknown option '--opset'/],
  ];
  it.each(cases)("%s", async (_name, args, code, message) => {
    mkdirSync(path.join(dir, "empty-run"), { recursive: true });
    const before = readdirSync(dir).sort();
    const r = await runBin("mnist-export", args());
    expect(r.code).toBe(code);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mnist-export: /);
    expect(lines[0]).toMatch(message);
    expect(readdirSync(dir).sort()).toEqual(before); // no output, no temp file left behind
  });

  it("the good model exports, and replaces an existing file whole", async () => {
    const out = path.join(dir, "good.onnx");
    writeFileSync(out, "old contents");
    const r = await runBin("mnist-export", [good, "--onnx", out]);
    expect(r.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    const s = await session(out);
    expect(s.outputNames).toEqual(["logits", "probabilities"]);
    await s.release();
  });
});
