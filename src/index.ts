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
} from "./book/functions.js";
export type { FloatArray, Labels } from "./book/functions.js";
export { Rng } from "./book/rng.js";
export type { RngState } from "./book/rng.js";
/**
 * The book's TwoLayerNet in plain float64 TypeScript: the reference the engine is tested against,
 * readable and exact, but ≈ 50 ms an iteration of batch 100 (the book's whole run: minutes).
 * To train, use train(), which runs the same math on the WebAssembly engine.
 */
export { TwoLayerNet, PARAM_NAMES } from "./reference/two-layer-net.js";
/** The deeper nets of the beyond-chapter-4 options (float64 reference; train() trains them on the engine). */
export { MultiLayerNet } from "./reference/multi-layer-net.js";
export type { MlpOptions } from "./reference/multi-layer-net.js";
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
// the --layers grammar: text ↔ typed list, with the shapes it implies
export { parseLayerList, checkLayerList, formatLayers, LayerSpecError, SIMPLE_CONVNET_LAYERS, PYTORCH_EXAMPLE_LAYERS, DEEP_CONVNET_LAYERS } from "./reference/layer-spec.js";
export { fastNumericalGradient } from "./reference/numerical-gradient.js";
export { NumericalGradientPool } from "./engine/numerical-gradient-pool.js";
export type { Params, Grads, ParamName, TwoLayerNetOptions } from "./reference/two-layer-net.js";
export { MnistError, UsageError, IdxFormatError, ChecksumError, DownloadError, FileFormatError, WriteError } from "./errors.js";
export { train } from "./train/library-train.js";
export type { TrainInput, TrainOptions, TrainOutcome } from "./train/library-train.js";
export { defaultEvalEvery } from "./train/trainer.js";
export type { TrainData, TrainListener, TrainResult, TrainState, IterationEvent, EpochEvent } from "./train/trainer.js";
export { loadModel, saveModel } from "./run/model-file.js";
export type { Net } from "./run/model-file.js";
export { HyperparametersSchema } from "./train/hyperparameters.js";
export type { Hyperparameters, HyperparametersInput, ResolvedHyperparameters } from "./train/hyperparameters.js";
