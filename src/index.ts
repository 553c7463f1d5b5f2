/** mnist-ts public library API. */
export { loadMnist, loadMnistRaw, normalizePixels, oneHot, PIXEL_SCALE } from "./data/mnist.js";
export type { DataSource, LoadMnistOptions, MnistArrays, MnistData, MnistRaw, MnistSplit, SourceOptions } from "./data/mnist.js";
export { parseIdx, parseIdxImages, parseIdxLabels, IMAGES_MAGIC, LABELS_MAGIC } from "./data/idx.js";
export type { IdxArray, IdxImages } from "./data/idx.js";
export { MNIST_FILES, DEFAULT_MIRRORS } from "./data/files.js";
export {
  sigmoid,
  sigmoidGrad,
  softmax,
  meanSquaredError,
  crossEntropyError,
  numericalDiff,
  numericalGradient,
  gradientDescent,
} from "./book/functions.js";
export type { FloatArray, Labels } from "./book/functions.js";
export { Rng } from "./book/rng.js";
export type { RngState } from "./book/rng.js";
export { TwoLayerNet, PARAM_NAMES } from "./reference/two-layer-net.js";
export { MultiLayerNet } from "./reference/multi-layer-net.js";
export { Optimizer, OPTIMIZERS } from "./reference/optimizers.js";
export type { OptimizerConfig, OptimizerState } from "./reference/optimizers.js";
// the book's layers (ch05–ch07), plain float64, NCHW: the oracles of the engine's layers
export { Affine, Relu, Sigmoid, Tanh, Dropout, Flatten, Convolution, Pooling, BatchNormalization, SoftmaxWithLoss } from "./reference/layers/index.js";
export { SequentialNet } from "./reference/sequential-net.js";
export { buildReferenceNet, simpleConvNet, deepConvNet } from "./reference/net-from-spec.js";
// the engine every network trains on (WebAssembly SIMD, float32 or float64)
export { Network, denseLayers, specOf, PREDICT_CHUNK } from "./engine/network.js";
export type { NetworkSpec } from "./engine/network.js";
export type { LayerSpec } from "./reference/layer-spec.js";
export { fastNumericalGradient } from "./reference/numerical-gradient.js";
export { NumericalGradientPool } from "./engine/numerical-gradient-pool.js";
export type { Params, Grads, ParamName, TwoLayerNetOptions } from "./reference/two-layer-net.js";
export { MnistError, UsageError, IdxFormatError, ChecksumError, DownloadError, FileFormatError, WriteError } from "./errors.js";
export { train, defaultEvalEvery } from "./train/trainer.js";
export type { TrainData, TrainListener, TrainOptions, TrainResult, TrainState, IterationEvent, EpochEvent } from "./train/trainer.js";
export { HyperparametersSchema } from "./train/hyperparameters.js";
export type { Hyperparameters, HyperparametersInput, ResolvedHyperparameters } from "./train/hyperparameters.js";
