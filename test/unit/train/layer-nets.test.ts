// Training a `layers` net (a SequentialNet, on the engine; the float64 reference as the oracle): a fully connected list is the
// --hidden-size net bit for bit, a small conv net with batch norm and dropout resumes bit for bit,
// and the layer-list rules of the hyperparameters.
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import type { MnistSplit } from "../../../src/data/mnist.js";
import { UsageError } from "../../../src/errors.js";
import { SequentialNet } from "../../../src/reference/sequential-net.js";
import { CheckpointSchema, stateFromCheckpoint, toCheckpointJson } from "../../../src/run/checkpoint.js";
import { HyperparametersSchema, type ResolvedHyperparameters } from "../../../src/train/hyperparameters.js";
import { train as libraryTrain } from "../../../src/train/library-train.js";
import { train, type EpochEvent, type TrainOptions, type TrainResult } from "../../../src/train/trainer.js";

/** Random 28×28 digits: mostly blank, as MNIST's are, with random ink. */
function split(count: number, seed: number): MnistSplit {
  const rng = new Rng(seed);
  const images = new Uint8Array(count * 784);
  for (let i = 0; i < images.length; i++) images[i] = rng.uniform() < 0.2 ? rng.int(256) : 0;
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(10);
  return { count, rows: 28, cols: 28, images, labels };
}
const DATA = { train: split(96, 1), test: split(40, 2) };
const BASE = HyperparametersSchema.parse({});

function hp(overrides: Partial<ResolvedHyperparameters>): ResolvedHyperparameters {
  return { ...BASE, iters: 12, batchSize: 8, lr: 0.1, seed: 5, evalEvery: 5, ...overrides } as ResolvedHyperparameters;
}

interface Run {
  result: TrainResult;
  events: unknown[];
}
async function run(h: ResolvedHyperparameters, options: TrainOptions = {}): Promise<Run> {
  const events: unknown[] = [];
  const listener = {
    iteration: (e: { iteration: number; loss: number }) => events.push(["loss", e.iteration, e.loss]),
    epoch: (e: EpochEvent) => events.push(["eval", e.evaluation, e.iteration, e.trainAccuracy, e.testAccuracy, e.valAccuracy]),
  };
  const result = await train(DATA, h, { threads: 1, ...options, listeners: [listener, ...(options.listeners ?? [])] });
  return { result, events };
}

describe("a fully connected layer list is the --hidden-size net", () => {
  const cases: [string, string, Partial<ResolvedHyperparameters>][] = [
    ["the book's net (TwoLayerNet, sgd)", "affine 16, sigmoid, affine 10", { hiddenSize: 16 }],
    [
      "relu, dropout, He init, Adam, weight decay, loss before the update (MultiLayerNet)",
      "affine 16, relu, dropout 0.3, affine 12, relu, dropout 0.3, affine 10",
      { hiddenSize: [16, 12], activation: "relu", dropout: 0.3, init: "he", optimizer: "adam", lr: 0.01, weightDecay: 0.01, lossPass: "before" },
    ],
    ["tanh, Xavier init, momentum (MultiLayerNet)", "affine 12, tanh, affine 10", { hiddenSize: 12, activation: "tanh", init: "xavier", optimizer: "momentum" }],
  ];
  it.each(cases)("%s: the same losses, accuracies and weights, bit for bit", async (_name, layers, fc) => {
    // the same settings but the net's; the reference kernels and the engine in float64 compute the same bits
    const { hiddenSize: _h, activation: _a, dropout: _d, ...shared } = fc;
    const viaLayers = await run(hp({ ...shared, layers, dtype: "float64" }));
    expect(viaLayers.result.net).toBeInstanceOf(SequentialNet);
    for (const kernels of ["reference", "fast"] as const) {
      const viaHidden = await run(hp({ ...fc, dtype: "float64" }), { kernels });
      expect(viaHidden.result.net).not.toBeInstanceOf(SequentialNet);
      expect(viaLayers.events).toEqual(viaHidden.events);
      expect(viaLayers.result.net.params).toEqual(viaHidden.result.net.params);
    }
  });
});

