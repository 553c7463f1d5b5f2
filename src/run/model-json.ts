/**
 * model.json: a trained network as plain JSON any language can read: the book's TwoLayerNet
 * ("two-layer-net"), a MultiLayerNet ("mlp") or, from version 2, a layer list's SequentialNet
 * ("layers"). Parameters are row-major arrays of numbers with their shapes; JSON numbers
 * round-trip float64 exactly, so a loaded model predicts exactly what the trained one did.
 */
import { z } from "zod";
import { Rng } from "../book/rng.js";
import { HyperparametersSchema, MAX_LAYERS } from "../train/hyperparameters.js";
import { checkLayerList, formatLayers, LayerSpecError, type LayerSpec } from "../reference/layer-spec.js";
import { ACTIVATIONS, MultiLayerNet, mlpParamNames } from "../reference/multi-layer-net.js";
import { buildReferenceNet, countValues, paramShapes, type ParamShapes } from "../reference/net-from-spec.js";
import { SequentialNet } from "../reference/sequential-net.js";
import { PARAM_NAMES, TwoLayerNet } from "../reference/two-layer-net.js";
import type { TrainedNet } from "../train/types.js";

export const MODEL_FORMAT = "mnist-ts.model";
/** The version of the "two-layer-net" and "mlp" files (unchanged since the first). */
export const MODEL_VERSION = 1;
/** The version of a "layers" file: version 2 added that architecture (an older mnist-ts says so instead of misreading it). */
export const LAYERS_MODEL_VERSION = 2;

/** Largest layer width accepted from a file: keeps a hostile shape from allocating gigabytes. */
const MAX_UNITS = 100_000;
const MAX_PARAMS = 50_000_000;

const tensor = z.strictObject({
  shape: z.array(z.number().int().min(1).max(MAX_UNITS * 10)).min(1).max(2),
  data: z.array(z.number({ error: "must hold only finite numbers" }).finite({ error: "must hold only finite numbers" })),
});

export const ModelJsonSchema = z
  .strictObject({
    format: z.literal(MODEL_FORMAT, { error: `must be "${MODEL_FORMAT}"` }),
    version: z.literal(MODEL_VERSION, { error: `must be ${MODEL_VERSION} (this mnist-ts reads version ${MODEL_VERSION})` }),
    architecture: z.strictObject({
      type: z.literal("two-layer-net", { error: 'must be "two-layer-net"' }),
      inputSize: z.number().int().min(1).max(MAX_UNITS),
      hiddenSize: z.number().int().min(1).max(MAX_UNITS),
      outputSize: z.number().int().min(1).max(MAX_UNITS),
      activation: z.literal("sigmoid", { error: 'must be "sigmoid"' }),
    }),
    params: z.strictObject({ W1: tensor, b1: tensor, W2: tensor, b2: tensor }),
    training: z
      .strictObject({
        hyperparameters: HyperparametersSchema,
        seed: z.number().int().min(0),
        iterations: z.number().int().min(0),
        finalLoss: z.number().nullable(),
        trainAccuracy: z.number().min(0).max(1).nullable(),
        testAccuracy: z.number().min(0).max(1).nullable(),
        datasetSha256: z.string().regex(/^[0-9a-f]{64}$/),
      })
      .optional(),
    createdAt: z.string(),
  })
  .superRefine((m, ctx) => {
    const { inputSize: I, hiddenSize: H, outputSize: O } = m.architecture;
    if (I * H + H * O > MAX_PARAMS) ctx.addIssue({ code: "custom", path: ["architecture"], message: `declares more than ${MAX_PARAMS} parameters` });
    const expected = { W1: [I, H], b1: [H], W2: [H, O], b2: [O] } as const;
    for (const name of PARAM_NAMES) {
      const p = m.params[name];
      const want = expected[name];
      if (p.shape.length !== want.length || p.shape.some((d, i) => d !== want[i])) {
        ctx.addIssue({ code: "custom", path: ["params", name, "shape"], message: `is [${p.shape.join(", ")}], expected [${want.join(", ")}] for a ${I}-${H}-${O} net` });
      } else if (p.data.length !== want.reduce((a, b) => a * b, 1)) {
        ctx.addIssue({ code: "custom", path: ["params", name, "data"], message: `has ${p.data.length} values, expected ${want.reduce((a, b) => a * b, 1)} for shape [${want.join(", ")}]` });
      }
    }
  });

