// The --layers grammar: parsing into the typed list, shape inference from 1×28×28, and one-line
// errors that name the bad layer.
import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/errors.js";
import {
  checkLayerList,
  DEEP_CONVNET_LAYERS,
  formatLayers,
  LayerSpecError,
  layersFromHiddenSizes,
  parseLayerList,
  PYTORCH_EXAMPLE_LAYERS,
  SIMPLE_CONVNET_LAYERS,
} from "../../../src/reference/layer-spec.js";

function errorOf(f: () => unknown): LayerSpecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LayerSpecError);
    return e as LayerSpecError;
  }
  throw new Error("no error thrown");
}

describe("parseLayerList", () => {
  it("reads the PyTorch example's net into typed layers with its shapes (9216 = 64×12×12 into the affine)", () => {
    const { layers, shapes } = parseLayerList(PYTORCH_EXAMPLE_LAYERS);
    expect(layers).toEqual([
      { type: "conv", filters: 32, kernel: [3, 3], stride: 1, pad: 0 },
      { type: "relu" },
      { type: "conv", filters: 64, kernel: [3, 3], stride: 1, pad: 0 },
      { type: "relu" },
      { type: "maxpool", kernel: [2, 2], stride: 2, pad: 0 },
      { type: "dropout", ratio: 0.25 },
      { type: "flatten" },
      { type: "affine", units: 128 },
      { type: "relu" },
      { type: "dropout", ratio: 0.5 },
      { type: "affine", units: 10 },
    ]);
    expect(shapes).toEqual([[32, 26, 26], [32, 26, 26], [64, 24, 24], [64, 24, 24], [64, 12, 12], [64, 12, 12], [9216], [128], [128], [128], [10]]);
  });

  it("the book's SimpleConvNet: 30×24×24 after the conv, 30×12×12 after the pool (its 4320)", () => {
    const { shapes } = parseLayerList(SIMPLE_CONVNET_LAYERS);
    expect(shapes.slice(0, 3)).toEqual([[30, 24, 24], [30, 24, 24], [30, 12, 12]]);
  });

  it("the book's DeepConvNet: 16×16 after the p2 conv, 64×4×4 into the affine", () => {
    const { shapes } = parseLayerList(DEEP_CONVNET_LAYERS);
    expect(shapes[6]).toEqual([32, 14, 14]);
    expect(shapes[8]).toEqual([32, 16, 16]);
    expect(shapes[14]).toEqual([64, 4, 4]);
    expect(shapes.at(-1)).toEqual([10]);
  });

  it("stride, padding, non-square windows, a bare window size, spacing and case", () => {
    const { layers, shapes } = parseLayerList("  CONV 8 5x3 s2 p1 ,Relu,maxpool 3 s1, batchnorm, tanh, sigmoid, affine 10");
    expect(layers[0]).toEqual({ type: "conv", filters: 8, kernel: [5, 3], stride: 2, pad: 1 });
    expect(layers[2]).toEqual({ type: "maxpool", kernel: [3, 3], stride: 1, pad: 0 });
    // (28 + 2 − 5)/2 + 1 = 13 rows, (28 + 2 − 3)/2 + 1 = 14 columns; then a 3×3 window at stride 1.
    expect(shapes[0]).toEqual([8, 13, 14]);
    expect(shapes[2]).toEqual([8, 11, 12]);
  });

  it("formatLayers writes what parseLayerList reads back to the same list", () => {
    for (const text of [PYTORCH_EXAMPLE_LAYERS, SIMPLE_CONVNET_LAYERS, DEEP_CONVNET_LAYERS, "conv 8 5x3 s2 p1, maxpool 3x2 s1 p1, affine 10"]) {
      const { layers } = parseLayerList(text);
      expect(parseLayerList(formatLayers(layers)).layers).toEqual(layers);
    }
    expect(formatLayers(parseLayerList(SIMPLE_CONVNET_LAYERS).layers)).toBe("conv 30 5x5, relu, maxpool 2x2, affine 100, relu, affine 10");
  });

  it.each([
    ["conv 32 3x3, conv 64 30x30, affine 10", 2, 'layer 2 "conv 64 30x30": the 30×30 window is larger than its 26×26 input'],
    ["conv 8 29x3 p0, affine 10", 1, 'layer 1 "conv 8 29x3 p0": the 29×3 window is larger than its 28×28 input'],
    ["maxpool 2, maxpool 2, maxpool 2, maxpool 4, affine 10", 4, 'layer 4 "maxpool 4": the 4×4 window is larger than its 3×3 input'],
    ["conv 0 3x3, affine 10", 1, 'layer 1 "conv 0 3x3": the filter count must be a positive whole number (got 0)'],
    ["affine -5, affine 10", 1, 'layer 1 "affine -5": the size must be a positive whole number (got -5)'],
    ["conv 4 3x3 s0, affine 10", 1, 'layer 1 "conv 4 3x3 s0": the stride must be a positive whole number (got 0)'],
    ["conv 4 2.5, affine 10", 1, 'layer 1 "conv 4 2.5": the window size must be a whole number (got 2.5)'],
    ["affine 100, softmax, affine 10", 2, 'layer 2 "softmax": unknown layer "softmax" (known: conv, maxpool, affine, dropout, relu, sigmoid, tanh, batchnorm, flatten)'],
    ["affine 100, relu, affine 12", 3, 'layer 3 "affine 12": gives 12 values per image, not the 10 class scores the net must end with (end with "affine 10")'],
    ["conv 10 28x28", 1, 'layer 1 "conv 10 28x28": gives 10×1×1 values per image, not the 10 class scores the net must end with (end with "affine 10")'],
    ["affine 10, conv 4 3x3", 2, 'layer 2 "conv 4 3x3": conv needs an image input [C, H, W], but its input is 10 (after an affine or flatten)'],
    ["dropout 1, affine 10", 1, 'layer 1 "dropout 1": the ratio must be less than 1 (got 1)'],
    ["affine 10, , relu", 2, 'layer 2 "": empty layer (two commas in a row, or a comma at an end)'],
    ["relu 3, affine 10", 1, 'layer 1 "relu 3": relu takes no arguments'],
    ["conv 4 3x3 q2, affine 10", 1, 'layer 1 "conv 4 3x3 q2": unexpected "q2" (stride and padding are written s2, p1)'],
    ["affine ten", 1, 'layer 1 "affine ten": the size must be a number (got "ten")'],
  ])("%j → one line naming layer %i", (text, position, message) => {
    const e = errorOf(() => parseLayerList(text));
    expect(e.message).toBe(message);
    expect(e.message).not.toContain("\n");
    expect(e.position).toBe(position);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
  });

  it("a list that never changes the shape blames no single layer", () => {
    const e = errorOf(() => parseLayerList("relu, dropout 0.5"));
    expect(e.message).toBe("the layer list gives 1×28×28 values per image, not the 10 class scores the net must end with");
    expect(errorOf(() => parseLayerList("  ")).message).toBe("the layer list is empty");
  });
});

