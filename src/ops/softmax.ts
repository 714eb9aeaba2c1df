/**
 * LogSoftmax, OneHot, and the mean softmax cross-entropy composed from them.
 *
 * ORT's WebGPU provider has no LogSoftmax or OneHot kernel and no int64 Cast or Equal. OneHot is
 * a Gather of identity rows and the correct count a product of one-hot rows, which every provider
 * runs, with the same values as OneHot and Equal.
 * LogSoftmax is composed from max, exp, sum and log only where the program is built for WebGPU:
 * on the CPU that composition differs from the LogSoftmax kernel in the last bit (Exp and the
 * kernel's exponential are different code), so the CPU keeps the kernel.
 */
import { OpDef, ShapeError, Value } from '../graph/ir';
import { exp, mul, neg, sub } from './elementwise';
import { argMax, reduceMean, reduceSum } from './reduce';
import { constantOnly, emitOne, expectArity, expectFloat, int, normalizeAxes, same, typed } from './util';

export const LogSoftmax: OpDef = {
  name: 'LogSoftmax',
  homogeneity: constantOnly,
  infer(inputs, attrs) {
    expectArity('LogSoftmax', inputs, 1);
    expectFloat('LogSoftmax', inputs);
    normalizeAxes('LogSoftmax', [int(attrs, 'axis', -1)], inputs[0].shape.length, inputs);
    return [same(inputs[0])];
  },
  // Composed: y = (x − max x) − log Σ exp(x − max x).
  emit(node, e) {
    if (!e.composeLogSoftmax) return emitOne('LogSoftmax')(node, e);
    const x = node.inputs[0];
    const [axis] = normalizeAxes('LogSoftmax', [int(node.attrs, 'axis', -1)], x.shape.length, node.inputs);
    const [max, shifted, exps, sum, logSum] = ['lsm_max', 'lsm_shifted', 'lsm_exp', 'lsm_sum', 'lsm_logsum'].map((h) => e.temp(h));
    e.node('ReduceMax', [x.name], [max], { axes: { ints: [axis] }, keepdims: { int: 1 } });
    e.node('Sub', [x.name, max], [shifted]);
    e.node('Exp', [shifted], [exps]);
    e.node('ReduceSum', [exps, e.constInt64([axis])], [sum], { keepdims: { int: 1 } });
    e.node('Log', [sum], [logSum]);
    e.node('Sub', [shifted, logSum], [node.outputs[0].name]);
  },
  // y = x − logΣexp(x): dx = dy − softmax(x)·Σdy, with softmax = exp(y).
  grad: (n, [dy]) => {
    const [axis] = normalizeAxes('LogSoftmax', [int(n.attrs, 'axis', -1)], n.inputs[0].shape.length, n.inputs);
    return [sub(dy!, mul(exp(n.outputs[0]), reduceSum(dy!, [axis], true)))];
  },
};

/** One-hot rows of `depth` entries (0 and 1) of the given float dtype from int64 class indices. */
export const OneHot: OpDef = {
  name: 'OneHot',
  homogeneity: constantOnly,
  infer(inputs, attrs) {
    expectArity('OneHot', inputs, 1);
    if (inputs[0].dtype !== 'int64') throw new ShapeError('OneHot', 'indices must be int64', inputs);
    return [typed([...inputs[0].shape, attrs.depth as number], (attrs.dtype as 'float32' | 'float64') ?? 'float32')];
  },
  // Row `label` of the identity matrix: a Gather, whose int64 indices every provider reads
  // (WebGPU has no OneHot and no int64 Cast or Equal). Exactly the values OneHot gives.
  emit(node, e) {
    const depth = node.attrs.depth as number;
    const eye = Array.from({ length: depth * depth }, (_, i) => (i % (depth + 1) === 0 ? 1 : 0));
    e.node('Gather', [e.constFloat(eye, node.outputs[0].dtype, [depth, depth]), node.inputs[0].name], [node.outputs[0].name], { axis: { int: 0 } });
  },
  grad: 'none',
};

export const logSoftmax = (x: Value, axis = -1): Value => x.graph.apply(LogSoftmax, [x], { axis })[0];
export const oneHot = (labels: Value, depth: number, dtype: 'float32' | 'float64' = 'float32'): Value =>
  labels.graph.apply(OneHot, [labels], { depth, dtype })[0];

/** Mean cross-entropy of logits [N,K] against int64 labels [N], as torch.nn.functional.cross_entropy. */
export function crossEntropy(logits: Value, labels: Value): Value {
  const picked = reduceSum(mul(logSoftmax(logits, 1), oneHot(labels, logits.shape[1], logits.dtype as 'float32')), [1]);
  return neg(reduceMean(picked));
}

/**
 * Number of rows whose arg-max equals the label, as a float scalar: Σ onehot(argmax)·onehot(label),
 * since WebGPU has no int64 comparison. Exact: a sum of zeros and ones.
 */
export function correctCount(logits: Value, labels: Value): Value {
  const classes = logits.shape[1];
  const dtype = logits.dtype as 'float32';
  return reduceSum(mul(oneHot(argMax(logits, 1), classes, dtype), oneHot(labels, classes, dtype)));
}
