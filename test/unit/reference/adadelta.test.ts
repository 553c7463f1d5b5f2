// Adadelta (torch.optim.Adadelta's formulation) against a hand computation, a NumPy sequence and
// PyTorch's own sequence (test/fixtures/reference-layers.py), and StepLR's per-epoch rates; the
// Optimizer's "adadelta" (what the trainer runs) against adadeltaUpdate, bit for bit.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { adadeltaSlots, adadeltaUpdate, stepLr } from "../../../src/reference/adadelta.js";
import { ADADELTA_EPS, Optimizer, slotCount, type OptimizerConfig } from "../../../src/reference/optimizers.js";
import { scheduledLr } from "../../../src/train/schedule.js";

const fixture = JSON.parse(readFileSync(new URL("../../fixtures/reference-layers.json", import.meta.url), "utf8"));

describe("adadeltaUpdate", () => {
  it("two steps by hand: p = 1, g = 1 then −0.5, defaults lr 1, ρ 0.9, ε 1e−6", () => {
    const p = new Float64Array([1]);
    const slots = adadeltaSlots(1);
    adadeltaUpdate(p, [1], slots);
    // square_avg = 0.1; delta = √1e−6 / √0.100001 = 0.00316226184889866…; acc_delta = 0.1·delta² = 1e−7/0.100001
    expect(slots.squareAvg[0]).toBeCloseTo(0.1, 16);
    expect(p[0]).toBeCloseTo(1 - 0.003162261848898663, 15);
    expect(slots.accDelta[0]).toBeCloseTo(1e-7 / 0.100001, 18);
    adadeltaUpdate(p, [-0.5], slots);
    // square_avg = 0.09 + 0.025 = 0.115; delta = −0.5·√(1e−7/0.100001 + 1e−6) / √0.115001
    expect(slots.squareAvg[0]).toBeCloseTo(0.115, 15);
    expect(p[0]).toBeCloseTo(0.998922868013095, 15);
  });

  it("six steps at lr 0.5 follow NumPy and torch.optim.Adadelta", () => {
    const a = fixture.adadelta;
    const p = Float64Array.from(a.p0);
    const slots = adadeltaSlots(p.length);
    a.grads.forEach((g: number[], step: number) => {
      adadeltaUpdate(p, g, slots, { lr: a.lr });
      for (let i = 0; i < p.length; i++) {
        expect(p[i]).toBeCloseTo(a.numpy[step][i], 14);
        expect(p[i]).toBeCloseTo(a.torch[step][i], 14);
      }
    });
    expect(Array.from(p)).not.toEqual(a.p0);
  });

  it("weight decay adds weight_decay·p to the gradient, as PyTorch", () => {
    const p = new Float64Array([2]);
    const q = new Float64Array([2]);
    adadeltaUpdate(p, [0.3], adadeltaSlots(1), { weightDecay: 0.1 });
    adadeltaUpdate(q, [0.3 + 0.1 * 2], adadeltaSlots(1));
    expect(p[0]).toBe(q[0]);
  });
});

describe("StepLR(step_size=1, gamma=0.7), the PyTorch example's schedule", () => {
  const lrs: number[] = fixture.stepLr.lrPerEpoch;

  it("stepLr gives PyTorch's rate for each of the 14 epochs", () => {
    expect(lrs).toHaveLength(14);
    lrs.forEach((lr, epoch) => expect(stepLr(1.0, epoch, 0.7, 1)).toBeCloseTo(lr, 15));
  });

  it("the existing step schedule (lrStepEpochs 1, lrGamma 0.7) gives the same rate on every update of each epoch", () => {
    const itersPerEpoch = 937;
    for (let epoch = 0; epoch < lrs.length; epoch++)
      for (const i of [epoch * itersPerEpoch, epoch * itersPerEpoch + 500, (epoch + 1) * itersPerEpoch - 1])
        expect(scheduledLr("step", 1.0, i, 14 * itersPerEpoch, 1 * itersPerEpoch, 0.7)).toBeCloseTo(lrs[epoch], 15);
  });
});

/** The same values bit for bit (also telling −0 from 0 and NaNs apart). */
const bits = (a: Float64Array) => Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length));

