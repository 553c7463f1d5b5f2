/**
 * model.json: a trained TwoLayerNet as plain JSON any language can read. Parameters are row-major
 * arrays of numbers with their shapes; JSON numbers round-trip float64 exactly, so a loaded model
 * predicts exactly what the trained one did.
 */
import { z } from "zod";
import { HyperparametersSchema } from "../train/hyperparameters.js";
import { ACTIVATIONS, MultiLayerNet, mlpParamNames } from "../reference/multi-layer-net.js";
import { PARAM_NAMES, TwoLayerNet } from "../reference/two-layer-net.js";

export const MODEL_FORMAT = "mnist-ts.model";
export const MODEL_VERSION = 1;

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
export type ModelJson = TwoLayerModelJson | MlpModelJson;

const isMlpJson = (v: unknown) =>
  typeof v === "object" && v !== null && typeof (v as { architecture?: unknown }).architecture === "object" &&
  (v as { architecture: { type?: unknown } | null }).architecture?.type === "mlp";

/** Either model.json format: "mlp" when architecture.type says so, else the book's "two-layer-net". */
export const AnyModelJsonSchema = z.unknown().transform((v, ctx): ModelJson => {
  const r = isMlpJson(v) ? MlpModelJsonSchema.safeParse(v) : ModelJsonSchema.safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.issues.push({ ...issue, input: undefined } as (typeof ctx.issues)[number]);
  return z.NEVER;
});

export function toModelJson(net: TwoLayerNet | MultiLayerNet, training?: TrainingRecord, createdAt = new Date()): ModelJson {
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
export function netFromModelJson(model: ModelJson): TwoLayerNet | MultiLayerNet;
export function netFromModelJson(model: ModelJson): TwoLayerNet | MultiLayerNet {
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
