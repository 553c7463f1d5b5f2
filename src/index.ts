/**
 * mnist-ts public library API (docs/library.md). To train: `train(await loadMnistRaw(), { iters: 2000 })`,
 * on the same fast kernels as mnist-train; `saveModel` writes a model.json the commands read.
 */
export { loadMnist, loadMnistRaw, normalizePixels, oneHot, PIXEL_SCALE } from "./data/mnist.js";
export type { DataSource, LoadMnistOptions, MnistArrays, MnistData, MnistImagesFor, MnistLabelsFor, MnistRaw, MnistSplit, SourceOptions } from "./data/mnist.js";
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
/**
 * The book's TwoLayerNet in plain float64 TypeScript: the reference every fast kernel is tested
 * against, readable and exact, but ≈ 50 ms an iteration of batch 100 (the book's whole run: minutes).
 * To train, use train(), which runs the same math on the WebAssembly kernels.
 */
export { TwoLayerNet, PARAM_NAMES } from "./model/two-layer-net.js";
/** The deeper nets of the beyond-chapter-4 options (float64 reference; train() trains them fast). */
export { Mlp } from "./model/mlp.js";
export type { MlpOptions } from "./model/mlp.js";
export { fastNumericalGradient } from "./model/numerical-gradient.js";
export { NumericalGradientPool } from "./model/numerical-gradient-pool.js";
export type { Params, Grads, ParamName, TwoLayerNetOptions } from "./model/two-layer-net.js";
export { MnistError, UsageError, IdxFormatError, ChecksumError, DownloadError, FileFormatError } from "./errors.js";
export { train } from "./train/library-train.js";
export type { TrainInput, TrainOptions, TrainOutcome } from "./train/library-train.js";
export { defaultEvalEvery } from "./train/trainer.js";
export type { TrainData, TrainListener, TrainResult, TrainState, IterationEvent, EpochEvent } from "./train/trainer.js";
export { loadModel, saveModel } from "./io/model-file.js";
export type { Net } from "./io/model-file.js";
export { HyperparametersSchema } from "./train/hyperparameters.js";
export type { Hyperparameters, HyperparametersInput, ResolvedHyperparameters } from "./train/hyperparameters.js";
