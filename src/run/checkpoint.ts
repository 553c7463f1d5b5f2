/**
 * checkpoint.json: the state of an interrupted (or periodically saved) run, enough to continue it
 * bit for bit: parameters (float64, exact in JSON), a layer net's batch-norm statistics, the RNG
 * state, the optimizer's slots, the iteration and evaluation counters and the elapsed time. The sha256 of the run's config.json is recorded too, so a
 * resumed run can check that the options it reads are the ones the checkpoint was made with.
 */
import { z } from "zod";
import type { TrainState } from "../train/trainer.js";
import { parseLayerList } from "../reference/layer-spec.js";
import { paramShapes } from "../reference/net-from-spec.js";
import { slotCount, type OptimizerName } from "../reference/optimizers.js";

export const CHECKPOINT_FORMAT = "mnist-ts.checkpoint";
export const CHECKPOINT_VERSION = 1;
/**
 * Largest checkpoint accepted (and written: mnist-train refuses sizes whose checkpoint could be
 * larger): a 784-50-10 net is under 1 MB, a 784-5000-10 one about 90 MB. Below V8's longest
 * string (2^29 − 24 characters), which JSON.stringify and JSON.parse work in.
 */
export const MAX_CHECKPOINT_BYTES = 500 * 1024 * 1024;

/** What the bytes of a checkpoint may hold before they are parsed (see checkJsonShape). */
export function checkpointJsonLimits(expectedNumbers: number) {
  return { maxContainers: 1000, maxDepth: 8, maxNumbers: expectedNumbers };
}

const finite = z.number({ error: "must hold only finite numbers" }).finite({ error: "must hold only finite numbers" });
const count = z.number().int().min(0).max(1e9);
const uint32 = z.number().int().min(0).max(2 ** 32 - 1);
/** NaN (nothing measured yet) is stored as null. */
const maybeNumber = z.number().finite().nullable();
/** W1…, b1… (and a layer net's gamma1…, beta1…). */
const paramName = z.string().regex(/^(W|b|gamma|beta)[1-9][0-9]{0,2}$/, { error: "is not a parameter name (W1, b1, gamma1, beta1, …)" });
/** A layer net's batch-norm statistics. */
const stateName = z.string().regex(/^running(Mean|Var)[1-9][0-9]{0,2}$/, { error: "is not a state name (runningMean1, runningVar1, …)" });

export const CheckpointSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT, { error: `must be "${CHECKPOINT_FORMAT}"` }),
  version: z.literal(CHECKPOINT_VERSION, { error: `must be ${CHECKPOINT_VERSION} (this mnist-ts reads version ${CHECKPOINT_VERSION})` }),
  /** sha256 of the run's config.json, as written when the run started. */
  configSha256: z.string().regex(/^[0-9a-f]{64}$/, { error: "must be a sha256 in hex" }),
  iteration: count,
  epoch: count,
  evaluatedAt: z.number().int().min(-1).max(1e9),
  finalLoss: maybeNumber,
  trainAccuracy: maybeNumber,
  testAccuracy: maybeNumber,
  elapsedS: z.number().finite().min(0),
  rng: z.strictObject({
    s: z
      .array(uint32)
      .length(4)
      .refine((s) => s.some((w) => w !== 0), { error: "must not be all zero" }),
    spareNormal: finite.nullable(),
  }),
  /** W1, b1, W2, b2 (the book's net), W1…Wn, b1…bn (an MultiLayerNet), also gamma{j}, beta{j} (a layer net). */
  params: z.record(paramName, z.array(finite)),
  /** A layer net's batch-norm running statistics (runningMean{j}, runningVar{j}). */
  state: z.record(stateName, z.array(finite)).optional(),
  valAccuracy: maybeNumber.optional(),
  /** The optimizer's state (not for plain SGD): its step count and each parameter's slots. */
  optimizer: z.strictObject({ step: count, slots: z.record(paramName, z.array(z.array(finite)).max(2)) }).optional(),
  /** --sampling shuffle: the epoch's permutation and the next batch's position in it. */
  sampler: z.strictObject({ order: z.array(z.number().int().min(0).max(60_000)).max(60_000), pos: count }).optional(),
  /** --early-stop: the best evaluation so far. */
  best: z
    .strictObject({
      valAccuracy: z.number().min(0).max(1),
      iteration: count,
      bad: count,
      params: z.record(paramName, z.array(finite)),
      state: z.record(stateName, z.array(finite)).optional(),
    })
    .optional(),
  createdAt: z.string(),
});
export type CheckpointJson = z.output<typeof CheckpointSchema>;

