/**
 * A trained network as an ONNX model: the file onnxruntime (Python, Node, the browser, phones),
 * PyTorch and TensorFlow users can run without mnist-ts. The protobuf is written by onnx-proto's
 * generated classes (the ONNX schema on protobufjs), never by hand.
 *
 * The graph: input `x` float32 [N, I] (pixels / 255, as mnist-ts normalizes them; N is dynamic),
 * or [N, 1, 28, 28] for a layer net, one node group per layer, output `logits` [N, O] and
 * `probabilities` = Softmax(logits) [N, O]. A network is first described as a list of layers
 * (layersOf); each kind of layer has one emitter:
 *   dense     Gemm (x·W + b), after a Flatten when its input is an image (the book's Affine flattens)
 *   conv      Conv: NCHW and W [FN, C, FH, FW] exactly as the reference's, zero padding as the book's
 *   maxpool   MaxPool without padding (ONNX pads with −∞, the book with zeros: padded pooling is refused)
 *   scale     batch norm's inference form y = x·s + c, s = γ/√(running var + ε), c = β − running mean·s,
 *             as Mul and Add of [C, H, W] or [D] constants: the book normalizes each of the C·H·W
 *             values on its own, which ONNX BatchNormalization (per channel) does not express
 *   flatten   Flatten (axis 1)
 * Dropout is the identity at inference and appears in no list.
 */
import onnxProto from "onnx-proto";
import { formatLayers } from "../reference/layer-spec.js";
import { BN_EPS } from "../reference/layers/batch-normalization.js";
// the book's output side of a window, floor((size + 2·pad − k) / stride) + 1: ONNX's with ceil_mode 0
import { outSize } from "../reference/layers/layer.js";
import type { Activation } from "../reference/multi-layer-net.js";
import type { LayersModelJson, ModelJson } from "../run/model-json.js";

const { onnx } = onnxProto;

/**
 * Opset 13 has every operator used here in its current form (Gemm with a 1-D bias, Softmax over
 * one axis) and is run by every onnxruntime since 1.6; IR version 7 is the one that came with it.
 */
export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;
export const INPUT_NAME = "x";
export const LOGITS_NAME = "logits";
export const PROBABILITIES_NAME = "probabilities";

/** One layer of a network as the exporter sees it; shapes exclude the batch dimension. */
export type Layer =
  | {
      kind: "dense";
      /** Parameter names in model.json (W1, b1, …), kept as the initializers' names. */
      weightName: string;
      biasName: string;
      /** [inputs × outputs], row-major: y = x·W + b, ONNX Gemm with transB = 0. */
      weight: ArrayLike<number>;
      bias: ArrayLike<number>;
      inputs: number;
      outputs: number;
    }
  | { kind: "activation"; activation: Activation }
  | {
      kind: "conv";
      weightName: string;
      biasName: string;
      /** [FN × C × FH × FW], row-major, as model.json and ONNX Conv both hold it. */
      weight: ArrayLike<number>;
      bias: ArrayLike<number>;
      filters: number;
      kernel: [number, number];
      stride: number;
      pad: number;
    }
  | { kind: "maxpool"; kernel: [number, number]; stride: number }
  | {
      kind: "scale";
      /** Names of the two constants (bn1_scale, bn1_shift). */
      scaleName: string;
      shiftName: string;
      scale: ArrayLike<number>;
      shift: ArrayLike<number>;
    }
  | { kind: "flatten" };

/** The initializers a layer brings, by name (no intermediate tensor may take one). */
function initializerNames(layer: Layer): string[] {
  if (layer.kind === "dense" || layer.kind === "conv") return [layer.weightName, layer.biasName];
  if (layer.kind === "scale") return [layer.scaleName, layer.shiftName];
  return [];
}

/**
 * A layer net's layers (model.json "layers"): conv, maxpool, batch norm (as its inference-time
 * scale and shift), flatten, affine and activations; dropout left out. A maxpool with padding is
 * refused (RangeError): ONNX would pad with −∞ where the book pads with zeros.
 */
