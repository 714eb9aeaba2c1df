/**
 * Max pooling, with a backward pass made of ops every provider runs.
 *
 * ONNX MaxPool's Indices output would route each output gradient to its input position, but
 * onnxruntime's WebGPU provider has a MaxPool kernel without that output. So the forward pass is
 * MaxPool alone, and the backward pass finds each window's maximum again, per kernel offset:
 * MaxPoolRouting compares the window's values at each offset with the maximum and keeps the
 * first offset (row-major) that equals it, as PyTorch routes ties (after a ReLU the ties are zeros,
 * whose gradient the ReLU stops anyway). The routed gradients, one per offset, are put back at
 * their input positions by the input gradient of a convolution whose kernel picks one offset per
 * output channel (`windowKernel`), over each channel as an image: ConvTranspose sums where windows
 * overlap, and its gradient (a Hessian-vector product differentiates the backward pass) is Conv's.
 * Average pooling needs no op: the importer writes it as a depthwise Conv with a constant kernel.
 */
import { Attrs, OpDef, ShapeError, Value } from '../graph/ir';
import { DATA_TYPE } from '../graph/onnx';
import { convInputGrad, convOutputSize } from './conv';
import { mul } from './elementwise';
import { reshape } from './shape';
import { emitOne, expectArity, expectFloat, firstInputDegree, ints, typed } from './util';

export interface PoolGeometry {
  kernel: [number, number];
  strides: [number, number];
  /** ONNX's order: [top, left, bottom, right]. */
  pads: [number, number, number, number];
}

function poolGeometry(attrs: Attrs): PoolGeometry {
  const [kh, kw] = ints(attrs, 'kernel_shape', []);
  const [sh, sw] = ints(attrs, 'strides', [1, 1]);
  const p = ints(attrs, 'pads', [0, 0, 0, 0]);
  return { kernel: [kh, kw], strides: [sh, sw], pads: [p[0], p[1], p[2], p[3]] };
}

const poolAttrs = (g: PoolGeometry) => ({ kernel_shape: [...g.kernel], strides: [...g.strides], pads: [...g.pads] });

/** Attributes kernel_shape, strides, pads [top, left, bottom, right]; output Y. */
export const MaxPool: OpDef = {
  name: 'MaxPool',
  // max(c·x) = c·max(x) for c > 0.
  homogeneity: firstInputDegree,
  infer(inputs, attrs) {
    expectArity('MaxPool', inputs, 1);
    expectFloat('MaxPool', inputs);
    const [x] = inputs;
    if (x.shape.length !== 4) throw new ShapeError('MaxPool', 'expects X [N,C,H,W]', inputs);
    const { kernel: [kh, kw], strides: [sh, sw], pads: p } = poolGeometry(attrs);
    if (p[0] >= kh || p[2] >= kh || p[1] >= kw || p[3] >= kw) throw new ShapeError('MaxPool', `pads [${p}] must be smaller than the kernel ${kh}×${kw}`, inputs);
    const h = convOutputSize(x.shape[2], kh, sh, p[0], p[2]);
    const w = convOutputSize(x.shape[3], kw, sw, p[1], p[3]);
    if (h < 1 || w < 1) throw new ShapeError('MaxPool', `kernel ${kh}×${kw} larger than the padded input`, inputs);
    return [typed([x.shape[0], x.shape[1], h, w], x.dtype)];
  },
  emit: emitOne('MaxPool'),
  grad: (n, [dy]) => {
    const [x] = n.inputs;
    const geom = poolGeometry(n.attrs);
    const [batch, channels, h, w] = n.outputs[0].shape;
    const offsets = geom.kernel[0] * geom.kernel[1];
    // dY at the offset each window's maximum came from, zero at the others, with the images'
    // channels as one batch of N·C images of K channels (WebGPU's ConvTranspose with groups of one
    // output channel is wrong at stride 2: docs/onnxruntime.md).
    const routed = mul(maxPoolRouting(x, n.outputs[0], geom), reshape(dy!, [batch, channels, 1, h, w]));
    const images = [batch * channels, 1, x.shape[2], x.shape[3]];
    const placed = convInputGrad(reshape(routed, [batch * channels, offsets, h, w]), windowKernel(x, geom), images, { strides: geom.strides, pads: geom.pads });
    return [reshape(placed, x.shape)];
  },
};

