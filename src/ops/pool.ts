/**
 * Max pooling, and the two flat index ops its backward pass is made of.
 *
 * MaxPool also outputs where each maximum came from (ONNX's Indices: flat positions in the
 * N·C·H·W input, padding not counted), so its backward pass routes each output gradient to that
 * position: a scatter-add into zeros (windows overlap, so several outputs can pick one input).
 * Ties go to the first maximum in scan order, as in PyTorch; after a ReLU the ties are zeros,
 * whose gradient the ReLU stops anyway. Scatter-add and gather are each other's gradient.
 * Average pooling needs no op: the importer writes it as a depthwise Conv with a constant kernel.
 */
import { OpDef, ShapeError, Value } from '../graph/ir';
import { convOutputSize } from './conv';
import { expectArity, expectFloat, firstInputDegree, ints, onnxAttrs, typed } from './util';

/** Attributes kernel_shape, strides, pads [top, left, bottom, right]; outputs Y and Indices (int64). */
export const MaxPool: OpDef = {
  name: 'MaxPool',
  // max(c·x) = c·max(x) for c > 0 (the indices do not change).
  homogeneity: firstInputDegree,
  infer(inputs, attrs) {
    expectArity('MaxPool', inputs, 1);
    expectFloat('MaxPool', inputs);
    const [x] = inputs;
    if (x.shape.length !== 4) throw new ShapeError('MaxPool', 'expects X [N,C,H,W]', inputs);
    const [kh, kw] = ints(attrs, 'kernel_shape', []);
    const [sh, sw] = ints(attrs, 'strides', [1, 1]);
    const p = ints(attrs, 'pads', [0, 0, 0, 0]);
    if (p[0] >= kh || p[2] >= kh || p[1] >= kw || p[3] >= kw) throw new ShapeError('MaxPool', `pads [${p}] must be smaller than the kernel ${kh}×${kw}`, inputs);
    const h = convOutputSize(x.shape[2], kh, sh, p[0], p[2]);
    const w = convOutputSize(x.shape[3], kw, sw, p[1], p[3]);
    if (h < 1 || w < 1) throw new ShapeError('MaxPool', `kernel ${kh}×${kw} larger than the padded input`, inputs);
    const shape = [x.shape[0], x.shape[1], h, w];
    return [typed(shape, x.dtype), typed(shape, 'int64')];
  },
  emit(node, e) {
    e.node('MaxPool', [node.inputs[0].name], node.outputs.map((v) => v.name), onnxAttrs(node.attrs));
  },
  grad: (n, [dy]) => [dy && scatterAddFlat(dy, n.outputs[1], n.inputs[0].shape)],
};

/** out = data.flat[indices]: inputs data and int64 indices; the output has the indices' shape. */
export const GatherFlat: OpDef = {
  name: 'GatherFlat',
  homogeneity: firstInputDegree,
  infer(inputs) {
    expectArity('GatherFlat', inputs, 2);
    const [data, indices] = inputs;
    if (indices.dtype !== 'int64') throw new ShapeError('GatherFlat', 'indices must be int64', inputs);
    return [typed(indices.shape, data.dtype)];
  },
  emit(node, e) {
    const [data, indices] = node.inputs;
    const flatData = e.temp('gather_data');
    const flatIndices = e.temp('gather_indices');
    const gathered = e.temp('gathered');
    e.node('Reshape', [data.name, e.constInt64([-1])], [flatData]);
    e.node('Reshape', [indices.name, e.constInt64([-1])], [flatIndices]);
    e.node('GatherElements', [flatData, flatIndices], [gathered], { axis: { int: 0 } });
    e.node('Reshape', [gathered, e.constInt64([...indices.shape])], [node.outputs[0].name]);
  },
  grad: (n, [dy], needs) => [needs[0] ? scatterAddFlat(dy!, n.inputs[1], n.inputs[0].shape) : undefined, undefined],
};

/** Zeros of the attribute `shape`, with each update added at its flat index: inputs updates and int64 indices of one shape. */
export const ScatterAddFlat: OpDef = {
  name: 'ScatterAddFlat',
  homogeneity: firstInputDegree,
  infer(inputs, attrs) {
    expectArity('ScatterAddFlat', inputs, 2);
    const [updates, indices] = inputs;
    if (indices.dtype !== 'int64' || indices.size !== updates.size) throw new ShapeError('ScatterAddFlat', 'expects updates and int64 indices of one size', inputs);
    return [typed(ints(attrs, 'shape', []), updates.dtype)];
  },
  emit(node, e) {
    const [updates, indices] = node.inputs;
    const out = node.outputs[0];
    const zeros = e.temp('scatter_zeros');
    const flatUpdates = e.temp('scatter_updates');
    const flatIndices = e.temp('scatter_indices');
    const scattered = e.temp('scattered');
    e.node('Expand', [e.constFloat([0], out.dtype, []), e.constInt64([out.size])], [zeros]);
    e.node('Reshape', [updates.name, e.constInt64([-1])], [flatUpdates]);
    e.node('Reshape', [indices.name, e.constInt64([-1])], [flatIndices]);
    e.node('ScatterElements', [zeros, flatIndices, flatUpdates], [scattered], { axis: { int: 0 }, reduction: { string: 'add' } });
    e.node('Reshape', [scattered, e.constInt64([...out.shape])], [out.name]);
  },
  grad: (n, [dy], needs) => [needs[0] ? gatherFlat(dy!, n.inputs[1]) : undefined, undefined],
};

export interface PoolGeometry {
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number, number, number];
}

export const maxPool = (x: Value, g: PoolGeometry): Value =>
  x.graph.apply(MaxPool, [x], { kernel_shape: [...g.kernel], strides: [...g.strides], pads: [...g.pads] }, 'maxpool')[0];
export const gatherFlat = (data: Value, indices: Value): Value => data.graph.apply(GatherFlat, [data, indices])[0];
export const scatterAddFlat = (updates: Value, indices: Value, shape: readonly number[]): Value =>
  updates.graph.apply(ScatterAddFlat, [updates, indices], { shape: [...shape] })[0];