describe("a small conv net", () => {
  const CONV = "conv 3 3x3 s2, batchnorm, relu, maxpool 2, dropout 0.2, flatten, affine 10";
  const H = hp({ layers: CONV, optimizer: "adam", lr: 0.01, valSize: 16, earlyStop: 1000, dtype: "float64" });

  it("on the engine in float64 it follows the reference layers' run to rounding (the engine sums a conv's window in another order)", async () => {
    const short = hp({ layers: CONV, optimizer: "adam", lr: 0.01, dtype: "float64", iters: 12, evalEvery: 4 });
    const engine = await run(short);
    const reference = await run(short, { kernels: "reference" });
    const losses = (r: typeof engine) => r.events.filter((e) => (e as unknown[])[0] === "loss").map((e) => (e as number[])[2]);
    expect(losses(engine)).toHaveLength(12);
    losses(engine).forEach((l, i) => expect(Math.abs(l - losses(reference)[i])).toBeLessThan(1e-9 * Math.abs(l)));
    // relative to the largest parameter: the conv's bias sits before a batch norm (no gradient but rounding noise)
    const scale = Math.max(...Object.values(reference.result.net.params).map((v) => Math.max(...v.map(Math.abs))));
    for (const [name, v] of Object.entries(reference.result.net.params)) {
      v.forEach((x, i) => expect(Math.abs(engine.result.net.params[name][i] - x), name).toBeLessThan(1e-8 * scale));
    }
  });

  it("learns: its loss falls on a batch it sees again and again", async () => {
    const one = { train: { ...DATA.train, count: 8, images: DATA.train.images.subarray(0, 8 * 784), labels: DATA.train.labels.subarray(0, 8) }, test: DATA.test };
    const losses: number[] = [];
    await train(one, hp({ layers: CONV, optimizer: "adam", lr: 0.05, iters: 40, sampling: "shuffle", evalEvery: 40 }), {
      listeners: [{ iteration: (e) => losses.push(e.loss) }],
    });
    expect(losses[39]).toBeLessThan(losses[0] / 4);
  });

  it("resumes from any iteration (through checkpoint.json) bit for bit: parameters, batch-norm statistics, Adam's moments, dropout masks", async () => {
    const whole = await run(H);
    const net = whole.result.net as SequentialNet;
    expect(Object.keys(net.state)).toEqual(["runningMean1", "runningVar1"]);
    expect(whole.result.state.netState?.runningVar1.some((v) => v !== 0)).toBe(true);
    for (const stopAfter of [1, 5, 6, 11]) {
      const abort = new AbortController();
      const stopper = { iteration: (e: { iteration: number }) => e.iteration === stopAfter - 1 && abort.abort() };
      const first = await run(H, { signal: abort.signal, listeners: [stopper] });
      expect(first.result.iterations).toBe(stopAfter);
      const json = JSON.parse(JSON.stringify(toCheckpointJson(first.result.state, "0".repeat(64))));
      expect(Object.keys(json.state)).toEqual(["runningMean1", "runningVar1"]);
      const state = stateFromCheckpoint(CheckpointSchema.parse(json), { inputSize: 784, hiddenSize: 50, outputSize: 10, layers: H.layers, optimizer: "adam" });
      if (typeof state === "string") throw new Error(state);
      const second = await run(H, { resumeFrom: state });
      expect([...first.events, ...second.events]).toEqual(whole.events);
      expect(second.result.net.params).toEqual(whole.result.net.params);
      expect((second.result.net as SequentialNet).state).toEqual(net.state);
    }
  });

  it("a checkpoint of another net, or without the batch-norm statistics, is refused with the field named", async () => {
    const abort = new AbortController();
    const first = await run(H, { signal: abort.signal, listeners: [{ iteration: () => abort.abort() }] });
    const json = toCheckpointJson(first.result.state, "0".repeat(64));
    const expect_ = { inputSize: 784, hiddenSize: 50, outputSize: 10, layers: H.layers, optimizer: "adam" as const };
    const { state: _s, ...noState } = json;
    expect(stateFromCheckpoint(CheckpointSchema.parse(noState), expect_)).toBe(`"state.runningMean1" is missing for a "${H.layers}" net`);
    expect(stateFromCheckpoint(CheckpointSchema.parse(json), { ...expect_, layers: "conv 4 3x3 s2, batchnorm, relu, maxpool 2, dropout 0.2, flatten, affine 10" })).toMatch(
      /^"params\.W1" has 27 values, expected 36 for a "conv 4 3x3 s2, .*" net$/,
    );
    expect(stateFromCheckpoint(CheckpointSchema.parse(json), { inputSize: 784, hiddenSize: 50, outputSize: 10 })).toBe('"params.W1" has 27 values, expected 39200 for a 784-50-10 net');
  });
});

describe("the layers setting", () => {
  it("is recorded as its canonical text, from the text or the typed list", () => {
    const a = HyperparametersSchema.parse({ layers: " CONV 8 5 ,Relu, maxpool 2 s2, affine 10" });
    const b = HyperparametersSchema.parse({ layers: [{ type: "conv", filters: 8, kernel: [5, 5] }, { type: "relu" }, { type: "maxpool", kernel: [2, 2] }, { type: "affine", units: 10 }] });
    expect(a.layers).toBe("conv 8 5x5, relu, maxpool 2x2, affine 10");
    expect(b.layers).toBe(a.layers);
    expect(HyperparametersSchema.parse({ layers: a.layers }).layers).toBe(a.layers);
  });

  it("a bad list is one usage error naming the layer; hiddenSize, activation and dropout beside it are refused", async () => {
    const data = { train: DATA.train, test: DATA.test };
    const message = async (h: Record<string, unknown>) => {
      try {
        await libraryTrain(data, { iters: 1, ...h });
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error("no error");
    };
    expect(await message({ layers: "conv 4 3x3, blob, affine 10" })).toBe(
      'hyperparameters: "layers": layer 2 "blob": unknown layer "blob" (known: conv, maxpool, affine, dropout, relu, sigmoid, tanh, batchnorm, flatten)',
    );
    expect(await message({ layers: "affine 10", hiddenSize: 20 })).toBe('hyperparameters: "layers" and "hiddenSize" cannot both be given (the layer list declares the whole net)');
    expect(await message({ layers: "affine 10", dropout: 0.5 })).toBe('hyperparameters: "layers" and "dropout" cannot both be given (the layer list declares the whole net)');
    expect(await message({ layers: "affine 10", grad: "numerical" })).toMatch(/^--grad numerical is for the book's two-layer net only/);
  });

  it("the library's train() records float32 (the engine's default) and returns the trained SequentialNet", async () => {
    const out = await libraryTrain(DATA, { layers: "conv 2 5x5 s3, relu, affine 10", iters: 3, batchSize: 4, seed: 1 });
    expect(out.hyperparameters.dtype).toBe("float32");
    expect(out.net).toBeInstanceOf(SequentialNet);
    expect(out.iterations).toBe(3);
  });
});
