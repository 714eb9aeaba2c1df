/**
 * Conv (2-D, groups = 1) and ConvTranspose, with the backward pass written as convolutions.
 *
 * Conv is linear in each input, so both of its gradients are again convolutions (JAX's
 * convolution.py does the same): the input gradient is the transposed convolution of dY with the
 * same kernel, the weight gradient is a convolution of the input with dY as the kernel.
 */
import { OpDef, ShapeError, Value } from '../graph/ir';
import { emitOne, expectArity, expectFloat, ints, typed } from './util';
import { slice, transpose } from './shape';

/** Geometry of a 2-D convolution, with ONNX's pad order [top, left, bottom, right]. */
export interface ConvGeometry {
  strides: [number, number];
  pads: [number, number, number, number];
}

/** Output extent of one spatial axis: floor((in + padBegin + padEnd − k) / s) + 1. */
export function convOutputSize(input: number, kernel: number, stride: number, padBegin: number, padEnd: number): number {
  return Math.floor((input + padBegin + padEnd - kernel) / stride) + 1;
}

/**
 * The output_padding that makes ConvTranspose(dY) recover the input extent.
 * ConvTranspose produces s·(out − 1) + k − padBegin − padEnd (+ output_padding) elements; the
 * forward conv's floor division dropped (in + padBegin + padEnd − k) mod s trailing elements, and
 * output_padding adds exactly those back (they received no contribution, so their gradient is 0).
 */
export function convTransposeOutputPadding(input: number, kernel: number, stride: number, padBegin: number, padEnd: number): number {
  const out = convOutputSize(input, kernel, stride, padBegin, padEnd);
  return input - (stride * (out - 1) + kernel - padBegin - padEnd);
}

/**
 * Extent of the weight-gradient convolution on one axis. Convolving the padded input with dY
 * dilated by the stride yields in + padBegin + padEnd − s·(out − 1) positions; the first `kernel`
 * of them are the kernel's taps, the rest (at most s − 1) come from dropped trailing input.
 */
export function weightGradExtent(input: number, kernel: number, stride: number, padBegin: number, padEnd: number): number {
  const out = convOutputSize(input, kernel, stride, padBegin, padEnd);
  return input + padBegin + padEnd - stride * (out - 1);
}

function geometry(attrs: Record<string, unknown>): ConvGeometry {
  const s = ints(attrs as never, 'strides', [1, 1]);
  const p = ints(attrs as never, 'pads', [0, 0, 0, 0]);
  return { strides: [s[0], s[1]], pads: [p[0], p[1], p[2], p[3]] };
}

export const Conv: OpDef = {
  name: 'Conv',
  infer(inputs, attrs) {
    expectArity('Conv', inputs, 2);
    expectFloat('Conv', inputs);
    const [x, w] = inputs;
    if (x.shape.length !== 4 || w.shape.length !== 4) throw new ShapeError('Conv', 'expects X [N,C,H,W] and W [M,C,kh,kw]', inputs);
    if (x.shape[1] !== w.shape[1]) throw new ShapeError('Conv', `X has ${x.shape[1]} channels but W expects ${w.shape[1]}`, inputs);
    const { strides, pads } = geometry(attrs);
    const h = convOutputSize(x.shape[2], w.shape[2], strides[0], pads[0], pads[2]);
    const wo = convOutputSize(x.shape[3], w.shape[3], strides[1], pads[1], pads[3]);
    if (h < 1 || wo < 1) throw new ShapeError('Conv', 'kernel larger than the padded input', inputs);
    return [typed([x.shape[0], w.shape[0], h, wo], x.dtype)];
  },
  emit: emitOne('Conv'),
  grad: (n, [dy], needs) => {
    const [x, w] = n.inputs;
    const g = geometry(n.attrs);
    return [needs[0] ? convInputGrad(dy!, w, x.shape, g) : undefined, needs[1] ? convWeightGrad(x, dy!, w.shape, g) : undefined];
  },
};