const plain = (p: Record<string, Float64Array>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Array.from(v)]));
const typed = (p: Record<string, number[]>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Float64Array.from(v)]));
const orNull = (v: number) => (Number.isFinite(v) ? v : null);
const orNaN = (v: number | null) => (v === null ? Number.NaN : v);

export function toCheckpointJson(state: TrainState, configSha256: string, createdAt = new Date()): CheckpointJson {
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    configSha256,
    iteration: state.iteration,
    epoch: state.epoch,
    evaluatedAt: state.evaluatedAt,
    finalLoss: orNull(state.finalLoss),
    trainAccuracy: orNull(state.trainAccuracy),
    testAccuracy: orNull(state.testAccuracy),
    elapsedS: state.elapsedS,
    rng: { s: [...state.rng.s], spareNormal: state.rng.spareNormal },
    params: plain(state.params),
    ...(state.netState ? { state: plain(state.netState) } : {}),
    ...(state.valAccuracy !== undefined ? { valAccuracy: orNull(state.valAccuracy) } : {}),
    ...(state.optimizer
      ? { optimizer: { step: state.optimizer.step, slots: Object.fromEntries(Object.entries(state.optimizer.slots).map(([k, v]) => [k, v.map((a) => Array.from(a))])) } }
      : {}),
    ...(state.sampler ? { sampler: { order: Array.from(state.sampler.order), pos: state.sampler.pos } } : {}),
    ...(state.best
      ? { best: { valAccuracy: state.best.valAccuracy, iteration: state.best.iteration, bad: state.best.bad, params: plain(state.best.params), ...(state.best.netState ? { state: plain(state.best.netState) } : {}) } }
      : {}),
    createdAt: createdAt.toISOString(),
  };
}

/** What the run's config.json says a checkpoint of it must hold, beyond the network's sizes. */
export interface CheckpointExpectations {
  inputSize: number;
  hiddenSize: number | number[];
  outputSize: number;
  /** A layer net's list (its canonical text), in place of hiddenSize; its images' shape (default [1, 28, 28]). */
  layers?: string;
  inputShape?: number[];
  /** The run's optimizer: its slots must all be there (a MultiLayerNet's; the book's net keeps none). */
  optimizer?: OptimizerName;
  /** Whether the run trains the book's net (which has no optimizer state). */
  bookNet?: boolean;
  /** Training images (after --val-size): --sampling shuffle's permutation is of these. */
  trainCount?: number;
  sampling?: "replacement" | "shuffle";
}

/**
 * The trainer state of a validated checkpoint, after checking it in full against the run its
 * config.json describes: every parameter, optimizer slot and best weight present with its length,
 * the shuffle permutation of the right length with indices in range. Returns a message instead
 * when something does not match: a tampered or foreign checkpoint is refused, never trained on.
 */
