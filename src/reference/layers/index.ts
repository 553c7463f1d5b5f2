/** The book's layers (ch05–ch07), each with forward and backward side by side. */
export { Affine } from "./affine.js";
export { Relu, Sigmoid, Tanh } from "./activations.js";
export { Dropout } from "./dropout.js";
export { Flatten } from "./flatten.js";
export { Convolution } from "./convolution.js";
export { Pooling } from "./pooling.js";
export { BatchNormalization } from "./batch-normalization.js";
export { SoftmaxWithLoss } from "./softmax-with-loss.js";
export type { Layer, Shape } from "./layer.js";