/**
 * Where each window's maximum is: inputs X [N,C,H,W] and Y = MaxPool(X) [N,C,Ho,Wo]; output
 * [N, C, K, Ho, Wo] of X's type over the K = kh·kw kernel offsets in row-major order, 1 at the
 * first offset whose value equals the window's maximum (padding never does: it is −∞), 0 at the
 * others. Piecewise constant in X, so it has no gradient.
 */
export const MaxPoolRouting: OpDef = {
  name: 'MaxPoolRouting',
  // The same positions win when X and Y are scaled together by c > 0.
  homogeneity: ([x, y]) => (x === y ? 0 : NaN),
  infer(inputs, attrs) {
    expectArity('MaxPoolRouting', inputs, 2);
    expectFloat('MaxPoolRouting', inputs);
    const [x, y] = inputs;
    const { kernel } = poolGeometry(attrs);
    const expected = MaxPool.infer([x], attrs)[0].shape;
    if (y.shape.length !== 4 || y.shape.some((d, i) => d !== expected[i])) throw new ShapeError('MaxPoolRouting', `expects Y of MaxPool's shape [${expected}]`, inputs);
    return [typed([y.shape[0], y.shape[1], kernel[0] * kernel[1], y.shape[2], y.shape[3]], x.dtype)];
  },
  emit(node, e) {
    const [x, y] = node.inputs;
    const { kernel: [kh, kw], strides: [sh, sw], pads: p } = poolGeometry(node.attrs);
    const [n, c, h, w] = y.shape;
    const offsets = kh * kw;
    let padded = x.name;
    if (p.some((v) => v > 0)) {
      padded = e.temp('pool_padded');
      e.node('Pad', [x.name, e.constInt64([0, 0, p[0], p[1], 0, 0, p[2], p[3]]), e.constFloat([-Infinity], x.dtype, [])], [padded], { mode: { string: 'constant' } });
    }
    // Offset by offset, on tensors of Y's shape (no broadcasting), as numbers 0 and 1 (WebGPU has
    // no bool Concat, CUDA no And): the value at offset (i, j) of every window (rows i, i + sh, …,
    // i + sh·(Ho − 1)), whether it is the maximum, and whether it is the first offset that is.
    const firsts: string[] = [];
    let noneYet = '';
    for (let k = 0; k < offsets; k++) {
      const [i, j] = [Math.floor(k / kw), k % kw];
      const [tap, isMax, isMaxNumber, first, first5, stillNone] = ['pool_tap', 'pool_is_max', 'pool_is_max_number', 'pool_first', 'pool_first5', 'pool_none_yet'].map((hint) => e.temp(hint));
      e.node('Slice', [padded, e.constInt64([i, j]), e.constInt64([i + sh * (h - 1) + 1, j + sw * (w - 1) + 1]), e.constInt64([2, 3]), e.constInt64([sh, sw])], [tap]);
      e.node('Equal', [tap, y.name], [isMax]);
      e.node('Cast', [isMax], [k === 0 ? first : isMaxNumber], { to: { int: DATA_TYPE[x.dtype] } });
      if (k > 0) e.node('Mul', [isMaxNumber, noneYet], [first]);
      if (k < offsets - 1) {
        e.node('Sub', [k === 0 ? e.constFloat([1], x.dtype, []) : noneYet, first], [stillNone]);
        noneYet = stillNone;
      }
      e.node('Reshape', [first, e.constInt64([n, c, 1, h, w])], [first5]);
      firsts.push(first5);
    }
    e.node('Concat', firsts, [node.outputs[0].name], { axis: { int: 2 } });
  },
  grad: 'none',
};

/**
 * The kernel [K, 1, kh, kw] whose convolution of one channel (zero-padded) gives, in channel k, the
 * values at kernel offset k of every window; its input gradient puts such per-offset values back
 * where they came from, summing where windows overlap.
 */
function windowKernel(x: Value, { kernel: [kh, kw] }: PoolGeometry): Value {
  const offsets = kh * kw;
  return x.graph.constant(Array.from({ length: offsets * offsets }, (_, i) => (i % (offsets + 1) === 0 ? 1 : 0)), [offsets, 1, kh, kw], x.dtype);
}

export const maxPool = (x: Value, g: PoolGeometry): Value => x.graph.apply(MaxPool, [x], poolAttrs(g), 'maxpool')[0];
export const maxPoolRouting = (x: Value, y: Value, g: PoolGeometry): Value => x.graph.apply(MaxPoolRouting, [x, y], poolAttrs(g))[0];
