/**
 * Every gradient rule against central finite differences. Ops that ORT runs in float64 are
 * checked in float64 (relative error < 1e-6); the convolutions run in float32 only, but are
 * linear in each input, so the difference quotient with a step of 1 is exact up to rounding
 * (tolerance 1e-4). The case table is typed by OpName: a new op needs a case or 'none'.
 */
import { gradients } from '../../src/autodiff/engine';
import { DType, Graph, TypedArray, Value } from '../../src/graph/ir';
import { OpName, OPS } from '../../src/ops/registry';
import * as E from '../../src/ops/elementwise';
import { batchNormTrain } from '../../src/ops/batchnorm';
import { groupNorm } from '../../src/ops/groupnorm';
import { conv, convTranspose, convWeightGrad } from '../../src/ops/conv';
import { maxPool } from '../../src/ops/pool';
import { gemm, matmul } from '../../src/ops/matmul';
import { reduceMean, reduceSum } from '../../src/ops/reduce';
import { concat, expand, identity, pad, reshape, slice, transpose } from '../../src/ops/shape';
import { crossEntropy, logSoftmax } from '../../src/ops/softmax';
import { Program } from '../../src/runtime/session';
import { Rng } from '../../src/util/rng';
import { randomTensor } from '../helpers';

interface GradCase {
  dtype: DType;
  /** Builds the op under test from inputs it declares; returns the output and the inputs to differentiate. */
  build: (g: Graph, dtype: DType) => { y: Value; wrt: Value[] };
}

const x = (g: Graph, name: string, shape: number[], dtype: DType) => g.input(name, shape, dtype);
const d64 = (build: GradCase['build']): GradCase => ({ dtype: 'float64', build });
const d32 = (build: GradCase['build']): GradCase => ({ dtype: 'float32', build });
/** Several outputs as one vector, so the projected loss depends on each of them. */
const flatConcat = (vs: readonly Value[]) => concat(vs.map((v) => reshape(v, [v.shape.reduce((a, b) => a * b, 1)])), 0);
/** x plus a constant ramp over the elements in scrambled order (steps of 16, around zero), so that neighbouring values are far apart. */
const apart = (v: Value) => {
  const n = v.size;
  const ramp = Array.from({ length: n }, (_, i) => 16 * (((i * 37) % n) - n / 2));
  if (new Set(ramp).size !== n) throw new Error(`apart: 37 divides ${n}`);
  return E.add(v, v.graph.constant(ramp, v.shape, v.dtype));
};
const all = (y: Value) => ({ y, wrt: y.graph.inputs.filter((v) => v.dtype === 'float32' || v.dtype === 'float64') });

