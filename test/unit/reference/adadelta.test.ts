// Adadelta (torch.optim.Adadelta's formulation) against a hand computation, a NumPy sequence and
// PyTorch's own sequence (test/fixtures/reference-layers.py), and StepLR's per-epoch rates.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { adadeltaSlots, adadeltaUpdate, stepLr } from "../../../src/reference/adadelta.js";
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
