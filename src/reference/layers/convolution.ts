/**
 * The book's Convolution layer (ch07, common/layers.py) by im2col: filters W [FN × C × FH × FW],
 * bias b [FN], stride, pad.
 *   forward:  col [N·OH·OW × C·FH·FW] = im2col(x);  out [N·OH·OW × FN] = col · Wᵀ + b,
 *             then reshape(N, OH, OW, FN).transpose(0, 3, 1, 2) → y [N × FN × OH × OW]
 *   backward: dout [N·OH·OW × FN] = dy.transpose(0, 2, 3, 1);  db = Σ_rows dout;
 *             dW [FN × C·FH·FW] = doutᵀ · col;  dcol = dout · W;  dx = col2im(dcol)
 * W is kept as [FN × C·FH·FW] row-major, which is W.reshape(FN, −1) in the book.
 */
import { matmul, matmulTransA, matmulTransB, sumRows } from "../../book/matrix.js";
import { col2im, im2col, type Im2colGeometry, im2colShape } from "../im2col.js";
import { checkShape, type Layer, type Shape } from "./layer.js";

export class Convolution implements Layer {
  readonly kind = "conv";
  readonly params: { W: Float64Array; b: Float64Array };
  readonly grads: { W: Float64Array; b: Float64Array };
  readonly state = {};
  readonly filterNum: number;
  readonly channels: number;
  readonly filterH: number;
  readonly filterW: number;
  readonly stride: number;
  readonly pad: number;
  private geometry?: Im2colGeometry;
  private col?: Float64Array;

  /** `W` [FN × C × FH × FW] and `b` [FN] are used as they are (not copied): the net shares them. */
  constructor(W: Float64Array, b: Float64Array, filterShape: readonly [number, number, number, number], stride = 1, pad = 0) {
    const [FN, C, FH, FW] = filterShape;
    if (W.length !== FN * C * FH * FW) throw new RangeError(`Convolution: W has ${W.length} values, not ${FN}×${C}×${FH}×${FW}`);
    if (b.length !== FN) throw new RangeError(`Convolution: b has ${b.length} values, not ${FN}`);
    if (!(Number.isInteger(stride) && stride >= 1)) throw new RangeError(`Convolution: stride must be a positive whole number (got ${stride})`);
    if (!(Number.isInteger(pad) && pad >= 0)) throw new RangeError(`Convolution: pad must be a whole number ≥ 0 (got ${pad})`);
    this.filterNum = FN;
    this.channels = C;
    this.filterH = FH;
    this.filterW = FW;
    this.stride = stride;
    this.pad = pad;
    this.params = { W, b };
    this.grads = { W: new Float64Array(W.length), b: new Float64Array(FN) };
  }

  forward(x: Float64Array, shape: Shape): { y: Float64Array; shape: Shape } {
    checkShape("Convolution", x, shape);
    if (shape.length !== 4 || shape[1] !== this.channels) throw new RangeError(`Convolution: input [${shape.join(", ")}] is not [N, ${this.channels}, H, W]`);
    const [N, C, H, W] = shape;
    const FN = this.filterNum;
    const g: Im2colGeometry = { N, C, H, W, filterH: this.filterH, filterW: this.filterW, stride: this.stride, pad: this.pad };
    const { outH: OH, outW: OW, rows, cols } = im2colShape(g);
    const col = im2col(x, g);
    // out [N·OH·OW × FN] = col [rows × cols] · Wᵀ, W being [FN × cols]
    const out = matmulTransB(col, this.params.W, rows, cols, FN, new Float64Array(rows * FN));
    const y = new Float64Array(N * FN * OH * OW);
    for (let n = 0; n < N; n++)
      for (let p = 0; p < OH * OW; p++)
        for (let f = 0; f < FN; f++) y[(n * FN + f) * OH * OW + p] = out[(n * OH * OW + p) * FN + f] + this.params.b[f];
    this.geometry = g;
    this.col = col;
    return { y, shape: [N, FN, OH, OW] };
  }

  backward(dy: Float64Array): Float64Array {
    const g = this.geometry;
    const col = this.col;
    if (!g || !col) throw new Error("Convolution: backward before forward");
    const { outH: OH, outW: OW, rows, cols } = im2colShape(g);
    const FN = this.filterNum;
    if (dy.length !== g.N * FN * OH * OW) throw new RangeError(`Convolution: dy has ${dy.length} values, not ${g.N}×${FN}×${OH}×${OW}`);
    // dout [N·OH·OW × FN] = dy.transpose(0, 2, 3, 1)
    const dout = new Float64Array(rows * FN);
    for (let n = 0; n < g.N; n++)
      for (let f = 0; f < FN; f++)
        for (let p = 0; p < OH * OW; p++) dout[(n * OH * OW + p) * FN + f] = dy[(n * FN + f) * OH * OW + p];
    sumRows(dout, rows, FN, this.grads.b);
    matmulTransA(dout, col, rows, FN, cols, this.grads.W); // dW [FN × cols] = doutᵀ · col
    const dcol = matmul(dout, this.params.W, rows, FN, cols, new Float64Array(rows * cols));
    return col2im(dcol, g);
  }
}
