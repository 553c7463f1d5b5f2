/**
 * The book's im2col and col2im (common/util.py, ch07) on flat NCHW float64 arrays.
 *
 * im2col turns every filter window into one row, so a convolution becomes one matrix product:
 *   col [N·OH·OW × C·FH·FW],  col[(n·OH + oh)·OW + ow, (c·FH + fy)·FW + fx] = img[n, c, oh·s + fy − pad, ow·s + fx − pad]
 * with zeros where the window hangs over the padding (np.pad's constant 0). Rows are ordered
 * (n, oh, ow) and columns (c, fy, fx): the book's transpose(0, 4, 5, 1, 2, 3).reshape(N·OH·OW, −1).
 * col2im is its adjoint: every column entry is added back onto the pixel it came from, and what
 * fell on the padding is dropped.
 */
import { outSize } from "./layers/layer.js";

export interface Im2colGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  filterH: number;
  filterW: number;
  stride: number;
  pad: number;
}

export function im2colShape(g: Im2colGeometry): { outH: number; outW: number; rows: number; cols: number } {
  const outH = outSize(g.H, g.filterH, g.stride, g.pad);
  const outW = outSize(g.W, g.filterW, g.stride, g.pad);
  if (outH < 1 || outW < 1) throw new RangeError(`im2col: a ${g.filterH}×${g.filterW} window does not fit a ${g.H}×${g.W} image with pad ${g.pad}`);
  return { outH, outW, rows: g.N * outH * outW, cols: g.C * g.filterH * g.filterW };
}

/** img [N × C × H × W] → col [N·OH·OW × C·FH·FW]. */
export function im2col(img: Float64Array, g: Im2colGeometry): Float64Array {
  const { N, C, H, W, filterH: FH, filterW: FW, stride, pad } = g;
  if (img.length !== N * C * H * W) throw new RangeError(`im2col: ${img.length} values are not ${N}×${C}×${H}×${W}`);
  const { outH: OH, outW: OW, rows, cols } = im2colShape(g);
  const col = new Float64Array(rows * cols);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const row = ((n * OH + oh) * OW + ow) * cols;
        for (let c = 0; c < C; c++)
          for (let fy = 0; fy < FH; fy++) {
            const y = oh * stride + fy - pad;
            if (y < 0 || y >= H) continue; // the padding's zeros: col is already 0
            for (let fx = 0; fx < FW; fx++) {
              const x = ow * stride + fx - pad;
              if (x < 0 || x >= W) continue;
              col[row + (c * FH + fy) * FW + fx] = img[((n * C + c) * H + y) * W + x];
            }
          }
      }
  return col;
}

/** col [N·OH·OW × C·FH·FW] → img [N × C × H × W], summing overlapping windows (the adjoint of im2col). */
export function col2im(col: Float64Array, g: Im2colGeometry): Float64Array {
  const { N, C, H, W, filterH: FH, filterW: FW, stride, pad } = g;
  const { outH: OH, outW: OW, rows, cols } = im2colShape(g);
  if (col.length !== rows * cols) throw new RangeError(`col2im: ${col.length} values are not ${rows}×${cols}`);
  const img = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const row = ((n * OH + oh) * OW + ow) * cols;
        for (let c = 0; c < C; c++)
          for (let fy = 0; fy < FH; fy++) {
            const y = oh * stride + fy - pad;
            if (y < 0 || y >= H) continue;
            for (let fx = 0; fx < FW; fx++) {
              const x = ow * stride + fx - pad;
              if (x < 0 || x >= W) continue;
              img[((n * C + c) * H + y) * W + x] += col[row + (c * FH + fy) * FW + fx];
            }
          }
      }
  return img;
}