export type TwoLayerModelJson = z.output<typeof ModelJsonSchema>;
export type TrainingRecord = NonNullable<TwoLayerModelJson["training"]>;

/**
 * model.json of an MultiLayerNet (any depth, activation): architecture { type: "mlp", sizes [I, H1, …, O],
 * activation }, params W1 [I × H1], b1 [H1], …, WL, bL. Same training record.
 */
export const MlpModelJsonSchema = z
  .strictObject({
    format: z.literal(MODEL_FORMAT, { error: `must be "${MODEL_FORMAT}"` }),
    version: z.literal(MODEL_VERSION, { error: `must be ${MODEL_VERSION} (this mnist-ts reads version ${MODEL_VERSION})` }),
    architecture: z.strictObject({
      type: z.literal("mlp", { error: 'must be "mlp"' }),
      sizes: z.array(z.number().int().min(1).max(MAX_UNITS)).min(3, { error: "must list at least 3 layer sizes" }).max(10, { error: "must list at most 10 layer sizes" }),
      activation: z.enum(ACTIVATIONS, { error: `must be ${ACTIVATIONS.join(", ")}` }),
    }),
    params: z.record(z.string().regex(/^[Wb][1-9]$/, { error: "is not a parameter name (W1…W9, b1…b9)" }), tensor),
    training: ModelJsonSchema.shape.training,
    createdAt: z.string(),
  })
  .superRefine((m, ctx) => {
    const sizes = m.architecture.sizes;
    const L = sizes.length - 1;
    let total = 0;
    for (let l = 1; l <= L; l++) total += sizes[l - 1] * sizes[l];
    if (total > MAX_PARAMS) {
      ctx.addIssue({ code: "custom", path: ["architecture"], message: `declares more than ${MAX_PARAMS} parameters` });
      return;
    }
    const names = mlpParamNames(L);
    for (const name of Object.keys(m.params)) {
      if (!names.includes(name)) ctx.addIssue({ code: "custom", path: ["params", name], message: `is not a parameter of a ${L}-layer net` });
    }
    for (let l = 1; l <= L; l++) {
      for (const [name, want] of [[`W${l}`, [sizes[l - 1], sizes[l]]], [`b${l}`, [sizes[l]]]] as const) {
        const p = m.params[name];
        if (!p) ctx.addIssue({ code: "custom", path: ["params", name], message: "is missing" });
        else if (p.shape.length !== want.length || p.shape.some((d, i) => d !== want[i])) {
          ctx.addIssue({ code: "custom", path: ["params", name, "shape"], message: `is [${p.shape.join(", ")}], expected [${want.join(", ")}] for a ${sizes.join("-")} net` });
        } else if (p.data.length !== want.reduce((a: number, b: number) => a * b, 1)) {
          ctx.addIssue({ code: "custom", path: ["params", name, "data"], message: `has ${p.data.length} values, expected ${want.reduce((a: number, b: number) => a * b, 1)} for shape [${want.join(", ")}]` });
        }
      }
    }
  });
export type MlpModelJson = z.output<typeof MlpModelJsonSchema>;

const anyTensor = z.strictObject({
  shape: z.array(z.number().int().min(1).max(1e9)).min(1).max(4),
  data: z.array(z.number({ error: "must hold only finite numbers" }).finite({ error: "must hold only finite numbers" })),
});
const wholeNumber = (max: number) => z.number({ error: "must be a number" }).int({ error: "must be a whole number" }).min(1, { error: "must be a positive whole number" }).max(max, { error: `must be at most ${max}` });

/**
 * model.json of a layer list's SequentialNet (version 2): architecture { type: "layers",
 * inputShape [1, 28, 28], layers (the typed list, as checkLayerList gives it), classes 10 };
 * params W{i} [FN, C, FH, FW] (conv) or [D, M] (affine), b{i}, gamma{j} and beta{j} [D] (batch
 * norm); state runningMean{j}, runningVar{j} [D] (batch norm's running statistics: saved, never
 * learned). The expected shapes come from the list alone (paramShapes), before any array is made.
 */