export function stateFromCheckpoint(c: CheckpointJson, sizes: CheckpointExpectations): TrainState | string {
  const want: Record<string, number> = {};
  const wantState: Record<string, number> = {};
  let net: string;
  if (sizes.layers !== undefined) {
    // the shapes from the list alone (it was validated with the run's config.json)
    const inputShape = sizes.inputShape ?? [1, 28, 28];
    const shapes = paramShapes(parseLayerList(sizes.layers, inputShape, sizes.outputSize).layers, inputShape, sizes.outputSize);
    for (const [name, shape] of Object.entries(shapes.params)) want[name] = shape.reduce((a, b) => a * b, 1);
    for (const [name, shape] of Object.entries(shapes.state)) wantState[name] = shape.reduce((a, b) => a * b, 1);
    net = `"${sizes.layers}"`;
  } else {
    const layerSizes = [sizes.inputSize, ...(typeof sizes.hiddenSize === "number" ? [sizes.hiddenSize] : sizes.hiddenSize), sizes.outputSize];
    net = layerSizes.join("-");
    for (let l = 1; l < layerSizes.length; l++) {
      want[`W${l}`] = layerSizes[l - 1] * layerSizes[l];
      want[`b${l}`] = layerSizes[l];
    }
  }
  /** `where` (params, state, best.params, best.state) holds exactly the arrays `expected` names, each of its length. */
  const check = (where: string, got: Record<string, number[]> | undefined, expected: Record<string, number>): string | undefined => {
    const what = where.endsWith("state") ? "a state" : "a parameter";
    for (const [name, n] of Object.entries(expected)) {
      if (!got?.[name]) return `"${where}.${name}" is missing for a ${net} net`;
      if (got[name].length !== n) return `"${where}.${name}" has ${got[name].length} values, expected ${n} for a ${net} net`;
    }
    for (const name of Object.keys(got ?? {})) if (!(name in expected)) return `"${where}.${name}" is not ${what} of a ${net} net`;
    return undefined;
  };
  const bad =
    check("params", c.params, want) ??
    check("state", c.state, wantState) ??
    (c.best ? (check("best.params", c.best.params, want) ?? check("best.state", c.best.state, wantState)) : undefined);
  if (bad) return bad;
  for (const [k, slots] of Object.entries(c.optimizer?.slots ?? {})) {
    if (!(k in want)) return `"optimizer.slots.${k}" is not a parameter of a ${net} net`;
    if (slots.some((a) => a.length !== want[k])) return `"optimizer.slots.${k}" does not match a ${net} net`;
  }
  if (sizes.optimizer !== undefined && !sizes.bookNet) {
    const k = slotCount(sizes.optimizer);
    if (k > 0 && !c.optimizer) return `"optimizer" is missing (the run uses ${sizes.optimizer})`;
    for (const name of Object.keys(want)) {
      const slots = c.optimizer?.slots[name];
      if (c.optimizer && k > 0 && !slots) return `"optimizer.slots.${name}" is missing (the run uses ${sizes.optimizer})`;
      if (slots && slots.length !== k) return `"optimizer.slots.${name}" has ${slots.length} arrays, expected ${k} for ${sizes.optimizer}`;
    }
  }
  if (sizes.sampling !== undefined) {
    if (sizes.sampling === "shuffle" && !c.sampler) return `"sampler" is missing (the run uses --sampling shuffle)`;
    if (sizes.sampling !== "shuffle" && c.sampler) return `"sampler" is there, but the run does not use --sampling shuffle`;
  }
  if (c.sampler && sizes.trainCount !== undefined) {
    const n = sizes.trainCount;
    const { order, pos } = c.sampler;
    if (order.length !== 0 && order.length !== n) return `"sampler.order" has ${order.length} entries, expected ${n} (one per training image)`;
    const bad = order.findIndex((v) => v >= n);
    if (bad >= 0) return `"sampler.order[${bad}]" is ${order[bad]}, past the ${n} training images`;
    if (pos > order.length) return `"sampler.pos" is ${pos}, past the end of "sampler.order" (${order.length})`;
  }
  return {
    iteration: c.iteration,
    epoch: c.epoch,
    evaluatedAt: c.evaluatedAt,
    finalLoss: orNaN(c.finalLoss),
    trainAccuracy: orNaN(c.trainAccuracy),
    testAccuracy: orNaN(c.testAccuracy),
    elapsedS: c.elapsedS,
    rng: { s: c.rng.s, spareNormal: c.rng.spareNormal },
    params: typed(c.params),
    ...(c.state ? { netState: typed(c.state) } : {}),
    ...(c.valAccuracy !== undefined ? { valAccuracy: orNaN(c.valAccuracy) } : {}),
    ...(c.optimizer ? { optimizer: { step: c.optimizer.step, slots: Object.fromEntries(Object.entries(c.optimizer.slots).map(([k, v]) => [k, v.map((a) => Float64Array.from(a))])) } } : {}),
    ...(c.sampler ? { sampler: { order: Int32Array.from(c.sampler.order), pos: c.sampler.pos } } : {}),
    ...(c.best
      ? { best: { valAccuracy: c.best.valAccuracy, iteration: c.best.iteration, bad: c.best.bad, params: typed(c.best.params), ...(c.best.state ? { netState: typed(c.best.state) } : {}) } }
      : {}),
  };
}