function layersOfList(model: LayersModelJson): Layer[] {
  const params = model.params;
  const state = model.state;
  let weighted = 0;
  let norms = 0;
  const out: Layer[] = [];
  model.architecture.layers.forEach((spec, i) => {
    switch (spec.type) {
      case "conv":
      case "affine": {
        const k = ++weighted;
        const weightName = `W${k}`;
        const biasName = `b${k}`;
        const W = params[weightName];
        if (spec.type === "affine") out.push({ kind: "dense", weightName, biasName, weight: W.data, bias: params[biasName].data, inputs: W.shape[0], outputs: W.shape[1] });
        else out.push({ kind: "conv", weightName, biasName, weight: W.data, bias: params[biasName].data, filters: spec.filters, kernel: spec.kernel, stride: spec.stride, pad: spec.pad });
        break;
      }
      case "maxpool":
        if (spec.pad > 0) {
          throw new RangeError(`layer ${i + 1} "${formatLayers([spec])}" pads its windows with zeros (the book's max pooling), which ONNX MaxPool cannot express (it pads with −∞); only maxpool without padding exports`);
        }
        out.push({ kind: "maxpool", kernel: spec.kernel, stride: spec.stride ?? spec.kernel[0] });
        break;
      case "batchnorm": {
        const k = ++norms;
        const gamma = params[`gamma${k}`].data, beta = params[`beta${k}`].data;
        const mean = state[`runningMean${k}`].data, variance = state[`runningVar${k}`].data;
        const scale = gamma.map((g, d) => g / Math.sqrt(variance[d] + BN_EPS));
        const shift = beta.map((b, d) => b - mean[d] * scale[d]);
        out.push({ kind: "scale", scaleName: `bn${k}_scale`, shiftName: `bn${k}_shift`, scale, shift });
        break;
      }
      case "flatten":
        out.push({ kind: "flatten" });
        break;
      case "dropout":
        break;
      default:
        out.push({ kind: "activation", activation: spec.type });
    }
  });
  return out;
}

/**
 * The layers of a model.json network, input to logits. Dropout appears in no list: at inference it
 * is the identity (the trainer's dropout is inverted, so no rescaling remains at test time).
 */
export function layersOf(model: ModelJson): Layer[] {
  if (model.architecture.type === "layers") return layersOfList(model as LayersModelJson);
  const sizes =
    model.architecture.type === "mlp"
      ? model.architecture.sizes
      : [model.architecture.inputSize, model.architecture.hiddenSize, model.architecture.outputSize];
  const activation: Activation = model.architecture.type === "mlp" ? model.architecture.activation : "sigmoid";
  const params = model.params as Record<string, { data: number[] }>;
  const layers: Layer[] = [];
  for (let l = 1; l < sizes.length; l++) {
    const weightName = `W${l}`;
    const biasName = `b${l}`;
    layers.push({ kind: "dense", weightName, biasName, weight: params[weightName].data, bias: params[biasName].data, inputs: sizes[l - 1], outputs: sizes[l] });
    if (l < sizes.length - 1) layers.push({ kind: "activation", activation });
  }
  return layers;
}

/** The graph under construction: what the emitters append to and the tensor the next layer reads. */
export interface GraphBuilder {
  nodes: InstanceType<typeof onnx.NodeProto>[];
  initializers: InstanceType<typeof onnx.TensorProto>[];
  /** Name of the current tensor and its shape without the batch dimension. */
  tensor: string;
  shape: number[];
  /** A tensor or node name not used before, from `base`. */
  fresh(base: string): string;
}

type Emitter<K extends Layer["kind"]> = (layer: Extract<Layer, { kind: K }>, g: GraphBuilder) => void;