/** dX: the transposed convolution of dY with the forward kernel. */
export function convInputGrad(dy: Value, w: Value, xShape: readonly number[], { strides, pads }: ConvGeometry): Value {
  const [, , kh, kw] = w.shape;
  const outputPadding = [
    convTransposeOutputPadding(xShape[2], kh, strides[0], pads[0], pads[2]),
    convTransposeOutputPadding(xShape[3], kw, strides[1], pads[1], pads[3]),
  ];
  return convTranspose(dy, w, { strides, pads, outputPadding });
}

/**
 * dW[m,c,i,j] = Σ_{n,y,x} dY[n,m,y,x] · Xpad[n,c,y·s+i,x·s+j]: a convolution over X with the batch
 * axis as channels (X and dY transposed to [C,N,..] and [M,N,..]), dY as the kernel dilated by
 * the stride; then the extra trailing taps are sliced off and the result transposed to [M,C,kh,kw].
 */
export function convWeightGrad(x: Value, dy: Value, wShape: readonly number[], { strides, pads }: ConvGeometry): Value {
  const [, , kh, kw] = wShape;
  const xt = transpose(x, [1, 0, 2, 3]);
  const dyt = transpose(dy, [1, 0, 2, 3]);
  let dw = x.graph.apply(Conv, [xt, dyt], { strides: [1, 1], pads: [...pads], dilations: [...strides] })[0];
  const extent = [
    weightGradExtent(x.shape[2], kh, strides[0], pads[0], pads[2]),
    weightGradExtent(x.shape[3], kw, strides[1], pads[1], pads[3]),
  ];
  if (extent[0] !== kh || extent[1] !== kw) dw = slice(dw, [2, 3], [0, 0], [kh, kw]);
  return transpose(dw, [1, 0, 2, 3]);
}

/** ConvTranspose with W [Cin, Cout, kh, kw] (groups = 1). Used by Conv's backward pass. */
export const ConvTranspose: OpDef = {
  name: 'ConvTranspose',
  infer(inputs, attrs) {
    expectArity('ConvTranspose', inputs, 2);
    expectFloat('ConvTranspose', inputs);
    const [x, w] = inputs;
    if (x.shape.length !== 4 || w.shape.length !== 4 || x.shape[1] !== w.shape[0]) {
      throw new ShapeError('ConvTranspose', 'expects X [N,C,H,W] and W [C,M,kh,kw]', inputs);
    }
    const s = ints(attrs, 'strides', [1, 1]);
    const p = ints(attrs, 'pads', [0, 0, 0, 0]);
    const op = ints(attrs, 'output_padding', [0, 0]);
    const h = s[0] * (x.shape[2] - 1) + op[0] + w.shape[2] - p[0] - p[2];
    const wo = s[1] * (x.shape[3] - 1) + op[1] + w.shape[3] - p[1] - p[3];
    if (op[0] >= s[0] || op[1] >= s[1] || op.some((v) => v < 0)) throw new ShapeError('ConvTranspose', `output_padding [${op}] must be below the stride`, inputs);
    return [typed([x.shape[0], w.shape[1], h, wo], x.dtype)];
  },
  emit: emitOne('ConvTranspose'),
  grad: (n, [dy], needs) => {
    if (needs[1]) throw new ShapeError('ConvTranspose', 'the weight gradient of ConvTranspose is not implemented (no model needs it)', n.inputs);
    // ConvTranspose is the adjoint of Conv with the same kernel and geometry.
    return [n.graph.apply(Conv, [dy!, n.inputs[1]], { strides: ints(n.attrs, 'strides', [1, 1]), pads: ints(n.attrs, 'pads', [0, 0, 0, 0]) })[0], undefined];
  },
};

export interface ConvOptions {
  stride?: number;
  pad?: number;
}

export function conv(x: Value, w: Value, { stride = 1, pad = 0 }: ConvOptions = {}): Value {
  return x.graph.apply(Conv, [x, w], { strides: [stride, stride], pads: [pad, pad, pad, pad] })[0];
}

export function convTranspose(x: Value, w: Value, g: ConvGeometry & { outputPadding: number[] }): Value {
  const attrs: Record<string, number[]> = { strides: [...g.strides], pads: [...g.pads] };
  if (g.outputPadding.some((v) => v !== 0)) attrs.output_padding = g.outputPadding;
  return x.graph.apply(ConvTranspose, [x, w], attrs)[0];
}
