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
} from "./core/functions.js";
export type { FloatArray, Labels } from "./core/functions.js";
export { Rng } from "./core/rng.js";
export type { RngState } from "./core/rng.js";
export { TwoLayerNet, PARAM_NAMES } from "./model/two-layer-net.js";
export { fastNumericalGradient } from "./model/numerical-gradient.js";
export { NumericalGradientPool } from "./model/numerical-gradient-pool.js";
export type { Params, Grads, ParamName, TwoLayerNetOptions } from "./model/two-layer-net.js";
export { MnistError, UsageError, IdxFormatError, ChecksumError, DownloadError, FileFormatError, WriteError } from "./errors.js";
export { train, defaultEvalEvery } from "./train/trainer.js";
export type { TrainData, TrainListener, TrainOptions, TrainResult, TrainState, IterationEvent, EpochEvent } from "./train/trainer.js";
export { HyperparametersSchema } from "./train/hyperparameters.js";
export type { Hyperparameters, HyperparametersInput, ResolvedHyperparameters } from "./train/hyperparameters.js";