describe("the Optimizer's adadelta", () => {
  const config = (adadeltaRho: number): OptimizerConfig => ({ optimizer: "adadelta", momentum: 0.9, rmsDecay: 0.99, beta1: 0.9, beta2: 0.999, adadeltaRho });

  it("has two slots (square_avg, acc_delta) and PyTorch's ε", () => {
    expect(slotCount("adadelta")).toBe(2);
    expect(ADADELTA_EPS).toBe(1e-6);
  });

  for (const rho of [0.9, 0.95, 0]) {
    it(`equals adadeltaUpdate bit for bit over 12 steps, two parameters, lr 1.0 then 0.7 (ρ ${rho})`, () => {
      const rng = new Rng(21);
      const sizes = { W: 37, b: 5 };
      const opt = new Optimizer(config(rho), sizes);
      const p = { W: Float64Array.from({ length: 37 }, () => rng.normal()), b: Float64Array.from({ length: 5 }, () => rng.normal() * 0.1) };
      const q = { W: Float64Array.from(p.W), b: Float64Array.from(p.b) };
      const slots = { W: adadeltaSlots(37), b: adadeltaSlots(5) };
      for (let step = 0; step < 12; step++) {
        const lr = step < 6 ? 1.0 : 0.7;
        opt.begin(lr);
        for (const name of ["W", "b"] as const) {
          // gradients of every scale, some exactly 0
          const g = Float64Array.from(p[name], (_, i) => (i % 7 === 3 ? 0 : rng.normal() * 10 ** (rng.int(7) - 4)));
          opt.update(name, p[name], g, lr);
          adadeltaUpdate(q[name], g, slots[name], { lr, rho });
          expect(bits(p[name])).toEqual(bits(q[name]));
          const [squareAvg, accDelta] = opt.slotsOf(name) as Float64Array[];
          expect(bits(squareAvg)).toEqual(bits(slots[name].squareAvg));
          expect(bits(accDelta)).toEqual(bits(slots[name].accDelta));
        }
      }
      const state = opt.getState();
      expect(state.step).toBe(12);
      expect(state.slots.W).toHaveLength(2);
    });
  }

  it("a weight-decayed gradient g + λW is adadeltaUpdate's weight_decay", () => {
    const rng = new Rng(3);
    const opt = new Optimizer(config(0.9), { W: 20 });
    const p = Float64Array.from({ length: 20 }, () => rng.normal());
    const q = Float64Array.from(p);
    const slots = adadeltaSlots(20);
    for (let step = 0; step < 5; step++) {
      const g = Float64Array.from(p, () => rng.normal() * 0.01);
      opt.begin(1.0);
      // the nets add λW to the weights' gradients before the optimizer sees them
      opt.update("W", p, Float64Array.from(g, (v, i) => v + 0.01 * p[i]), 1.0);
      adadeltaUpdate(q, g, slots, { weightDecay: 0.01 });
      expect(bits(p)).toEqual(bits(q));
    }
  });

  it("with --lr-schedule step, --lr-step-epochs 1, --lr-gamma 0.7 each epoch runs at 1.0, 0.7, 0.49, …: PyTorch's StepLR", () => {
    const itersPerEpoch = 4, epochs = 5;
    const rng = new Rng(8);
    const opt = new Optimizer(config(0.9), { W: 9 });
    const p = Float64Array.from({ length: 9 }, () => rng.normal());
    const q = Float64Array.from(p);
    const slots = adadeltaSlots(9);
    const perEpoch: number[][] = Array.from({ length: epochs }, () => []);
    for (let i = 0; i < itersPerEpoch * epochs; i++) {
      const epoch = Math.floor(i / itersPerEpoch);
      // the trainer's rate of iteration i (src/train/trainer.ts), and StepLR's of its epoch
      const lr = scheduledLr("step", 1.0, i, itersPerEpoch * epochs, 1 * itersPerEpoch, 0.7);
      expect(lr).toBe(stepLr(1.0, epoch, 0.7, 1));
      perEpoch[epoch].push(lr);
      const g = Float64Array.from(p, () => rng.normal());
      opt.begin(lr);
      opt.update("W", p, g, lr);
      adadeltaUpdate(q, g, slots, { lr: stepLr(1.0, epoch, 0.7, 1) });
    }
    expect(bits(p)).toEqual(bits(q));
    const expected = [1.0, 0.7, 0.49, 0.343, 0.2401];
    perEpoch.forEach((lrs, epoch) => {
      expect(new Set(lrs).size).toBe(1);
      expect(lrs[0]).toBeCloseTo(expected[epoch], 15);
    });
    expect(perEpoch[0][0]).toBe(1.0);
    expect(perEpoch[1][0]).toBe(0.7);
  });
});