/** A float tensor rounded to float32; a value float32 cannot hold is an error, not an Infinity in the file. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): InstanceType<typeof onnx.TensorProto> {
  const data = Float32Array.from(values);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new RangeError(`${name} holds ${values[i]}, outside float32's range`);
  }
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(data) });
}

const ONNX_ACTIVATION: Record<Activation, string> = { sigmoid: "Sigmoid", relu: "Relu", tanh: "Tanh" };

const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });

const emitFlatten: Emitter<"flatten"> = (_layer, g) => {
  const out = g.fresh("flatten");
  g.nodes.push(
    onnx.NodeProto.create({
      name: g.fresh("flatten_node"),
      opType: "Flatten",
      input: [g.tensor],
      output: [out],
      attribute: [onnx.AttributeProto.create({ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
    }),
  );
  g.tensor = out;
  g.shape = [g.shape.reduce((a, b) => a * b, 1)];
};

const emitDense: Emitter<"dense"> = (layer, g) => {
  // the book's Affine reads an image input as x.reshape(N, −1)
  if (g.shape.length > 1) emitFlatten({ kind: "flatten" }, g);
  if (g.shape.length !== 1 || g.shape[0] !== layer.inputs) {
    throw new RangeError(`${layer.weightName} takes ${layer.inputs} inputs, but the layer before gives [${g.shape.join(", ")}]`);
  }
  g.initializers.push(floatTensor(layer.weightName, [layer.inputs, layer.outputs], layer.weight));
  g.initializers.push(floatTensor(layer.biasName, [layer.outputs], layer.bias));
  const out = g.fresh(`${layer.weightName}_out`);
  g.nodes.push(
    onnx.NodeProto.create({
      name: g.fresh(`gemm_${layer.weightName}`),
      opType: "Gemm",
      input: [g.tensor, layer.weightName, layer.biasName],
      output: [out],
      attribute: [
        onnx.AttributeProto.create({ name: "transA", type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
        onnx.AttributeProto.create({ name: "transB", type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
      ],
    }),
  );
  g.tensor = out;
  g.shape = [layer.outputs];
};

const emitActivation: Emitter<"activation"> = (layer, g) => {
  const op = ONNX_ACTIVATION[layer.activation];
  const out = g.fresh(op.toLowerCase());
  g.nodes.push(onnx.NodeProto.create({ name: g.fresh(`${op.toLowerCase()}_node`), opType: op, input: [g.tensor], output: [out] }));
  g.tensor = out;
};


const emitConv: Emitter<"conv"> = (layer, g) => {
  if (g.shape.length !== 3) throw new RangeError(`${layer.weightName}: a convolution needs an image [C, H, W], but the layer before gives [${g.shape.join(", ")}]`);
  const [C, H, W] = g.shape;
  const [FH, FW] = layer.kernel;
  g.initializers.push(floatTensor(layer.weightName, [layer.filters, C, FH, FW], layer.weight));
  g.initializers.push(floatTensor(layer.biasName, [layer.filters], layer.bias));
  const out = g.fresh(`${layer.weightName}_out`);
  g.nodes.push(
    onnx.NodeProto.create({
      name: g.fresh(`conv_${layer.weightName}`),
      opType: "Conv",
      input: [g.tensor, layer.weightName, layer.biasName],
      output: [out],
      attribute: [ints("kernel_shape", [FH, FW]), ints("strides", [layer.stride, layer.stride]), ints("pads", [layer.pad, layer.pad, layer.pad, layer.pad])],
    }),
  );
  g.tensor = out;
  g.shape = [layer.filters, outSize(H, FH, layer.stride, layer.pad), outSize(W, FW, layer.stride, layer.pad)];
};

const emitMaxPool: Emitter<"maxpool"> = (layer, g) => {
  if (g.shape.length !== 3) throw new RangeError(`max pooling needs an image [C, H, W], but the layer before gives [${g.shape.join(", ")}]`);
  const [C, H, W] = g.shape;
  const [KH, KW] = layer.kernel;
  const out = g.fresh("maxpool");
  g.nodes.push(
    onnx.NodeProto.create({
      name: g.fresh("maxpool_node"),
      opType: "MaxPool",
      input: [g.tensor],
      output: [out],
      attribute: [ints("kernel_shape", [KH, KW]), ints("strides", [layer.stride, layer.stride])],
    }),
  );
  g.tensor = out;
  g.shape = [C, outSize(H, KH, layer.stride, 0), outSize(W, KW, layer.stride, 0)];
};

const emitScale: Emitter<"scale"> = (layer, g) => {
  const size = g.shape.reduce((a, b) => a * b, 1);
  if (layer.scale.length !== size) throw new RangeError(`${layer.scaleName} has ${layer.scale.length} values, but the layer before gives [${g.shape.join(", ")}]`);
  // [C, H, W] or [D] constants broadcast over the batch axis
  g.initializers.push(floatTensor(layer.scaleName, [...g.shape], layer.scale));
  g.initializers.push(floatTensor(layer.shiftName, [...g.shape], layer.shift));
  const scaled = g.fresh(`${layer.scaleName}_out`);
  const shifted = g.fresh(`${layer.shiftName}_out`);
  g.nodes.push(onnx.NodeProto.create({ name: g.fresh(`mul_${layer.scaleName}`), opType: "Mul", input: [g.tensor, layer.scaleName], output: [scaled] }));
  g.nodes.push(onnx.NodeProto.create({ name: g.fresh(`add_${layer.shiftName}`), opType: "Add", input: [scaled, layer.shiftName], output: [shifted] }));
  g.tensor = shifted;
};

/** One emitter per kind of layer: adding a kind of layer means adding its entry here. */
const EMITTERS: { [K in Layer["kind"]]: Emitter<K> } = {
  dense: emitDense,
  activation: emitActivation,
  conv: emitConv,
  maxpool: emitMaxPool,
  scale: emitScale,
  flatten: emitFlatten,
};

