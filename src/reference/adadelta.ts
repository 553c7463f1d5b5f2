/**
 * Adadelta as PyTorch's torch.optim.Adadelta computes it (the optimizer of pytorch/examples
 * mnist/main.py), in float64 for one flat parameter array; lr 1.0, ρ 0.9, ε 1e−6 by default:
 *   g ← g + weight_decay·p                       (when weight_decay ≠ 0)
 *   square_avg ← ρ·square_avg + (1 − ρ)·g²
 *   delta = √(acc_delta + ε) / √(square_avg + ε) · g
 *   acc_delta ← ρ·acc_delta + (1 − ρ)·delta²
 *   p ← p − lr·delta
 * Both slots start at 0. Unlike Zeiler's paper, PyTorch scales the step by lr (1.0 leaves it as
 * the paper's), which is what lets a StepLR schedule act on Adadelta.
 *
 * The example's schedule is StepLR(step_size=1, gamma=0.7) with scheduler.step() after each
 * epoch: every update of epoch e (0-based) uses lr·γ^⌊e / step_size⌋, i.e. 1.0, 0.7, 0.49, …
 * This project's step schedule (scheduledLr "step", lrStepEpochs 1, lrGamma 0.7) gives the same
 * per-epoch values when one epoch is the same number of updates; PyTorch's epoch is
 * ⌈60000/64⌉ = 938 batches (its last one holds 32 images), where ⌊60000/64⌋ = 937 here.
 */

export interface AdadeltaConfig {
  lr: number;
  rho: number;
  eps: number;
  weightDecay: number;
}

export const ADADELTA_DEFAULTS: AdadeltaConfig = { lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0 };

/** The per-parameter slots: running averages of g² and of delta². */
export interface AdadeltaSlots {
  squareAvg: Float64Array;
  accDelta: Float64Array;
}

export function adadeltaSlots(n: number): AdadeltaSlots {
  return { squareAvg: new Float64Array(n), accDelta: new Float64Array(n) };
}

/** One update of `p` in place from its gradient `g`; `slots` carry over between updates. */
export function adadeltaUpdate(p: Float64Array, g: ArrayLike<number>, slots: AdadeltaSlots, config: Partial<AdadeltaConfig> = {}): void {
  const { lr, rho, eps, weightDecay } = { ...ADADELTA_DEFAULTS, ...config };
  const { squareAvg, accDelta } = slots;
  if (g.length !== p.length || squareAvg.length !== p.length || accDelta.length !== p.length)
    throw new RangeError(`adadeltaUpdate: p has ${p.length} values, g ${g.length}, slots ${squareAvg.length} and ${accDelta.length}`);
  for (let i = 0; i < p.length; i++) {
    const grad = weightDecay !== 0 ? g[i] + weightDecay * p[i] : g[i];
    squareAvg[i] = rho * squareAvg[i] + (1 - rho) * grad * grad;
    const delta = (Math.sqrt(accDelta[i] + eps) / Math.sqrt(squareAvg[i] + eps)) * grad;
    accDelta[i] = rho * accDelta[i] + (1 - rho) * delta * delta;
    p[i] -= lr * delta;
  }
}

/** PyTorch's StepLR: the learning rate of every update in epoch `epoch` (0-based). */
export function stepLr(baseLr: number, epoch: number, gamma = 0.7, stepSize = 1): number {
  return baseLr * gamma ** Math.floor(epoch / stepSize);
}
