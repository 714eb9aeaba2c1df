/**
 * Every op of the table: the shape the builder computes is the shape ORT returns, and bad shapes
 * fail at build time with an error naming the op and the shapes. The case table is typed by
 * OpName, so a new op without a case does not compile.
 */
import { Graph, ShapeError, Value } from '../../src/graph/ir';
import { OpName } from '../../src/ops/registry';
import * as E from '../../src/ops/elementwise';
import { batchNormTrain } from '../../src/ops/batchnorm';
import { groupNorm } from '../../src/ops/groupnorm';
import { conv, convTranspose, convWeightGrad } from '../../src/ops/conv';
import { maxPool, maxPoolRouting, PoolGeometry } from '../../src/ops/pool';
import { OPS } from '../../src/ops/registry';
import { gemm, matmul } from '../../src/ops/matmul';
import { argMax, reduceMean, reduceSum } from '../../src/ops/reduce';
import { concat, expand, identity, pad, reshape, slice, transpose } from '../../src/ops/shape';
import { logSoftmax, oneHot } from '../../src/ops/softmax';
import { Rng } from '../../src/util/rng';
import { randomTensor, runGraphTensors } from '../helpers';

type Case = (g: Graph) => Value;
const f = (g: Graph, name: string, shape: number[]) => g.input(name, shape);

