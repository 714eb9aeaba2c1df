/** Reductions over static axes, and ArgMax. */
import { OpDef, Value } from '../graph/ir';
import { expand, reshape } from './shape';
import { constantOnly, expectArity, firstInputDegree, int, ints, normalizeAxes, typed } from './util';
import { scale } from './elementwise';

function reducedShape(x: Value, axes: number[], keepdims: boolean): number[] {
  return keepdims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
}

function reduction(name: 'ReduceSum' | 'ReduceMean'): OpDef {
  return {
    name,
    homogeneity: firstInputDegree,
    infer(inputs, attrs) {
      expectArity(name, inputs, 1);
      const x = inputs[0];
      const axes = normalizeAxes(name, ints(attrs, 'axes', x.shape.map((_, i) => i)), x.shape.length, inputs);
      return [typed(reducedShape(x, axes, int(attrs, 'keepdims', 1) === 1), x.dtype)];
    },
    emit(node, e) {
      const x = node.inputs[0];
      const axes = normalizeAxes(name, ints(node.attrs, 'axes', x.shape.map((_, i) => i)), x.shape.length, node.inputs);
      const keepdims = { int: int(node.attrs, 'keepdims', 1) };
      // Opset 17: ReduceSum takes its axes as an input (since 13), ReduceMean still as an attribute.
      if (name === 'ReduceSum') e.node(name, [x.name, e.constInt64(axes)], [node.outputs[0].name], { keepdims });
      else e.node(name, [x.name], [node.outputs[0].name], { axes: { ints: axes }, keepdims });
    },
    grad: (n, [dy]) => {
      const x = n.inputs[0];
      const axes = normalizeAxes(name, ints(n.attrs, 'axes', x.shape.map((_, i) => i)), x.shape.length, n.inputs);
      const spread = expand(reshape(dy!, reducedShape(x, axes, true)), x.shape);
      const count = axes.reduce((c, a) => c * x.shape[a], 1);
      return [name === 'ReduceSum' ? spread : scale(spread, 1 / count)];
    },
  };
}

export const ReduceSum = reduction('ReduceSum');
export const ReduceMean = reduction('ReduceMean');

export const ArgMax: OpDef = {
  name: 'ArgMax',
  homogeneity: constantOnly,
  infer(inputs, attrs) {
    expectArity('ArgMax', inputs, 1);
    const x = inputs[0];
    const [axis] = normalizeAxes('ArgMax', [int(attrs, 'axis', 0)], x.shape.length, inputs);
    return [typed(reducedShape(x, [axis], int(attrs, 'keepdims', 1) === 1), 'int64')];
  },
  emit(node, e) {
    e.node('ArgMax', [node.inputs[0].name], [node.outputs[0].name], {
      axis: { int: node.attrs.axis as number },
      keepdims: { int: int(node.attrs, 'keepdims', 1) },
    });
  },
  grad: 'none',
};

export const reduceSum = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  x.graph.apply(ReduceSum, [x], { ...(axes ? { axes: [...axes] } : {}), keepdims: keepdims ? 1 : 0 })[0];
export const reduceMean = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  x.graph.apply(ReduceMean, [x], { ...(axes ? { axes: [...axes] } : {}), keepdims: keepdims ? 1 : 0 })[0];
export const argMax = (x: Value, axis: number): Value => x.graph.apply(ArgMax, [x], { axis, keepdims: 0 })[0];
