import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";

describe("Rng (xoshiro128** seeded by SplitMix32)", () => {
  it("matches xoshiro128** worked by hand from the state (1, 2, 3, 4)", () => {
    const r = new Rng(0);
    r.setState({ s: [1, 2, 3, 4], spareNormal: null });
    // rotl(s1·5, 7)·9 with s1 = 2, then 0, then 5145 → rotl 7 → ·9
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([11520, 0, 5927040]);
  });

  it("matches an independent Python implementation of the documented seeding", () => {
    const r0 = new Rng(0);
    expect(Array.from({ length: 5 }, () => r0.nextUint32())).toEqual([3809008728, 1133695204, 53579671, 2891528803, 139681546]);
    const r42 = new Rng(42);
    expect(Array.from({ length: 5 }, () => r42.nextUint32())).toEqual([2837322924, 544945897, 479756282, 3500138142, 339756180]);
  });

  it("same seed, same stream; state round-trips mid-stream (including a pending normal)", () => {
    const a = new Rng(7);
    const b = new Rng(7);
    a.normal();
    b.normal();
    const state = a.getState();
    expect(state.spareNormal).not.toBeNull();
    const c = new Rng(999);
    c.setState(JSON.parse(JSON.stringify(state)));
    const seqA = [a.normal(), a.uniform(), a.int(60000)];
    expect([b.normal(), b.uniform(), b.int(60000)]).toEqual(seqA);
    expect([c.normal(), c.uniform(), c.int(60000)]).toEqual(seqA);
    expect(new Rng(8).uniform()).not.toBe(new Rng(7).uniform());
  });

  it("uniform, int and normal have the right ranges and moments", () => {
    const r = new Rng(3);
    const n = 200_000;
    let sum = 0, sumSq = 0;
    const counts = new Array(10).fill(0);
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      sum += z;
      sumSq += z * z;
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      counts[r.int(10)]++;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.01); // 4.5 standard errors
    expect(Math.abs(sumSq / n - 1)).toBeLessThan(0.015);
    for (const c of counts) expect(Math.abs(c - n / 10)).toBeLessThan(700); // ≈ 5 sd
  });

  it("rejects bad seeds and states", () => {
    expect(() => new Rng(-1)).toThrow(RangeError);
    expect(() => new Rng(1.5)).toThrow(RangeError);
    expect(() => new Rng(0).setState({ s: [0, 0, 0, 0], spareNormal: null })).toThrow(RangeError);
    expect(() => new Rng(0).int(0)).toThrow(RangeError);
  });
});