const CASES = {
  Add: (g) => E.add(f(g, 'a', [2, 3, 4]), f(g, 'b', [3, 1])),
  Sub: (g) => E.sub(f(g, 'a', [2, 1]), f(g, 'b', [5])),
  Mul: (g) => E.mul(f(g, 'a', [4]), f(g, 'b', [3, 4])),
  Div: (g) => E.div(f(g, 'a', [2, 3]), f(g, 'b', [2, 3])),
  Neg: (g) => E.neg(f(g, 'a', [3, 2])),
  Relu: (g) => E.relu(f(g, 'a', [2, 2, 2])),
  Sqrt: (g) => E.sqrt(E.exp(f(g, 'a', [4]))),
  Reciprocal: (g) => E.reciprocal(f(g, 'a', [4, 1])),
  Exp: (g) => E.exp(f(g, 'a', [1, 3])),
  Log: (g) => E.log(E.exp(f(g, 'a', [3]))),
  Equal: (g) => E.equal(g.input('i', [4], 'int64'), g.input('j', [1], 'int64')),
  Greater: (g) => E.greater(f(g, 'a', [2, 3]), f(g, 'b', [3])),
  Cast: (g) => E.cast(f(g, 'a', [2, 3]), 'float64'),
  Where: (g) => E.where(E.greater(f(g, 'a', [2, 3]), f(g, 'b', [1])), f(g, 'c', [2, 3]), f(g, 'd', [3])),
  Clip: (g) => E.clip(f(g, 'a', [2, 3]), 0, 6),
  Conv: (g) => g.apply(OPS.Conv, [f(g, 'x', [2, 6, 9, 7]), f(g, 'w', [4, 3, 3, 3])], { strides: [2, 1], pads: [1, 1, 1, 1], dilations: [2, 1], group: 2 })[0],
  ConvTranspose: (g) => convTranspose(f(g, 'x', [2, 4, 5, 4]), f(g, 'w', [4, 3, 3, 3]), { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [0, 1] }),
  ConvWeightGrad: (g) => convWeightGrad(f(g, 'x', [2, 3, 9, 8]), f(g, 'dy', [2, 4, 5, 4]), [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }),
  MatMul: (g) => matmul(f(g, 'a', [3, 4]), f(g, 'b', [4, 5])),
  MaxPool: (g) => maxPool(f(g, 'x', [2, 3, 9, 8]), { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  MaxPoolRouting: (g) => {
    const geometry: PoolGeometry = { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
    const x = f(g, 'x', [2, 3, 9, 8]);
    return maxPoolRouting(x, maxPool(x, geometry), geometry);
  },
  Gemm: (g) => gemm(f(g, 'a', [4, 3]), f(g, 'b', [5, 4]), { transA: true, transB: true }, f(g, 'c', [5])),
  Reshape: (g) => reshape(f(g, 'a', [2, 3, 4]), [6, 4]),
  Transpose: (g) => transpose(f(g, 'a', [2, 3, 4]), [2, 0, 1]),
  Slice: (g) => slice(f(g, 'a', [5, 6]), [0, 1], [1, -4], [4, 100]),
  Pad: (g) => pad(f(g, 'a', [2, 3]), [1, 0], [0, 2]),
  Concat: (g) => concat([f(g, 'a', [2, 3]), f(g, 'b', [2, 1])], 1),
  Expand: (g) => expand(f(g, 'a', [3, 1]), [2, 3, 4]),
  Identity: (g) => identity(f(g, 'a', [2])),
  ReduceSum: (g) => reduceSum(f(g, 'a', [2, 3, 4]), [0, 2], true),
  ReduceMean: (g) => reduceMean(f(g, 'a', [2, 3, 4]), [1]),
  ArgMax: (g) => argMax(f(g, 'a', [4, 5]), 1),
  LogSoftmax: (g) => logSoftmax(f(g, 'a', [3, 5]), 1),
  OneHot: (g) => oneHot(g.input('i', [4], 'int64'), 6),
  BatchNormTrain: (g) => batchNormTrain(f(g, 'x', [4, 3, 2, 2]), 1e-5, { weight: f(g, 'w', [3]), bias: f(g, 'b', [3]) }).y,
  GroupNorm: (g) => groupNorm(f(g, 'x', [2, 4, 3, 2]), 2, 1e-5),
} satisfies Record<OpName, Case>;

describe('op shapes match onnxruntime', () => {
  for (const [name, build] of Object.entries(CASES)) {
    it(name, async () => {
      const g = new Graph(name);
      const y = build(g);
      g.output('y', y);
      const rng = new Rng(name);
      const feeds = Object.fromEntries(g.inputs.map((v) => [v.name, randomTensor(rng, v)]));
      const out = await runGraphTensors(g, feeds);
      expect([...out.y.dims]).toEqual([...y.shape]);
      expect(y.dtype).toBe(name === 'Equal' || name === 'Greater' ? 'bool' : name === 'ArgMax' ? 'int64' : name === 'Cast' ? 'float64' : 'float32');
    });
  }
});

describe('bad shapes fail at build time with the op and shapes named', () => {
  const bad: [string, (g: Graph) => unknown, RegExp][] = [
    ['Add', (g) => E.add(f(g, 'a', [2, 3]), f(g, 'b', [4])), /Add: shapes do not broadcast.*float32\[2,3\], float32\[4\]/],
    ['Conv channels', (g) => conv(f(g, 'x', [1, 3, 8, 8]), f(g, 'w', [4, 2, 3, 3])), /Conv: X has 3 channels but W expects 2/],
    ['Conv kernel', (g) => conv(f(g, 'x', [1, 3, 2, 2]), f(g, 'w', [4, 3, 3, 3])), /Conv: kernel larger than the padded input/],
    ['MatMul', (g) => matmul(f(g, 'a', [2, 3]), f(g, 'b', [4, 5])), /MatMul: expects A \[n,k\] and B \[k,m\]/],
    ['Gemm', (g) => gemm(f(g, 'a', [2, 3]), f(g, 'b', [2, 3])), /Gemm: inner dimensions 3 and 2 differ/],
    ['Reshape', (g) => reshape(f(g, 'a', [2, 3]), [4, 2]), /Reshape: cannot reshape to \[4,2\]/],
    ['Transpose', (g) => transpose(f(g, 'a', [2, 3]), [0, 0]), /Transpose: perm \[0,0\] is not a permutation/],
    ['Slice', (g) => slice(f(g, 'a', [2, 3]), [1], [3], [5]), /Slice: empty slice on axis 1/],
    ['Concat', (g) => concat([f(g, 'a', [2, 3]), f(g, 'b', [3, 3])], 1), /Concat: inputs must agree on every axis but 1/],
    ['ReduceSum', (g) => reduceSum(f(g, 'a', [2, 3]), [2]), /ReduceSum: axis 2 out of range for rank 2/],
    ['BatchNormTrain', (g) => batchNormTrain(f(g, 'x', [2, 3, 4, 4]), 1e-5, { weight: f(g, 'w', [4]), bias: f(g, 'b', [4]) }), /BatchNormTrain: γ and β must have shape \[3\]/],
    ['GroupNorm', (g) => groupNorm(f(g, 'x', [2, 6, 4, 4]), 4, 1e-5), /GroupNorm: groups must be a positive integer dividing the 6 channels, got 4/],
    ['Where', (g) => E.where(f(g, 'c', [2]), f(g, 'a', [2]), f(g, 'b', [2])), /Where: condition must be bool/],
  ];
  for (const [name, build, message] of bad) {
    it(name, () => {
      const g = new Graph(name);
      expect(() => build(g)).toThrow(ShapeError);
      expect(() => build(new Graph(name))).toThrow(message);
    });
  }
});
