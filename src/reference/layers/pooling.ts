/**
 * The book's max Pooling layer (ch07, common/layers.py) by im2col: each channel's windows
 * become rows of pool_h·pool_w values, the output is each row's maximum.
 *   forward:  col [N·OH·OW·C × PH·PW] = im2col(x).reshape(−1, PH·PW);  argMax = argmax per row (first on ties);
 *             y = max per row, reshape(N, OH, OW, C).transpose(0, 3, 1, 2) → [N × C × OH × OW]
 *   backward: each dy goes to its window's argMax position (dmax), then col2im sums overlapping windows.
 * Padding is the book's: zeros (np.pad), which take part in the maximum; PyTorch's max_pool2d pads
 * with −∞ instead, so the two agree only without padding or on non-negative inputs.
 */
import { argmaxRows } from "../../book/matrix.js";
import { col2im, im2col, type Im2colGeometry, im2colShape } from "../im2col.js";
import { checkShape, type Layer, type Shape } from "./layer.js";

export class Pooling implements Layer {
  readonly kind = "maxpool";
  readonly params = {};
  readonly grads = {};
  readonly state = {};
  readonly poolH: number;
  readonly poolW: number;
  readonly stride: number;
  readonly pad: number;
  private geometry?: Im2colGeometry;
  private argMax?: Int32Array;

  /** The book's defaults: stride 1, pad 0 (its nets use Pooling(2, 2, stride=2)). */
  constructor(poolH: number, poolW: number, stride = 1, pad = 0) {
    for (const [name, v, min] of [["pool_h", poolH, 1], ["pool_w", poolW, 1], ["stride", stride, 1], ["pad", pad, 0]] as const)
      if (!(Number.isInteger(v) && v >= min)) throw new RangeError(`Pooling: ${name} must be a whole number ≥ ${min} (got ${v})`);
    this.poolH = poolH;
    this.poolW = poolW;
    this.stride = stride;
    this.pad = pad;
  }

  forward(x: Float64Array, shape: Shape): { y: Float64Array; shape: Shape } {
    checkShape("Pooling", x, shape);
    if (shape.length !== 4) throw new RangeError(`Pooling: input [${shape.join(", ")}] is not [N, C, H, W]`);
    const [N, C, H, W] = shape;
    const g: Im2colGeometry = { N, C, H, W, filterH: this.poolH, filterW: this.poolW, stride: this.stride, pad: this.pad };
    const { outH: OH, outW: OW } = im2colShape(g);
    const k = this.poolH * this.poolW;
    // im2col's row (n, oh, ow) holds C blocks of k values, so reading it as rows of k gives (n, oh, ow, c).
    const col = im2col(x, g);
    const rows = N * OH * OW * C;
    const argMax = argmaxRows(col, rows, k);
    const y = new Float64Array(N * C * OH * OW);
    for (let n = 0; n < N; n++)
      for (let p = 0; p < OH * OW; p++)
        for (let c = 0; c < C; c++) {
          const r = (n * OH * OW + p) * C + c;
          y[(n * C + c) * OH * OW + p] = col[r * k + argMax[r]];
        }
    this.geometry = g;
    this.argMax = argMax;
    return { y, shape: [N, C, OH, OW] };
  }

  backward(dy: Float64Array): Float64Array {
    const g = this.geometry;
    const argMax = this.argMax;
    if (!g || !argMax) throw new Error("Pooling: backward before forward");
    const { outH: OH, outW: OW } = im2colShape(g);
    const { N, C } = g;
    if (dy.length !== N * C * OH * OW) throw new RangeError(`Pooling: dy has ${dy.length} values, not ${N}×${C}×${OH}×${OW}`);
    const k = this.poolH * this.poolW;
    // dmax [N·OH·OW·C × k]: zero but at each row's argMax, which receives dy.transpose(0, 2, 3, 1)
    const dmax = new Float64Array(N * OH * OW * C * k);
    for (let n = 0; n < N; n++)
      for (let p = 0; p < OH * OW; p++)
        for (let c = 0; c < C; c++) {
          const r = (n * OH * OW + p) * C + c;
          dmax[r * k + argMax[r]] = dy[(n * C + c) * OH * OW + p];
        }
    return col2im(dmax, g);
  }
}
