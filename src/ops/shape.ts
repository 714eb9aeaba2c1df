/** Ops that move data without arithmetic: reshape, transpose, slice, pad, concat, expand. */
import { OpDef, ShapeError, Value, shapeSize } from '../graph/ir';
import { broadcastShapes, emitOne, expectArity, firstInputDegree, int, ints, normalizeAxes, same, sameDegree, typed } from './util';

export const Reshape: OpDef = {
  name: 'Reshape',
  homogeneity: firstInputDegree,
  infer(inputs, attrs) {
    expectArity('Reshape', inputs, 1);
    const shape = ints(attrs, 'shape', []);
    if (shape.some((d) => d <= 0)) throw new ShapeError('Reshape', `target shape [${shape}] must be explicit and positive`, inputs);
    if (shapeSize(shape) !== inputs[0].size) throw new ShapeError('Reshape', `cannot reshape to [${shape}]`, inputs);
    return [typed(shape, inputs[0].dtype)];
  },
  emit(node, e) {
    e.node('Reshape', [node.inputs[0].name, e.constInt64(node.attrs.shape as number[])], [node.outputs[0].name]);
  },
  grad: (n, [dy]) => [reshape(dy!, n.inputs[0].shape)],
};

export const Transpose: OpDef = {
  name: 'Transpose',
  homogeneity: firstInputDegree,
  infer(inputs, attrs) {
    expectArity('Transpose', inputs, 1);
    const perm = ints(attrs, 'perm', []);
    const x = inputs[0];
    if (perm.length !== x.shape.length || [...perm].sort().some((p, i) => p !== i)) {
      throw new ShapeError('Transpose', `perm [${perm}] is not a permutation of the axes`, inputs);
    }
    return [typed(perm.map((p) => x.shape[p]), x.dtype)];
  },
  emit: emitOne('Transpose'),
  grad: (n, [dy]) => {
    const perm = n.attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [transpose(dy!, inverse)];
  },
};

/** Slice with static starts/ends/axes/steps; ends are clamped like ONNX does. */
export const Slice: OpDef = {
  name: 'Slice',
  homogeneity: firstInputDegree,
  infer(inputs, attrs) {
    expectArity('Slice', inputs, 1);
    const x = inputs[0];
    const axes = normalizeAxes('Slice', ints(attrs, 'axes', []), x.shape.length, inputs);
    const starts = ints(attrs, 'starts', []);
    const ends = ints(attrs, 'ends', []);
    const steps = ints(attrs, 'steps', axes.map(() => 1));
    if (starts.length !== axes.length || ends.length !== axes.length || steps.length !== axes.length) {
      throw new ShapeError('Slice', 'starts, ends, axes and steps must have one entry per axis', inputs);
    }
    const shape = [...x.shape];
    axes.forEach((a, i) => {
      const { start, count } = sliceRange(x.shape[a], starts[i], ends[i], steps[i]);
      if (count <= 0 || start < 0) throw new ShapeError('Slice', `empty slice on axis ${a}`, inputs);
      shape[a] = count;
    });
    return [typed(shape, x.dtype)];
  },
  emit(node, e) {
    const a = node.attrs;
    const axes = a.axes as number[];
    const ins = [node.inputs[0].name, e.constInt64(a.starts as number[]), e.constInt64(a.ends as number[]), e.constInt64(axes), e.constInt64(ints(a, 'steps', axes.map(() => 1)))];
    e.node('Slice', ins, [node.outputs[0].name]);
  },
  grad: (n, [dy]) => {
    const x = n.inputs[0];
    const axes = normalizeAxes('Slice', n.attrs.axes as number[], x.shape.length, n.inputs);
    const steps = ints(n.attrs, 'steps', axes.map(() => 1));
    if (steps.some((s) => s !== 1)) throw new ShapeError('Slice', 'gradient implemented for step 1 only', n.inputs);
    const before = x.shape.map(() => 0);
    const after = x.shape.map(() => 0);
    axes.forEach((ax, i) => {
      const { start, count } = sliceRange(x.shape[ax], (n.attrs.starts as number[])[i], (n.attrs.ends as number[])[i], 1);
      before[ax] = start;
      after[ax] = x.shape[ax] - start - count;
    });
    return [pad(dy!, before, after)];
  },
};

