/**
 * The layer list of `--layers`: a short readable form, parsed into a typed list, validated by zod,
 * its shapes inferred from the 1×28×28 input. Every error is one line naming the bad layer by its
 * position and text.
 *
 * Grammar (layers separated by commas, words by spaces; N a whole number, P a fraction):
 *   conv F KxK [sN] [pN]   F filters of KhxKw (or K for KxK), stride (default 1), zero padding (default 0)
 *   maxpool KxK [sN] [pN]  max pooling over KhxKw windows (or K), stride (default Kh), zero padding (default 0)
 *   affine N               fully connected to N outputs (flattens its input, as the book's Affine)
 *   relu | sigmoid | tanh  activations
 *   batchnorm              the book's batch normalization (one γ, β per input value)
 *   dropout P              drop ratio 0 ≤ P < 1
 *   flatten                [C, H, W] → [C·H·W]
 * e.g. the PyTorch example's net:
 *   conv 32 3x3, relu, conv 64 3x3, relu, maxpool 2, dropout 0.25, flatten, affine 128, relu, dropout 0.5, affine 10
 */
import { z } from "zod";
import { UsageError } from "../errors.js";
import { formatGot } from "../io/zod-message.js";

const positiveInt = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number" })
  .min(1, { error: "must be a positive whole number" })
  .max(100_000, { error: "must be at most 100000" });
const nonNegativeInt = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number" })
  .min(0, { error: "must be zero or a positive whole number" })
  .max(100_000, { error: "must be at most 100000" });

const ConvSpecSchema = z.strictObject({
  type: z.literal("conv"),
  filters: positiveInt,
  kernel: z.tuple([positiveInt, positiveInt]),
  stride: positiveInt.default(1),
  pad: nonNegativeInt.default(0),
});
const MaxPoolSpecSchema = z.strictObject({
  type: z.literal("maxpool"),
  kernel: z.tuple([positiveInt, positiveInt]),
  /** Default: the window's height, so `maxpool 2` is the book's Pooling(2, 2, stride=2); always set after parsing. */
  stride: positiveInt.optional(),
  pad: nonNegativeInt.default(0),
});
const AffineSpecSchema = z.strictObject({ type: z.literal("affine"), units: positiveInt });
const DropoutSpecSchema = z.strictObject({
  type: z.literal("dropout"),
  ratio: z.number({ error: "must be a number" }).min(0, { error: "must be at least 0" }).lt(1, { error: "must be less than 1" }),
});
const plain = <T extends string>(type: T) => z.strictObject({ type: z.literal(type) });

export const PLAIN_LAYERS = ["relu", "sigmoid", "tanh", "batchnorm", "flatten"] as const;
export const LAYER_TYPES = ["conv", "maxpool", "affine", "dropout", ...PLAIN_LAYERS] as const;
export type LayerType = (typeof LAYER_TYPES)[number];

/** One layer of the typed list (what a config file or model.json may hold instead of the text). */
export const LayerSpecSchema = z.discriminatedUnion(
  "type",
  [ConvSpecSchema, MaxPoolSpecSchema, AffineSpecSchema, DropoutSpecSchema, plain("relu"), plain("sigmoid"), plain("tanh"), plain("batchnorm"), plain("flatten")],
  { error: `must be one of ${LAYER_TYPES.join(", ")}` },
);
export type LayerSpec = z.output<typeof LayerSpecSchema>;
export type ConvSpec = z.output<typeof ConvSpecSchema>;
export type MaxPoolSpec = z.output<typeof MaxPoolSpecSchema>;

/** One sample's shape: [C, H, W] for images, [D] for rows. */
export type SampleShape = readonly number[];
export const MNIST_INPUT_SHAPE: SampleShape = [1, 28, 28];
export const MNIST_CLASSES = 10;

/** The book's ch07 SimpleConvNet. */
export const SIMPLE_CONVNET_LAYERS = "conv 30 5x5 s1 p0, relu, maxpool 2x2 s2, affine 100, relu, affine 10";
/** The book's ch08 DeepConvNet (its last dropout comes after the last affine, as the book's). */
export const DEEP_CONVNET_LAYERS =
  "conv 16 3x3 p1, relu, conv 16 3x3 p1, relu, maxpool 2, conv 32 3x3 p1, relu, conv 32 3x3 p2, relu, maxpool 2, " +
  "conv 64 3x3 p1, relu, conv 64 3x3 p1, relu, maxpool 2, affine 50, relu, dropout 0.5, affine 10, dropout 0.5";
/** pytorch/examples mnist/main.py's Net. */
export const PYTORCH_EXAMPLE_LAYERS = "conv 32 3x3, relu, conv 64 3x3, relu, maxpool 2, dropout 0.25, flatten, affine 128, relu, dropout 0.5, affine 10";

/** A bad layer list: exit code 2 like any bad flag; `position` is 1-based (0 when no single layer is to blame). */
export class LayerSpecError extends UsageError {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.position = position;
  }
}