const CASES: Record<OpName, GradCase[] | 'none'> = {
  Add: [d64((g, t) => all(E.add(x(g, 'a', [2, 3], t), x(g, 'b', [3], t))))],
  Sub: [d64((g, t) => all(E.sub(x(g, 'a', [2, 1], t), x(g, 'b', [2, 4], t))))],
  Mul: [
    d64((g, t) => all(E.mul(x(g, 'a', [3, 1, 2], t), x(g, 'b', [4, 1], t)))),
    // one value feeding two nodes: gradients accumulate
    d64((g, t) => { const a = x(g, 'a', [5], t); return all(E.add(E.mul(a, a), a)); }),
  ],
  Div: [d64((g, t) => all(E.div(x(g, 'a', [2, 3], t), E.exp(x(g, 'b', [3], t)))))],
  Neg: [d64((g, t) => all(E.neg(x(g, 'a', [4], t))))],
  Relu: [d64((g, t) => all(E.relu(x(g, 'a', [3, 4], t))))],
  Sqrt: [d64((g, t) => all(E.sqrt(E.exp(x(g, 'a', [4], t)))))],
  Reciprocal: [d64((g, t) => all(E.reciprocal(E.exp(x(g, 'a', [4], t)))))],
  Exp: [d64((g, t) => all(E.exp(x(g, 'a', [2, 2], t))))],
  Log: [d64((g, t) => all(E.log(E.exp(x(g, 'a', [3], t)))))],
  Equal: 'none',
  Greater: 'none',
  Cast: [d32((g, t) => { const a = x(g, 'a', [3], t); return { y: E.cast(E.cast(a, 'float64'), 'float32'), wrt: [a] }; })],
  Where: [d64((g, t) => {
    const c = E.greater(x(g, 'c', [2, 3], t), g.scalar(0, t));
    const a = x(g, 'a', [2, 3], t);
    const b = x(g, 'b', [3], t);
    return { y: E.where(c, a, b), wrt: [a, b] };
  })],
  Clip: [d64((g, t) => all(E.clip(E.mul(x(g, 'a', [3, 4], t), g.scalar(4, t)), -1, 2)))],
  // Its backward pass runs a ConvTranspose, which ORT has in float32 only. Piecewise linear: with
  // window values kept apart by a ramp (steps of 16, against inputs of a few units), no step of the
  // difference quotient changes a window's maximum, so a step of 1 is exact up to rounding.
  MaxPool: [
    // overlapping windows (3×3, stride 2) and padding, as ResNet's stem has them: one input can be the maximum of several windows
    d32((g, t) => ({ y: maxPool(apart(x(g, 'x', [2, 3, 7, 6], t)), { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), wrt: [g.inputs[0]] })),
    d32((g, t) => ({ y: maxPool(apart(x(g, 'x', [2, 2, 6, 6], t)), { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] }), wrt: [g.inputs[0]] })),
    // stride 1 (dX as a Conv with the flipped kernel), a non-square kernel, uneven padding
    d32((g, t) => ({ y: maxPool(apart(x(g, 'x', [1, 2, 5, 7], t)), { kernel: [2, 3], strides: [1, 2], pads: [1, 0, 0, 2] }), wrt: [g.inputs[0]] })),
  ],
  MaxPoolRouting: 'none',
  Conv: [
    // grouped (depthwise, and two groups of two filters), dilated, strided: MobileNet's convs and the rest of ONNX Conv
    d32((g, t) => all(g.apply(OPS.Conv, [x(g, 'x', [2, 4, 7, 6], t), x(g, 'w', [4, 1, 3, 3], t)], { strides: [1, 1], pads: [1, 1, 1, 1], group: 4 })[0])),
    d32((g, t) => all(g.apply(OPS.Conv, [x(g, 'x', [2, 4, 9, 8], t), x(g, 'w', [4, 1, 3, 3], t)], { strides: [2, 2], pads: [1, 1, 1, 1], group: 4 })[0])),
    d32((g, t) => all(g.apply(OPS.Conv, [x(g, 'x', [2, 6, 9, 8], t), x(g, 'w', [4, 3, 3, 2], t)], { strides: [2, 1], pads: [2, 1, 1, 0], dilations: [2, 1], group: 2 })[0])),
    d32((g, t) => all(g.apply(OPS.Conv, [x(g, 'x', [2, 3, 8, 8], t), x(g, 'w', [4, 3, 3, 3], t)], { strides: [1, 1], pads: [2, 2, 2, 2], dilations: [2, 2] })[0])),
    d32((g, t) => all(conv(x(g, 'x', [2, 3, 8, 8], t), x(g, 'w', [4, 3, 3, 3], t), { stride: 1, pad: 1 }))),
    d32((g, t) => all(conv(x(g, 'x', [2, 3, 9, 8], t), x(g, 'w', [4, 3, 3, 3], t), { stride: 2, pad: 1 }))),
    d32((g, t) => all(conv(x(g, 'x', [2, 3, 8, 8], t), x(g, 'w', [5, 3, 1, 1], t), { stride: 2, pad: 0 }))),
    d32((g, t) => all(conv(x(g, 'x', [2, 2, 7, 7], t), x(g, 'w', [3, 2, 3, 3], t), { stride: 3, pad: 0 }))),
    // stride 1 (dX as a Conv with the flipped kernel): no padding on odd, non-square input
    d32((g, t) => all(conv(x(g, 'x', [2, 3, 7, 5], t), x(g, 'w', [4, 3, 3, 3], t), { stride: 1, pad: 0 }))),
    // 1×1, stride 1: the only im2col tap is the whole input
    d32((g, t) => all(conv(x(g, 'x', [3, 4, 5, 3], t), x(g, 'w', [2, 4, 1, 1], t), { stride: 1, pad: 0 }))),
    // pad = k − 1: the flipped conv needs no padding
    d32((g, t) => all(conv(x(g, 'x', [2, 2, 5, 6], t), x(g, 'w', [3, 2, 3, 3], t), { stride: 1, pad: 2 }))),
    // pad ≥ k: the flipped conv would need a negative pad, so dX falls back to ConvTranspose
    d32((g, t) => all(conv(x(g, 'x', [2, 2, 4, 5], t), x(g, 'w', [3, 2, 3, 3], t), { stride: 1, pad: 3 }))),
    // asymmetric pads [top, left, bottom, right] and a rectangular kernel, stride 1
    d32((g, t) => all(g.apply(OPS.Conv, [x(g, 'x', [2, 3, 6, 7], t), x(g, 'w', [2, 3, 3, 2], t)], { strides: [1, 1], pads: [1, 0, 0, 1] })[0])),
    // mixed strides [2, 1] with odd sizes and asymmetric pads: ConvTranspose for dX, strided taps on one axis only
    d32((g, t) => all(g.apply(OPS.Conv, [x(g, 'x', [2, 3, 9, 6], t), x(g, 'w', [4, 3, 3, 2], t)], { strides: [2, 1], pads: [0, 1, 2, 0] })[0])),
  ],
  ConvWeightGrad: [
    d32((g, t) => all(convWeightGrad(x(g, 'x', [2, 4, 9, 8], t), x(g, 'dy', [2, 6, 5, 4], t), [6, 2, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], group: 2 }))),
    d32((g, t) => all(convWeightGrad(x(g, 'x', [2, 3, 9, 8], t), x(g, 'dy', [2, 4, 5, 4], t), [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }))),
    // a batch and output channels of 16: the NCHWc form where ORT has the blocked kernels, strides 1 and 2
    d32((g, t) => all(convWeightGrad(x(g, 'x', [16, 3, 6, 5], t), x(g, 'dy', [16, 16, 6, 5], t), [16, 3, 3, 3], { strides: [1, 1], pads: [1, 1, 1, 1] }))),
    d32((g, t) => all(convWeightGrad(x(g, 'x', [16, 3, 7, 6], t), x(g, 'dy', [16, 16, 4, 3], t), [16, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }))),
  ],
  // the weight gradient too: a Hessian-vector product differentiates Conv's input gradient
  ConvTranspose: [d32((g, t) => all(convTranspose(x(g, 'x', [2, 4, 4, 4], t), x(g, 'w', [4, 3, 3, 3], t), { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] })))],
  MatMul: [d64((g, t) => all(matmul(x(g, 'a', [3, 4], t), x(g, 'b', [4, 2], t))))],
  Gemm: [false, true].flatMap((transA) => [false, true].map((transB) =>
    d64((g, t) => all(gemm(x(g, 'a', transA ? [4, 3] : [3, 4], t), x(g, 'b', transB ? [5, 4] : [4, 5], t), { transA, transB }, x(g, 'c', [5], t))))))
    .concat([d64((g, t) => all(gemm(x(g, 'a', [3, 4], t), x(g, 'b', [5, 4], t), { transB: true })))]),
  Reshape: [d64((g, t) => all(reshape(x(g, 'a', [2, 6], t), [3, 4])))],
  Transpose: [d64((g, t) => all(transpose(x(g, 'a', [2, 3, 4], t), [1, 2, 0])))],
  Slice: [
    d64((g, t) => all(slice(x(g, 'a', [5, 6], t), [0, 1], [1, -4], [4, 100]))),
    // step −1: rows 3, 2, 1 and every column reversed (Conv's flipped kernel)
    d64((g, t) => all(slice(x(g, 'a', [5, 6], t), [0, 1], [3, -1], [0, -7], [-1, -1]))),
  ],
  Pad: [d64((g, t) => all(pad(x(g, 'a', [2, 3], t), [1, 0], [2, 1])))],
  Concat: [d64((g, t) => all(concat([x(g, 'a', [2, 3], t), x(g, 'b', [2, 2], t)], 1)))],
  Expand: [d64((g, t) => all(expand(x(g, 'a', [3, 1], t), [2, 3, 4])))],
  Identity: [d64((g, t) => all(identity(x(g, 'a', [3], t))))],
  ReduceSum: [d64((g, t) => all(reduceSum(x(g, 'a', [2, 3, 4], t), [0, 2], false)))],
  ReduceMean: [d64((g, t) => all(reduceMean(x(g, 'a', [2, 3, 4], t), [1], true)))],
  ArgMax: 'none',
  LogSoftmax: [
    d64((g, t) => all(logSoftmax(x(g, 'a', [3, 5], t), 1))),
    d64((g, t) => ({ y: crossEntropy(x(g, 'a', [4, 5], t), g.input('labels', [4], 'int64')), wrt: [g.inputs[0]] })),
  ],
  OneHot: 'none',
  BatchNormTrain: [
    d64((g, t) => all(batchNormTrain(x(g, 'x', [3, 2, 3, 2], t), 1e-5, { weight: x(g, 'w', [2], t), bias: x(g, 'b', [2], t) }).y)),
    d64((g, t) => all(batchNormTrain(x(g, 'x', [4, 3, 2, 2], t), 1e-5).y)),
    // every output carrying a gradient (y, x − μ, μ, σ², 1/σ), as in a Hessian-vector product
    d64((g, t) => all(flatConcat(g.apply(OPS.BatchNormTrain, [x(g, 'x', [3, 2, 3, 2], t), x(g, 'w', [2], t), x(g, 'b', [2], t)], { epsilon: 1e-5 })))),
    d64((g, t) => all(flatConcat(g.apply(OPS.BatchNormTrain, [x(g, 'x', [4, 3, 2, 2], t)], { epsilon: 1e-5 })))),
  ],
  GroupNorm: [
    d64((g, t) => all(groupNorm(x(g, 'x', [2, 6, 3, 2], t), 3, 1e-5))),
    // one group: LayerNorm over (C,H,W); an affine Mul after it, as the norm layers apply one
    d64((g, t) => all(E.mul(groupNorm(x(g, 'x', [3, 2, 2, 3], t), 1, 1e-5), x(g, 'w', [2, 2, 3], t)))),
    // x̂ and 1/σ both carrying a gradient, as in a Hessian-vector product
    d64((g, t) => all(flatConcat(g.apply(OPS.GroupNorm, [x(g, 'x', [2, 6, 3, 2], t)], { groups: 3, epsilon: 1e-5 })))),
  ],
};