function emit(layer: Layer, g: GraphBuilder): void {
  (EMITTERS[layer.kind] as (l: Layer, g: GraphBuilder) => void)(layer, g);
}

function valueInfo(name: string, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })),
        }),
      }),
    }),
  });
}

export interface OnnxExportOptions {
  /** Written as the model's producer_version. */
  producerVersion?: string;
  /** Free text stored as the model's doc_string. */
  docString?: string;
}

/**
 * Build the ONNX model of a layer list whose input is [N, ...inputShape] ([N, 784] for the dense
 * nets; a convolutional net's would be [N, 1, 28, 28]). The final layer's output is renamed
 * `logits`, and Softmax over the class axis gives `probabilities`.
 */
export function onnxModelOfLayers(layers: Layer[], inputShape: number[], options: OnnxExportOptions = {}): Uint8Array {
  const used = new Set<string>([INPUT_NAME, LOGITS_NAME, PROBABILITIES_NAME]);
  const g: GraphBuilder = {
    nodes: [],
    initializers: [],
    tensor: INPUT_NAME,
    shape: [...inputShape],
    fresh(base) {
      let name = base;
      for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
      used.add(name);
      return name;
    },
  };
  // Initializers keep their model.json names, so no intermediate tensor may take one.
  for (const layer of layers) for (const name of initializerNames(layer)) used.add(name);
  for (const layer of layers) emit(layer, g);
  if (g.nodes.length === 0 || g.shape.length !== 1) throw new RangeError("a network to export needs at least one layer that ends in a vector of class scores");

  // The last node's output becomes the graph's `logits`.
  const last = g.nodes[g.nodes.length - 1];
  last.output = last.output.map((o) => (o === g.tensor ? LOGITS_NAME : o));
  const classes = g.shape[0];
  g.nodes.push(
    onnx.NodeProto.create({
      name: "softmax",
      opType: "Softmax",
      input: [LOGITS_NAME],
      output: [PROBABILITIES_NAME],
      attribute: [onnx.AttributeProto.create({ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
    }),
  );

  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: ONNX_OPSET })],
    producerName: "mnist-ts",
    producerVersion: options.producerVersion ?? "",
    docString: options.docString ?? "",
    graph: onnx.GraphProto.create({
      name: "mnist_ts",
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(INPUT_NAME, ["N", ...inputShape])],
      output: [valueInfo(LOGITS_NAME, ["N", classes]), valueInfo(PROBABILITIES_NAME, ["N", classes])],
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The input of a model.json network, without the batch axis: [784], or a layer net's [1, 28, 28]. */
export function inputShapeOf(model: ModelJson): number[] {
  const a = model.architecture;
  return a.type === "layers" ? [...a.inputShape] : [a.type === "mlp" ? a.sizes[0] : a.inputSize];
}

/** The number of class scores of a model.json network. */
export function classesOf(model: ModelJson): number {
  const a = model.architecture;
  return a.type === "layers" ? a.classes : a.type === "mlp" ? a.sizes[a.sizes.length - 1] : a.outputSize;
}

/** A model.json network as the bytes of an .onnx file. */
export function toOnnx(model: ModelJson, options: OnnxExportOptions = {}): Uint8Array {
  return onnxModelOfLayers(layersOf(model), inputShapeOf(model), options);
}

/** "784-50-10 sigmoid", or a layer net's list: the architecture in one phrase, for messages and the doc string. */
export function describeArchitecture(model: ModelJson): string {
  const a = model.architecture;
  if (a.type === "layers") return `"${formatLayers(a.layers)}"`;
  return a.type === "mlp" ? `${a.sizes.join("-")} ${a.activation}` : `${a.inputSize}-${a.hiddenSize}-${a.outputSize} ${a.activation}`;
}