function fail(position: number, text: string, problem: string): never {
  throw new LayerSpecError(`layer ${position} "${text}": ${problem}`, position);
}

/** The canonical text of one layer (what parseLayerList reads back to the same spec). */
export function formatLayer(spec: LayerSpec): string {
  switch (spec.type) {
    case "conv":
      return `conv ${spec.filters} ${spec.kernel[0]}x${spec.kernel[1]}${spec.stride !== 1 ? ` s${spec.stride}` : ""}${spec.pad !== 0 ? ` p${spec.pad}` : ""}`;
    case "maxpool":
      return `maxpool ${spec.kernel[0]}x${spec.kernel[1]}${spec.stride !== undefined && spec.stride !== spec.kernel[0] ? ` s${spec.stride}` : ""}${spec.pad !== 0 ? ` p${spec.pad}` : ""}`;
    case "affine":
      return `affine ${spec.units}`;
    case "dropout":
      return `dropout ${spec.ratio}`;
    default:
      return spec.type;
  }
}

export function formatLayers(specs: readonly LayerSpec[]): string {
  return specs.map(formatLayer).join(", ");
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function number(token: string, position: number, text: string, what: string): number {
  if (!NUMBER.test(token)) fail(position, text, `${what} must be a number (got "${token}")`);
  return Number(token);
}

/** "3x3" → [3, 3]; "5" → [5, 5]. */
function kernel(token: string | undefined, position: number, text: string): [number, number] {
  if (token === undefined) fail(position, text, "the window size is missing (e.g. 3x3)");
  const parts = token.split(/[x×]/i);
  if (parts.length === 1) {
    const k = number(parts[0], position, text, "the window size");
    return [k, k];
  }
  if (parts.length !== 2) fail(position, text, `"${token}" is not a window size like 3x3`);
  return [number(parts[0], position, text, "the window height"), number(parts[1], position, text, "the window width")];
}

/** The optional "sN" and "pN" words after a window size. */
function strideAndPad(tokens: string[], position: number, text: string): { stride?: number; pad?: number } {
  const out: { stride?: number; pad?: number } = {};
  for (const token of tokens) {
    const key = token[0]?.toLowerCase() === "s" ? "stride" : token[0]?.toLowerCase() === "p" ? "pad" : undefined;
    if (!key) fail(position, text, `unexpected "${token}" (stride and padding are written s2, p1)`);
    if (out[key] !== undefined) fail(position, text, `${key} is given twice`);
    out[key] = number(token.slice(1), position, text, key);
  }
  return out;
}

function rawLayer(text: string, position: number): unknown {
  const [word, ...args] = text.split(/\s+/);
  const type = word.toLowerCase();
  const arity = (n: number, usage: string) => {
    if (args.length !== n) fail(position, text, `${type} takes ${n === 0 ? "no arguments" : `${usage}`}`);
  };
  switch (type) {
    case "conv": {
      if (args.length < 2) fail(position, text, "conv takes a filter count and a window size (e.g. conv 32 3x3)");
      return { type, filters: number(args[0], position, text, "the filter count"), kernel: kernel(args[1], position, text), ...strideAndPad(args.slice(2), position, text) };
    }
    case "maxpool":
      if (args.length < 1) fail(position, text, "maxpool takes a window size (e.g. maxpool 2)");
      return { type, kernel: kernel(args[0], position, text), ...strideAndPad(args.slice(1), position, text) };
    case "affine":
      arity(1, "one size (e.g. affine 100)");
      return { type, units: number(args[0], position, text, "the size") };
    case "dropout":
      arity(1, "one ratio (e.g. dropout 0.5)");
      return { type, ratio: number(args[0], position, text, "the ratio") };
    default:
      if ((PLAIN_LAYERS as readonly string[]).includes(type)) {
        arity(0, "");
        return { type };
      }
      return fail(position, text, `unknown layer "${word}" (known: ${LAYER_TYPES.join(", ")})`);
  }
}

const FIELD_NAMES: Record<string, string> = { type: "the layer type", filters: "the filter count", kernel: "the window size", stride: "the stride", pad: "the padding", units: "the size", ratio: "the ratio" };

/** zod's verdict on one raw layer, as one line naming it. */
function validateLayer(raw: unknown, position: number, text: string): LayerSpec {
  const result = LayerSpecSchema.safeParse(raw);
  if (result.success) {
    const spec = result.data;
    return spec.type === "maxpool" && spec.stride === undefined ? { ...spec, stride: spec.kernel[0] } : spec;
  }
  const issue = result.error.issues[0];
  const field = issue.path.length ? (FIELD_NAMES[String(issue.path[0])] ?? String(issue.path[0])) : "the layer";
  let value: unknown = raw;
  for (const key of issue.path) value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  if (issue.code === "unrecognized_keys") return fail(position, text, `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`);
  if (issue.code === "invalid_type" && value === undefined && issue.path.length) return fail(position, text, `${field} is missing`);
  const message = issue.code === "invalid_type" && /^Invalid input/.test(issue.message) ? `must be ${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}` : issue.message;
  return fail(position, text, `${field} ${message}${issue.path.length ? formatGot(value) : ""}`);
}

/**
 * Parse the text of `--layers` into the typed list, validate every layer with zod and infer the
 * shapes (which must end in `classes` scores). Throws LayerSpecError with one line on any fault.
 */
export function parseLayerList(text: string, inputShape: SampleShape = MNIST_INPUT_SHAPE, classes = MNIST_CLASSES): { layers: LayerSpec[]; shapes: SampleShape[] } {
  const items = text.split(",").map((item) => item.trim());
  if (items.length === 1 && items[0] === "") throw new LayerSpecError("the layer list is empty", 0);
  const layers = items.map((item, i) => {
    if (item === "") fail(i + 1, item, "empty layer (two commas in a row, or a comma at an end)");
    return validateLayer(rawLayer(item, i + 1), i + 1, item);
  });
  return { layers, shapes: inferShapes(layers, inputShape, classes, items) };
}

/**
 * Validate a typed list (from a config file or model.json: unknown input) and infer its shapes;
 * the errors name a layer by its position and type.
 */
export function checkLayerList(list: unknown, inputShape: SampleShape = MNIST_INPUT_SHAPE, classes = MNIST_CLASSES): { layers: LayerSpec[]; shapes: SampleShape[] } {
  if (typeof list === "string") return parseLayerList(list, inputShape, classes);
  if (!Array.isArray(list)) throw new LayerSpecError(`the layer list must be a string or an array of layers${formatGot(list)}`, 0);
  if (list.length === 0) throw new LayerSpecError("the layer list is empty", 0);
  const layers = list.map((raw, i) => {
    const type = raw !== null && typeof raw === "object" ? (raw as { type?: unknown }).type : undefined;
    return validateLayer(raw, i + 1, typeof type === "string" ? type : JSON.stringify(raw));
  });
  return { layers, shapes: inferShapes(layers, inputShape, classes) };
}

function showShape(shape: SampleShape): string {
  return shape.join("×");
}

/**
 * The shape after each layer, for one sample (shapes[i] is layer i+1's output). The checks: a
 * window must fit its padded input, conv and maxpool need an image [C, H, W], and the last shape
 * must be [classes] (any [N] when classes < 0).
 */
export function inferShapes(layers: readonly LayerSpec[], inputShape: SampleShape = MNIST_INPUT_SHAPE, classes = MNIST_CLASSES, texts?: readonly string[]): SampleShape[] {
  const shapes: SampleShape[] = [];
  let shape = inputShape;
  let lastChange = 0; // the last layer that set the number of outputs, to blame for a wrong count
  layers.forEach((spec, i) => {
    const position = i + 1;
    const text = texts?.[i] ?? formatLayer(spec);
    if (spec.type === "conv" || spec.type === "maxpool") {
      if (shape.length !== 3) fail(position, text, `${spec.type} needs an image input [C, H, W], but its input is ${showShape(shape)} (after an affine or flatten)`);
      const [C, H, W] = shape;
      const [kh, kw] = spec.kernel;
      const stride = spec.stride ?? kh;
      const { pad } = spec;
      if (kh > H + 2 * pad || kw > W + 2 * pad)
        fail(position, text, `the ${kh}×${kw} window is larger than its ${H}×${W} input${pad ? ` padded by ${pad}` : ""}`);
      const outH = Math.floor((H + 2 * pad - kh) / stride) + 1;
      const outW = Math.floor((W + 2 * pad - kw) / stride) + 1;
      shape = [spec.type === "conv" ? spec.filters : C, outH, outW];
      lastChange = position;
    } else if (spec.type === "affine") {
      shape = [spec.units];
      lastChange = position;
    } else if (spec.type === "flatten") {
      shape = [shape.reduce((a, b) => a * b, 1)];
    }
    shapes.push(shape);
  });
  if (classes < 0 && shape.length === 1) return shapes; // any number of scores (the engine's own check)
  if (shape.length !== 1 || shape[0] !== classes) {
    const what = `gives ${showShape(shape)} values per image, not the ${classes} class scores the net must end with`;
    if (lastChange === 0) throw new LayerSpecError(`the layer list ${what}`, 0);
    fail(lastChange, texts?.[lastChange - 1] ?? formatLayer(layers[lastChange - 1]), `${what} (end with "affine ${classes}")`);
  }
  return shapes;
}

/** `--hidden-size` as a layer list: [50], "sigmoid" → affine 50, sigmoid, affine 10 (the book's TwoLayerNet). */
export function layersFromHiddenSizes(hiddenSizes: readonly number[], activation: "sigmoid" | "relu" | "tanh", classes = MNIST_CLASSES): LayerSpec[] {
  const layers: LayerSpec[] = [];
  for (const units of hiddenSizes) layers.push({ type: "affine", units }, { type: activation });
  layers.push({ type: "affine", units: classes });
  return checkLayerList(layers, MNIST_INPUT_SHAPE, classes).layers;
}