/** Central differences along a random direction for each input, against ⟨∇L, d⟩. */
async function checkCase(name: string, c: GradCase): Promise<void> {
  const g = new Graph(`grad_${name}`);
  const { y, wrt } = c.build(g, c.dtype);
  const rng = new Rng(['gradcheck', name]);
  const r = g.constant(randomTensor(rng, y) as Float32Array, y.shape, y.dtype, 'projection');
  const loss = reduceSum(E.mul(y, r));
  const grads = gradients(loss, wrt);
  g.output('loss', loss);
  wrt.forEach((v) => g.output(`grad_${v.name}`, grads.get(v)!));

  const program = await Program.create(g, { threads: 1 });
  const feeds: Record<string, TypedArray> = Object.fromEntries(g.inputs.map((v) => [v.name, randomTensor(rng, v)]));
  const base = await program.run(feeds);
  const linear = c.dtype === 'float32'; // float32 cases are linear in each input
  const h = linear ? 1 : 1e-6;
  for (const v of wrt) {
    const direction = randomTensor(rng, v) as Float64Array;
    const shifted = async (sign: number) => {
      const moved = (feeds[v.name] as Float64Array).map((a, i) => a + sign * h * direction[i]);
      return (await program.run({ ...feeds, [v.name]: moved }, ['loss'])).loss[0] as number;
    };
    const numeric = ((await shifted(1)) - (await shifted(-1))) / (2 * h);
    const grad = base[`grad_${v.name}`] as Float64Array;
    const analytic = grad.reduce((s, gi, i) => s + gi * direction[i], 0);
    const scale = Math.max(Math.abs(numeric), Math.abs(analytic), 1e-3);
    expect({ input: v.name, relErr: Math.abs(numeric - analytic) / scale < (linear ? 1e-4 : 1e-6) }).toEqual({ input: v.name, relErr: true });
  }
  await program.release();
}

describe('gradient rules against finite differences', () => {
  for (const [name, cases] of Object.entries(CASES)) {
    if (cases === 'none') {
      it(`${name} is marked as having no gradient`, () => expect(OPS[name as OpName].grad).toBe('none'));
      continue;
    }
    cases.forEach((c, i) => it(`${name} #${i + 1} (${c.dtype})`, () => checkCase(`${name}${i}`, c)));
  }
});
