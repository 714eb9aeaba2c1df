/** LogSoftmax, OneHot, and the mean softmax cross-entropy composed from them. */
import { OpDef, ShapeError, Value } from '../graph/ir';
import { cast, equal, exp, mul, neg, sub } from './elementwise';
import { argMax, reduceMean, reduceSum } from './reduce';
import { emitOne, expectArity, expectFloat, int, normalizeAxes, same, typed } from './util';

export const LogSoftmax: OpDef = {
  name: 'LogSoftmax',
  infer(inputs, attrs) {
    expectArity('LogSoftmax', inputs, 1);
    expectFloat('LogSoftmax', inputs);
    normalizeAxes('LogSoftmax', [int(attrs, 'axis', -1)], inputs[0].shape.length, inputs);
    return [same(inputs[0])];
  },
  emit: emitOne('LogSoftmax'),
  // y = x − logΣexp(x): dx = dy − softmax(x)·Σdy, with softmax = exp(y).
  grad: (n, [dy]) => {
    const [axis] = normalizeAxes('LogSoftmax', [int(n.attrs, 'axis', -1)], n.inputs[0].shape.length, n.inputs);
    return [sub(dy!, mul(exp(n.outputs[0]), reduceSum(dy!, [axis], true)))];
  },
};

/** One-hot rows of `depth` entries (0 and 1) of the given float dtype from int64 class indices. */
export const OneHot: OpDef = {
  name: 'OneHot',
  infer(inputs, attrs) {
    expectArity('OneHot', inputs, 1);
    if (inputs[0].dtype !== 'int64') throw new ShapeError('OneHot', 'indices must be int64', inputs);
    return [typed([...inputs[0].shape, attrs.depth as number], (attrs.dtype as 'float32' | 'float64') ?? 'float32')];
  },
  emit(node, e) {
    const depth = e.constInt64([node.attrs.depth as number], []);
    // ORT's CPU OneHot has no float64 kernel: build it in float32 and cast.
    const values = e.constFloat([0, 1], 'float32', [2]);
    const out = node.outputs[0];
    const f32 = out.dtype === 'float32' ? out.name : e.temp('onehot_f32');
    e.node('OneHot', [node.inputs[0].name, depth, values], [f32], { axis: { int: -1 } });
    if (f32 !== out.name) e.node('Cast', [f32], [out.name], { to: { int: 11 } });
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

/** Number of rows whose arg-max equals the label, as a float scalar. */
export function correctCount(logits: Value, labels: Value): Value {
  return reduceSum(cast(equal(argMax(logits, 1), labels), logits.dtype));
}
