/**
 * Reference layers and a SequentialNet from a typed layer list (./layer-spec.ts), with
 * the book's initializations, every draw from the given Rng: each conv and affine in list order
 * draws its whole W (row-major: [FN × C × FH × FW] or [D × M]) from N(0, std²), biases start
 * at 0, batch norm's γ at 1 and β at 0, as the book's nets do. paramShapes gives the same shapes
 * without building anything.
 */
import { type Init, initStd } from "./multi-layer-net.js";
import type { Rng } from "../book/rng.js";
import { inferShapes, type LayerSpec, MNIST_INPUT_SHAPE, parseLayerList, type SampleShape, DEEP_CONVNET_LAYERS, SIMPLE_CONVNET_LAYERS } from "./layer-spec.js";
import { Relu, Sigmoid, Tanh } from "./layers/activations.js";
import { Affine } from "./layers/affine.js";
import { BatchNormalization } from "./layers/batch-normalization.js";
import { Convolution } from "./layers/convolution.js";
import { Dropout } from "./layers/dropout.js";
import { Flatten } from "./layers/flatten.js";
import type { Layer } from "./layers/layer.js";
import { Pooling } from "./layers/pooling.js";
import { SequentialNet } from "./sequential-net.js";

export interface BuildOptions {
  /** std: N(0, weightInitStd²) (the book's SimpleConvNet, 0.01); he: √(2/fan-in) (DeepConvNet); xavier: √(1/fan-in). */
  init?: Init;
  weightInitStd?: number;
  /** The dropout masks' generator (default: the one that drew the weights, as the book's one np.random). */
  dropoutRng?: Rng;
  inputShape?: SampleShape;
  /** The number of scores the list must end with (default 10). */
  classes?: number;
  /** λ of the L2 penalty ½ λ Σ W² over the conv and affine weights (default 0). */
  weightDecay?: number;
}

/** Parameter and state shapes of a layer list, by net-wide name (as SequentialNet names them). */
export interface ParamShapes {
  /** W [FN, C, FH, FW] (conv) or [D, M] (affine), b [FN] or [M], gamma and beta [D]. */
  params: Record<string, number[]>;
  /** Batch norm's runningMean and runningVar [D]. */
  state: Record<string, number[]>;
}

/**
 * The shapes buildReferenceNet gives the parameters of a layer list, from inferShapes alone
 * (nothing allocated): what a model.json or a checkpoint of it must hold. Throws LayerSpecError
 * for a list that does not fit the input.
 */
export function paramShapes(specs: readonly LayerSpec[], inputShape: SampleShape = MNIST_INPUT_SHAPE, classes = 10): ParamShapes {
  const shapes = inferShapes(specs, inputShape, classes);
  const out: ParamShapes = { params: {}, state: {} };
  let weighted = 0;
  let norms = 0;
  specs.forEach((spec, i) => {
    const input = i === 0 ? inputShape : shapes[i - 1];
    const inputSize = input.reduce((a, b) => a * b, 1);
    if (spec.type === "conv") {
      const k = ++weighted;
      out.params[`W${k}`] = [spec.filters, input[0], spec.kernel[0], spec.kernel[1]];
      out.params[`b${k}`] = [spec.filters];
    } else if (spec.type === "affine") {
      const k = ++weighted;
      out.params[`W${k}`] = [inputSize, spec.units];
      out.params[`b${k}`] = [spec.units];
    } else if (spec.type === "batchnorm") {
      const k = ++norms;
      out.params[`gamma${k}`] = [inputSize];
      out.params[`beta${k}`] = [inputSize];
      out.state[`runningMean${k}`] = [inputSize];
      out.state[`runningVar${k}`] = [inputSize];
    }
  });
  return out;
}

/** The number of values of each shape, summed. */
export function countValues(shapes: Record<string, readonly number[]>): number {
  let n = 0;
  for (const s of Object.values(shapes)) n += s.reduce((a, b) => a * b, 1);
  return n;
}

export function buildReferenceNet(specs: readonly LayerSpec[], rng: Rng, options: BuildOptions = {}): SequentialNet {
  const inputShape = options.inputShape ?? MNIST_INPUT_SHAPE;
  const init = options.init ?? "std";
  const weightInitStd = options.weightInitStd ?? 0.01;
  const shapes = inferShapes(specs, inputShape, options.classes ?? 10);
  const layers: Layer[] = specs.map((spec, i) => {
    const input = i === 0 ? inputShape : shapes[i - 1];
    const inputSize = input.reduce((a, b) => a * b, 1);
    switch (spec.type) {
      case "conv": {
        const [FH, FW] = spec.kernel;
        const C = input[0];
        const W = rng.fillNormal(new Float64Array(spec.filters * C * FH * FW), initStd(init, weightInitStd, C * FH * FW));
        return new Convolution(W, new Float64Array(spec.filters), [spec.filters, C, FH, FW], spec.stride, spec.pad);
      }
      case "maxpool":
        return new Pooling(spec.kernel[0], spec.kernel[1], spec.stride ?? spec.kernel[0], spec.pad);
      case "affine": {
        const W = rng.fillNormal(new Float64Array(inputSize * spec.units), initStd(init, weightInitStd, inputSize));
        return new Affine(W, new Float64Array(spec.units));
      }
      case "batchnorm":
        return new BatchNormalization(new Float64Array(inputSize).fill(1), new Float64Array(inputSize));
      case "dropout":
        return new Dropout(spec.ratio, options.dropoutRng ?? rng);
      case "flatten":
        return new Flatten();
      case "relu":
        return new Relu();
      case "sigmoid":
        return new Sigmoid();
      case "tanh":
        return new Tanh();
    }
  });
  return new SequentialNet(layers, inputShape, { specs: [...specs], classes: options.classes ?? 10, weightDecay: options.weightDecay ?? 0 });
}

/** The book's SimpleConvNet (ch07): conv 30 5×5 → relu → pool 2 → affine 100 → relu → affine 10, weight_init_std 0.01. */
export function simpleConvNet(rng: Rng, weightInitStd = 0.01): SequentialNet {
  return buildReferenceNet(parseLayerList(SIMPLE_CONVNET_LAYERS).layers, rng, { init: "std", weightInitStd });
}

/** The book's DeepConvNet (ch08), He initialization as its weight_init_scales = √(2 / pre_node_nums). */
export function deepConvNet(rng: Rng): SequentialNet {
  return buildReferenceNet(parseLayerList(DEEP_CONVNET_LAYERS).layers, rng, { init: "he" });
}
