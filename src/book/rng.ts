/**
 * A small, documented, seedable generator so the same `--seed` gives the same weights and the
 * same minibatches on any machine: xoshiro128** (Blackman & Vigna) with its 128-bit state filled
 * by SplitMix32 from the seed. Uniform doubles use 53 random bits; normals use Box-Muller
 * (both values of each pair are used, in order). The state is four uint32 words, exportable so a
 * checkpoint can resume the exact stream.
 */
export class Rng {
  /** xoshiro128** state: 4 × uint32. */
  private s: Uint32Array;
  /** The second normal of the last Box-Muller pair, or NaN when none is pending. */
  private spareNormal = Number.NaN;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer (got ${seed})`);
    this.s = new Uint32Array(4);
    // SplitMix32 over both halves of the seed, so seeds above 2^32 still differ.
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b9);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Next uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection on the top of the uint32 range). */
  int(n: number): number {
    if (!(n >= 1 && n <= 2 ** 32 && Number.isInteger(n))) throw new RangeError(`int(n) needs an integer 1 ≤ n ≤ 2^32 (got ${n})`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let r: number;
    do r = this.nextUint32();
    while (r >= limit);
    return r % n;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = Number.NaN;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.uniform(); // log(0) would be -Infinity
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fill `out` with `std` × standard normals, in index order. */
  fillNormal(out: Float64Array, std = 1): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = std * this.normal();
    return out;
  }

  /** `n` indices drawn uniformly from [0, size) with replacement (np.random.choice(size, n)). */
  choice(size: number, n: number, out: Int32Array = new Int32Array(n)): Int32Array {
    for (let i = 0; i < n; i++) out[i] = this.int(size);
    return out;
  }

  /** The full generator state, for checkpoints. */
  getState(): RngState {
    return { s: Array.from(this.s), spareNormal: Number.isNaN(this.spareNormal) ? null : this.spareNormal };
  }

  /** Restore a state returned by getState(). */
  setState(state: RngState): void {
    if (state.s.length !== 4 || state.s.every((w) => w === 0)) throw new RangeError("invalid RNG state");
    this.s = Uint32Array.from(state.s);
    this.spareNormal = state.spareNormal ?? Number.NaN;
  }
}

export interface RngState {
  s: number[];
  spareNormal: number | null;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
