/** Matrix products: MatMul (2-D) and Gemm (Y = op(A)·op(B) + C, alpha = beta = 1). */
import { OpDef, ShapeError, Value } from '../graph/ir';
import { bilinearPlus, broadcastShapes, degreeSum, emitOne, expectFloat, expectSameDtype, int, typed } from './util';

export const MatMul: OpDef = {
  name: 'MatMul',
  homogeneity: degreeSum,
  infer(inputs) {
    expectFloat('MatMul', inputs);
    const [a, b] = inputs;
    if (inputs.length !== 2 || a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) {
      throw new ShapeError('MatMul', 'expects A [n,k] and B [k,m]', inputs);
    }
    return [typed([a.shape[0], b.shape[1]], expectSameDtype('MatMul', inputs))];
  },
  emit: emitOne('MatMul'),
  grad: (n, [dy], needs) => {
    const [a, b] = n.inputs;
    return [needs[0] ? gemm(dy!, b, { transB: true }) : undefined, needs[1] ? gemm(a, dy!, { transA: true }) : undefined];
  },
};

export const Gemm: OpDef = {
  name: 'Gemm',
  homogeneity: bilinearPlus,
  infer(inputs, attrs) {
    expectFloat('Gemm', inputs);
    if (inputs.length < 2 || inputs.length > 3) throw new ShapeError('Gemm', 'expects A, B and an optional C', inputs);
    const [a, b] = inputs;
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new ShapeError('Gemm', 'A and B must be matrices', inputs);
    const [n, k] = int(attrs, 'transA', 0) ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, m] = int(attrs, 'transB', 0) ? [b.shape[1], b.shape[0]] : b.shape;
    if (k !== k2) throw new ShapeError('Gemm', `inner dimensions ${k} and ${k2} differ`, inputs);
    const dtype = expectSameDtype('Gemm', inputs);
    if (inputs[2]) broadcastShapes('Gemm', [{ shape: [n, m], dtype }, inputs[2]]);
    return [typed([n, m], dtype)];
  },
  emit: emitOne('Gemm'),
  grad: (n, [dy], needs) => {
    const [a, b] = n.inputs;
    const tA = int(n.attrs, 'transA', 0) === 1;
    const tB = int(n.attrs, 'transB', 0) === 1;
    // Y = A'·B' with A' = op(A), B' = op(B): dA' = dY·B'ᵀ, dB' = A'ᵀ·dY, then undo op().
    const dA = !needs[0] ? undefined : tA ? gemm(b, dy!, { transA: tB, transB: true }) : gemm(dy!, b, { transB: !tB });
    const dB = !needs[1] ? undefined : tB ? gemm(dy!, a, { transA: true, transB: tA }) : gemm(a, dy!, { transA: !tA });
    return [dA, dB, needs[2] ? dy : undefined];
  },
};

export const matmul = (a: Value, b: Value): Value => a.graph.apply(MatMul, [a, b])[0];

export function gemm(a: Value, b: Value, { transA = false, transB = false } = {}, c?: Value): Value {
  const attrs: Record<string, number> = {};
  if (transA) attrs.transA = 1;
  if (transB) attrs.transB = 1;
  return a.graph.apply(Gemm, c ? [a, b, c] : [a, b], attrs)[0];
}

/** y = x·Wᵀ + b, PyTorch's nn.Linear with W [out, in]. */
export const linear = (x: Value, w: Value, b?: Value): Value => gemm(x, w, { transB: true }, b);
