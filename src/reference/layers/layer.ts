/**
 * The common shape of the reference layers (the book's ch05–ch07 layer objects): forward keeps
 * what backward needs, backward returns the input's gradient and fills `grads`. Arrays are flat
 * float64 in row-major order; a shape always starts with the batch size N: [N, C, H, W] for
 * images (NCHW, as the book), [N, D] for rows.
 */
export type Shape = readonly number[];

export interface Layer {
  /** The layer's kind, as the layer list names it ("conv", "relu", …). */
  readonly kind: string;
  /** Learned parameters by the book's short names (W, b, gamma, beta); empty for most layers. */
  readonly params: Record<string, Float64Array>;
  /** Gradients of the loss with respect to `params`, same names and lengths, set by backward. */
  readonly grads: Record<string, Float64Array>;
  /** Saved but not learned (batch norm's running mean and variance); empty for most layers. */
  readonly state: Record<string, Float64Array>;
  /** `train` switches dropout and batch norm between their training and inference behaviour. */
  forward(x: Float64Array, shape: Shape, train: boolean): { y: Float64Array; shape: Shape };
  /** dL/dx from dL/dy for the last forward's input (same length as that input). */
  backward(dy: Float64Array): Float64Array;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(kind: string, x: Float64Array, shape: Shape): void {
  if (shape.length < 2) throw new RangeError(`${kind}: shape [${shape.join(", ")}] needs a batch size and at least one more axis`);
  for (const d of shape) if (!Number.isInteger(d) || d < 1) throw new RangeError(`${kind}: shape [${shape.join(", ")}] has a non-positive size`);
  if (x.length !== sizeOf(shape)) throw new RangeError(`${kind}: ${x.length} values do not make shape [${shape.join(", ")}]`);
}

/** Output side of a window of `k` sliding with `stride` over `size` + 2·pad: the book's formula. */
export function outSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}