export const LayersModelJsonSchema = z
  .strictObject({
    format: z.literal(MODEL_FORMAT, { error: `must be "${MODEL_FORMAT}"` }),
    version: z.literal(LAYERS_MODEL_VERSION, { error: `must be ${LAYERS_MODEL_VERSION} (a "layers" model is version ${LAYERS_MODEL_VERSION})` }),
    architecture: z.strictObject({
      type: z.literal("layers", { error: 'must be "layers"' }),
      inputShape: z.array(wholeNumber(MAX_UNITS)).min(1, { error: "must be [C, H, W] or [D]" }).max(3, { error: "must be [C, H, W] or [D]" }),
      layers: z.array(z.unknown()).min(1, { error: "must list at least one layer" }).max(MAX_LAYERS, { error: `must list at most ${MAX_LAYERS} layers` }),
      classes: wholeNumber(MAX_UNITS),
    }),
    params: z.record(z.string().regex(/^(W|b|gamma|beta)[1-9][0-9]{0,2}$/, { error: "is not a parameter name (W1, b1, gamma1, beta1, …)" }), anyTensor),
    state: z.record(z.string().regex(/^running(Mean|Var)[1-9][0-9]{0,2}$/, { error: "is not a state name (runningMean1, runningVar1, …)" }), anyTensor),
    training: ModelJsonSchema.shape.training,
    createdAt: z.string(),
  })
  .transform((m, ctx) => {
    const { inputShape, classes } = m.architecture;
    let layers: LayerSpec[];
    let shapes: ParamShapes;
    try {
      layers = checkLayerList(m.architecture.layers, inputShape, classes).layers;
      shapes = paramShapes(layers, inputShape, classes);
    } catch (err) {
      if (!(err instanceof LayerSpecError)) throw err;
      ctx.addIssue({ code: "custom", path: ["architecture", "layers"], message: `: ${err.message}`, input: undefined });
      return z.NEVER;
    }
    if (countValues(shapes.params) + countValues(shapes.state) > MAX_PARAMS) {
      ctx.addIssue({ code: "custom", path: ["architecture"], message: `declares more than ${MAX_PARAMS} parameters`, input: undefined });
      return z.NEVER;
    }
    const net = formatLayers(layers);
    for (const [group, want] of [["params", shapes.params], ["state", shapes.state]] as const) {
      const got = m[group];
      for (const name of Object.keys(got)) {
        if (!(name in want)) ctx.addIssue({ code: "custom", path: [group, name], message: `is not a ${group === "params" ? "parameter" : "state"} of the net "${net}"`, input: undefined });
      }
      for (const [name, shape] of Object.entries(want)) {
        const p = got[name];
        const n = shape.reduce((a, b) => a * b, 1);
        if (!p) ctx.addIssue({ code: "custom", path: [group, name], message: "is missing", input: undefined });
        else if (p.shape.length !== shape.length || p.shape.some((d, i) => d !== shape[i])) {
          ctx.addIssue({ code: "custom", path: [group, name, "shape"], message: `is [${p.shape.join(", ")}], expected [${shape.join(", ")}]`, input: undefined });
        } else if (p.data.length !== n) {
          ctx.addIssue({ code: "custom", path: [group, name, "data"], message: `has ${p.data.length} values, expected ${n} for shape [${shape.join(", ")}]`, input: undefined });
        }
      }
    }
    return { ...m, architecture: { ...m.architecture, layers } };
  });
export type LayersModelJson = z.output<typeof LayersModelJsonSchema>;
export type ModelJson = TwoLayerModelJson | MlpModelJson | LayersModelJson;

const architectureType = (v: unknown): unknown =>
  typeof v === "object" && v !== null && typeof (v as { architecture?: unknown }).architecture === "object"
    ? (v as { architecture: { type?: unknown } | null }).architecture?.type
    : undefined;

/** Any model.json format, by architecture.type: "mlp", "layers", else the book's "two-layer-net". */
export const AnyModelJsonSchema = z.unknown().transform((v, ctx): ModelJson => {
  const type = architectureType(v);
  const r = type === "mlp" ? MlpModelJsonSchema.safeParse(v) : type === "layers" ? LayersModelJsonSchema.safeParse(v) : ModelJsonSchema.safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.issues.push({ ...issue, input: undefined } as (typeof ctx.issues)[number]);
  return z.NEVER;
});