describe("checkLayerList (the typed list, as a config file or model.json holds it)", () => {
  it("accepts typed layers and fills the defaults", () => {
    const { layers } = checkLayerList([{ type: "conv", filters: 4, kernel: [3, 3] }, { type: "maxpool", kernel: [2, 2] }, { type: "affine", units: 10 }]);
    expect(layers[0]).toEqual({ type: "conv", filters: 4, kernel: [3, 3], stride: 1, pad: 0 });
    expect(layers[1]).toEqual({ type: "maxpool", kernel: [2, 2], stride: 2, pad: 0 });
  });

  it("names a bad typed layer by position", () => {
    expect(errorOf(() => checkLayerList([{ type: "affine", units: 10, extra: 1 }])).message).toBe('layer 1 "affine": unknown key "extra"');
    expect(errorOf(() => checkLayerList([{ type: "conv", filters: 2 }])).message).toBe('layer 1 "conv": the window size is missing');
    expect(errorOf(() => checkLayerList([{ type: "affine", units: "10" }])).message).toBe('layer 1 "affine": the size must be a number (got "10")');
    expect(errorOf(() => checkLayerList([{ type: "affine", units: 3 }, { type: "pool" }])).message).toMatch(/^layer 2 "pool": the layer type must be one of conv, .* \(got "pool"\)$/);
    expect(errorOf(() => checkLayerList(42)).message).toBe("the layer list must be a string or an array of layers (got 42)");
  });
});

describe("layersFromHiddenSizes (--hidden-size as a shorthand)", () => {
  it("[50], sigmoid is the book's TwoLayerNet: affine 50, sigmoid, affine 10", () => {
    expect(formatLayers(layersFromHiddenSizes([50], "sigmoid"))).toBe("affine 50, sigmoid, affine 10");
    expect(layersFromHiddenSizes([50], "sigmoid")).toEqual(parseLayerList("affine 50, sigmoid, affine 10").layers);
  });

  it("several hidden layers, another activation", () => {
    expect(formatLayers(layersFromHiddenSizes([100, 100], "relu"))).toBe("affine 100, relu, affine 100, relu, affine 10");
  });

  it("refuses a non-positive size like the grammar does", () => {
    expect(errorOf(() => layersFromHiddenSizes([0], "relu")).message).toBe('layer 1 "affine": the size must be a positive whole number (got 0)');
  });
});
