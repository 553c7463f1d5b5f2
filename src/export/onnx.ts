/**
 * A trained network as an ONNX model: the file onnxruntime (Python, Node, the browser, phones),
 * PyTorch and TensorFlow users can run without mnist-ts. The protobuf is written by onnx-proto's
 * generated classes (the ONNX schema on protobufjs), never by hand.
 *
 * The graph: input `x` float32 [N, I] (pixels / 255, as mnist-ts normalizes them; N is dynamic),
 * one node group per layer, output `logits` [N, O] and `probabilities` = Softmax(logits) [N, O].
 * A network is first described as a list of layers (layersOf); each kind of layer has one emitter,
 * so a new kind (Convolution, Pooling, BatchNorm, Flatten) is one Layer variant and one function.
 */
import onnxProto from "onnx-proto";
import type { Activation } from "../reference/multi-layer-net.js";
import type { ModelJson } from "../run/model-json.js";

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
  | { kind: "activation"; activation: Activation };

/**
 * The layers of a model.json network, input to logits. Dropout appears in no list: at inference it
 * is the identity (the trainer's dropout is inverted, so no rescaling remains at test time).
 */
export function layersOf(model: ModelJson): Layer[] {
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

const emitDense: Emitter<"dense"> = (layer, g) => {
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

/** One emitter per kind of layer: adding a kind of layer means adding its entry here. */
const EMITTERS: { [K in Layer["kind"]]: Emitter<K> } = {
  dense: emitDense,
  activation: emitActivation,
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
  for (const layer of layers) if (layer.kind === "dense") used.add(layer.weightName).add(layer.biasName);
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

/** A model.json network as the bytes of an .onnx file. */
export function toOnnx(model: ModelJson, options: OnnxExportOptions = {}): Uint8Array {
  const inputSize = model.architecture.type === "mlp" ? model.architecture.sizes[0] : model.architecture.inputSize;
  return onnxModelOfLayers(layersOf(model), [inputSize], options);
}

/** "784-50-10 sigmoid": the architecture in one phrase, for messages and the doc string. */
export function describeArchitecture(model: ModelJson): string {
  const a = model.architecture;
  return a.type === "mlp" ? `${a.sizes.join("-")} ${a.activation}` : `${a.inputSize}-${a.hiddenSize}-${a.outputSize} ${a.activation}`;
}