export function toModelJson(net: TrainedNet, training?: TrainingRecord, createdAt = new Date()): ModelJson {
  if (net instanceof SequentialNet) {
    if (!net.specs) throw new RangeError("toModelJson: a SequentialNet built without its layer list (use buildReferenceNet)");
    const shapes = paramShapes(net.specs, net.inputShape, net.outputSize);
    const tensors = (values: Record<string, Float64Array>, want: Record<string, number[]>) =>
      Object.fromEntries(Object.entries(want).map(([name, shape]) => [name, { shape, data: Array.from(values[name]) }]));
    return {
      format: MODEL_FORMAT,
      version: LAYERS_MODEL_VERSION,
      architecture: { type: "layers", inputShape: [...net.inputShape], layers: net.specs.map((l) => ({ ...l })), classes: net.outputSize },
      params: tensors(net.params, shapes.params),
      state: tensors(net.state, shapes.state),
      ...(training ? { training } : {}),
      createdAt: createdAt.toISOString(),
    };
  }
  if (net instanceof MultiLayerNet) {
    const params: Record<string, { shape: number[]; data: number[] }> = {};
    for (let l = 1; l <= net.layers; l++) {
      params[`W${l}`] = { shape: [net.sizes[l - 1], net.sizes[l]], data: Array.from(net.params[`W${l}`]) };
      params[`b${l}`] = { shape: [net.sizes[l]], data: Array.from(net.params[`b${l}`]) };
    }
    return {
      format: MODEL_FORMAT,
      version: MODEL_VERSION,
      architecture: { type: "mlp", sizes: [...net.sizes], activation: net.activation },
      params,
      ...(training ? { training } : {}),
      createdAt: createdAt.toISOString(),
    };
  }
  const { inputSize: I, hiddenSize: H, outputSize: O } = net;
  const tensorOf = (data: Float64Array, shape: number[]) => ({ shape, data: Array.from(data) });
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    architecture: { type: "two-layer-net", inputSize: I, hiddenSize: H, outputSize: O, activation: "sigmoid" },
    params: {
      W1: tensorOf(net.params.W1, [I, H]),
      b1: tensorOf(net.params.b1, [H]),
      W2: tensorOf(net.params.W2, [H, O]),
      b2: tensorOf(net.params.b2, [O]),
    },
    ...(training ? { training } : {}),
    createdAt: createdAt.toISOString(),
  };
}

/** A network from an already validated ModelJson. */
export function netFromModelJson(model: TwoLayerModelJson): TwoLayerNet;
export function netFromModelJson(model: ModelJson): TrainedNet;
export function netFromModelJson(model: ModelJson): TrainedNet {
  if (model.architecture.type === "layers") {
    const m = model as LayersModelJson;
    const { inputShape, layers, classes } = m.architecture;
    // weights from the file; the generator only fills arrays that are overwritten (and would draw inference-free dropout masks)
    const net = buildReferenceNet(layers, new Rng(0), { inputShape, classes, weightInitStd: 0 });
    for (const [name, p] of Object.entries(m.params)) net.params[name].set(p.data);
    for (const [name, p] of Object.entries(m.state)) net.state[name].set(p.data);
    return net;
  }
  if (model.architecture.type === "mlp") {
    const net = new MultiLayerNet(model.architecture.sizes, { activation: model.architecture.activation, weightInitStd: 0 });
    for (const name of net.paramNames) net.params[name].set((model as MlpModelJson).params[name].data);
    return net;
  }
  model = model as TwoLayerModelJson;
  const { inputSize, hiddenSize, outputSize } = model.architecture;
  const net = new TwoLayerNet(inputSize, hiddenSize, outputSize, { weightInitStd: 0 });
  for (const name of PARAM_NAMES) net.params[name].set(model.params[name].data);
  return net;
}

/**
 * The network in one phrase, for messages: "784-50-10 sigmoid", or a layer net's list "conv 30
 * 5x5, relu, …" (with `sizes`, followed by its input shape and scores: "(1×28×28 → 10)").
 */
export function describeNet(net: TrainedNet, sizes = false): string {
  if (net instanceof SequentialNet) {
    const list = net.specs ? formatLayers(net.specs) : `${net.layers.length}-layer net`;
    return sizes ? `${list} (${net.inputShape.join("×")} → ${net.outputSize})` : list;
  }
  return net instanceof MultiLayerNet ? `${net.sizes.join("-")} ${net.activation}` : `${net.inputSize}-${net.hiddenSize}-${net.outputSize} sigmoid`;
}
