/**
 * The book's optimizers (ch06, common/optimizer.py) with its formulas and default constants, and
 * PyTorch's Adadelta (torch.optim.Adadelta, the optimizer of pytorch/examples mnist/main.py), on
 * flat parameter arrays (float64 or float32) keyed by name. Per-parameter state lives in "slots"
 * (velocity, squared-gradient sums, Adam moments, Adadelta's averages) that a checkpoint saves and
 * restores exactly.
 *   sgd       p −= lr g
 *   momentum  v = μ v − lr g;  p += v                                          (μ = 0.9)
 *   nesterov  v = μ v − lr g;  p += μ μ v − (1 + μ) lr g                          (μ = 0.9)
 *   adagrad   h += g²;  p −= lr g / (√h + 1e−7)
 *   rmsprop   h = ρ h + (1 − ρ) g²;  p −= lr g / (√h + 1e−7)                     (ρ = 0.99)
 *   adam      k += 1; lr_t = lr √(1 − β2ᵏ) / (1 − β1ᵏ); m += (1 − β1)(g − m); v += (1 − β2)(g² − v);
 *             p −= lr_t m / (√v + 1e−7)                                          (β1 = 0.9, β2 = 0.999)
 *   adadelta  s = ρ s + (1 − ρ) g²;  Δ = √(a + ε) / √(s + ε) · g;  a = ρ a + (1 − ρ) Δ²;  p −= lr Δ
 *             (ρ = 0.9, ε = 1e−6: PyTorch's defaults; the operations of adadeltaUpdate in ./adadelta.ts)
 * Weight decay is not the optimizers' business: the nets add λW to the weights' g first, which is
 * PyTorch's weight_decay for Adadelta (on the weights only: PyTorch's would decay the biases too).
 */
import { ADADELTA_DEFAULTS } from "./adadelta.js";

export const OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adadelta"] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface OptimizerConfig {
  optimizer: OptimizerName;
  momentum: number;
  rmsDecay: number;
  beta1: number;
  beta2: number;
  /** Adadelta's ρ, the decay of both running averages (PyTorch's 0.9). */
  adadeltaRho: number;
}

/** Checkpointable state: the step count and each parameter's slots (float64 copies). */
export interface OptimizerState {
  step: number;
  slots: Record<string, Float64Array[]>;
}

type FArray = Float32Array | Float64Array;
const EPS = 1e-7;
/** Adadelta's ε (PyTorch's default; not the book's 1e−7, and inside the square roots). */
export const ADADELTA_EPS = ADADELTA_DEFAULTS.eps;

export function slotCount(name: OptimizerName): number {
  return name === "sgd" ? 0 : name === "adam" || name === "adadelta" ? 2 : 1;
}

export class Optimizer {
  readonly config: OptimizerConfig;
  /** Updates begun (Adam's k). */
  step = 0;
  private readonly slots: Record<string, FArray[]> = {};
  private lrT = 0;

  /** `sizes`: the length of each parameter array; slots are made in the parameters' float type. */
  constructor(config: OptimizerConfig, sizes: Record<string, number>, float: "float32" | "float64" = "float64") {
    this.config = config;
    const F = float === "float32" ? Float32Array : Float64Array;
    for (const [name, n] of Object.entries(sizes)) this.slots[name] = Array.from({ length: slotCount(config.optimizer) }, () => new F(n));
  }

  /** Start one update of every parameter with learning rate lr (call before update()). */
  begin(lr: number): void {
    this.step++;
    const { beta1, beta2 } = this.config;
    this.lrT = lr * Math.sqrt(1 - beta2 ** this.step) / (1 - beta1 ** this.step);
  }

  /** p ← update(p, g) for parameter `name`, over indices [0, n) (default: all). */
  update(name: string, p: FArray, g: FArray, lr: number, n = p.length): void {
    const c = this.config;
    const s = this.slots[name];
    switch (c.optimizer) {
      case "sgd":
        for (let i = 0; i < n; i++) p[i] -= lr * g[i];
        break;
      case "momentum": {
        const v = s[0], mu = c.momentum;
        for (let i = 0; i < n; i++) {
          v[i] = mu * v[i] - lr * g[i];
          p[i] += v[i];
        }
        break;
      }
      case "nesterov": {
        const v = s[0], mu = c.momentum;
        for (let i = 0; i < n; i++) {
          v[i] *= mu;
          v[i] -= lr * g[i];
          p[i] += mu * mu * v[i];
          p[i] -= (1 + mu) * lr * g[i];
        }
        break;
      }
      case "adagrad": {
        const h = s[0];
        for (let i = 0; i < n; i++) {
          h[i] += g[i] * g[i];
          p[i] -= (lr * g[i]) / (Math.sqrt(h[i]) + EPS);
        }
        break;
      }
      case "rmsprop": {
        const h = s[0], rho = c.rmsDecay;
        for (let i = 0; i < n; i++) {
          h[i] *= rho;
          h[i] += (1 - rho) * g[i] * g[i];
          p[i] -= (lr * g[i]) / (Math.sqrt(h[i]) + EPS);
        }
        break;
      }
      case "adam": {
        const m = s[0], v = s[1], b1 = 1 - c.beta1, b2 = 1 - c.beta2, lrT = this.lrT;
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          m[i] += b1 * (gi - m[i]);
          v[i] += b2 * (gi * gi - v[i]);
          p[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + EPS);
        }
        break;
      }
      case "adadelta": {
        // s[0]: square_avg, s[1]: acc_delta; the operations of adadeltaUpdate, in its order
        const sq = s[0], acc = s[1], rho = c.adadeltaRho, omr = 1 - rho;
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          sq[i] = rho * sq[i] + omr * gi * gi;
          const delta = (Math.sqrt(acc[i] + ADADELTA_EPS) / Math.sqrt(sq[i] + ADADELTA_EPS)) * gi;
          acc[i] = rho * acc[i] + omr * delta * delta;
          p[i] -= lr * delta;
        }
        break;
      }
    }
  }

  /** The slots of parameter `name` (live arrays, for layouts that need converting). */
  slotsOf(name: string): FArray[] {
    return this.slots[name];
  }

  getState(): OptimizerState {
    const slots: Record<string, Float64Array[]> = {};
    for (const [name, s] of Object.entries(this.slots)) slots[name] = s.map((a) => Float64Array.from(a));
    return { step: this.step, slots };
  }

  setState(state: OptimizerState): void {
    for (const [name, s] of Object.entries(this.slots)) {
      const saved = state.slots[name];
      if (!saved || saved.length !== s.length || saved.some((a, k) => a.length !== s[k].length)) {
        throw new RangeError(`optimizer state: the slots of ${name} do not match this ${this.config.optimizer} optimizer`);
      }
      s.forEach((a, k) => a.set(saved[k]));
    }
    this.step = state.step;
  }
}