/** ONNX Slice semantics for one axis: negative indices count from the end, then clamp. */
export function sliceRange(dim: number, start: number, end: number, step: number): { start: number; count: number } {
  const norm = (i: number, lo: number, hi: number) => Math.min(Math.max(i < 0 ? i + dim : i, lo), hi);
  if (step > 0) {
    const s = norm(start, 0, dim);
    const e = norm(end, 0, dim);
    return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  const s = norm(start, -1, dim - 1);
  const e = norm(end, -1, dim - 1);
  return { start: s, count: Math.max(0, Math.ceil((s - e) / -step)) };
}

/** Constant zero padding: `before[i]` and `after[i]` elements on axis i. */
export const Pad: OpDef = {
  name: 'Pad',
  homogeneity: firstInputDegree,
  infer(inputs, attrs) {
    expectArity('Pad', inputs, 1);
    const x = inputs[0];
    const before = ints(attrs, 'before', []);
    const after = ints(attrs, 'after', []);
    if (before.length !== x.shape.length || after.length !== x.shape.length || [...before, ...after].some((p) => p < 0)) {
      throw new ShapeError('Pad', `pads [${before}] / [${after}] must be non-negative, one per axis`, inputs);
    }
    return [typed(x.shape.map((d, i) => d + before[i] + after[i]), x.dtype)];
  },
  emit(node, e) {
    const pads = [...(node.attrs.before as number[]), ...(node.attrs.after as number[])];
    e.node('Pad', [node.inputs[0].name, e.constInt64(pads)], [node.outputs[0].name], { mode: { string: 'constant' } });
  },
  grad: (n, [dy]) => {
    const x = n.inputs[0];
    const before = n.attrs.before as number[];
    const axes = x.shape.map((_, i) => i);
    return [slice(dy!, axes, before, before.map((b, i) => b + x.shape[i]))];
  },
};

export const Concat: OpDef = {
  name: 'Concat',
  homogeneity: sameDegree,
  infer(inputs, attrs) {
    if (inputs.length === 0) throw new ShapeError('Concat', 'needs at least one input', inputs);
    const rank = inputs[0].shape.length;
    const [axis] = normalizeAxes('Concat', [int(attrs, 'axis', 0)], rank, inputs);
    const shape = [...inputs[0].shape];
    shape[axis] = 0;
    for (const v of inputs) {
      if (v.shape.length !== rank || v.dtype !== inputs[0].dtype || v.shape.some((d, i) => i !== axis && d !== inputs[0].shape[i])) {
        throw new ShapeError('Concat', `inputs must agree on every axis but ${axis}`, inputs);
      }
      shape[axis] += v.shape[axis];
    }
    return [typed(shape, inputs[0].dtype)];
  },
  emit: emitOne('Concat'),
  grad: (n, [dy], needs) => {
    const [axis] = normalizeAxes('Concat', [int(n.attrs, 'axis', 0)], n.inputs[0].shape.length, n.inputs);
    let offset = 0;
    return n.inputs.map((v, i) => {
      const start = offset;
      offset += v.shape[axis];
      return needs[i] ? slice(dy!, [axis], [start], [offset]) : undefined;
    });
  },
};

/** Broadcast to a larger shape; the engine's broadcast reduction is exactly its gradient. */
export const Expand: OpDef = {
  name: 'Expand',
  homogeneity: firstInputDegree,
  infer(inputs, attrs) {
    expectArity('Expand', inputs, 1);
    const target = ints(attrs, 'shape', []);
    const out = broadcastShapes('Expand', [inputs[0], { shape: target, dtype: inputs[0].dtype }]);
    return [typed(out, inputs[0].dtype)];
  },
  emit(node, e) {
    e.node('Expand', [node.inputs[0].name, e.constInt64(node.attrs.shape as number[])], [node.outputs[0].name]);
  },
  grad: (_n, [dy]) => [dy],
};

export const Identity: OpDef = {
  name: 'Identity',
  homogeneity: firstInputDegree,
  infer(inputs) {
    expectArity('Identity', inputs, 1);
    return [same(inputs[0])];
  },
  emit: emitOne('Identity'),
  grad: (_n, [dy]) => [dy],
};

export const reshape = (x: Value, shape: readonly number[]): Value => x.graph.apply(Reshape, [x], { shape: [...shape] })[0];
export const transpose = (x: Value, perm: readonly number[]): Value => x.graph.apply(Transpose, [x], { perm: [...perm] })[0];
export const slice = (x: Value, axes: readonly number[], starts: readonly number[], ends: readonly number[], steps?: readonly number[]): Value =>
  x.graph.apply(Slice, [x], { axes: [...axes], starts: [...starts], ends: [...ends], ...(steps ? { steps: [...steps] } : {}) })[0];
export const pad = (x: Value, before: readonly number[], after: readonly number[]): Value =>
  x.graph.apply(Pad, [x], { before: [...before], after: [...after] })[0];
export const concat = (xs: readonly Value[], axis: number): Value => xs[0].graph.apply(Concat, xs, { axis })[0];
export const expand = (x: Value, shape: readonly number[]): Value => x.graph.apply(Expand, [x], { shape: [...shape] })[0];
export const identity = (x: Value): Value => x.graph.apply(Identity, [x])[0];
