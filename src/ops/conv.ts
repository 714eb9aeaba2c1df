/**
 * Conv (2-D, with groups and dilations) and ConvTranspose, with the backward pass built from standard ops.
 *
 * Conv is linear in each input. The input gradient is the transposed convolution of dY with the
 * same kernel (for stride 1, a plain Conv with the flipped kernel); the weight gradient is the
 * correlation of the input with dY, an op of its own (ConvWeightGrad) because its fastest form,
 * an NCHWc convolution or im2col + Gemm, depends on the CPU and is chosen at serialization.
 */
import { Attrs, Emitter, NCHWC_DOMAIN, Node, OnnxAttrs, OpDef, ShapeError, Value } from '../graph/ir';
import { bilinearPlus, constantOnly, emitOne, expectArity, expectFloat, int, ints, onnxAttrs, typed } from './util';
import { Reshape, reshape, slice, Slice, Transpose, transpose } from './shape';

/**
 * Every ONNX value of a weight gradient's expansion is named `dw_…`, so a profile can tell its nodes
 * apart: the temporaries get the prefix, and the op's output the hint (Graph.apply names it `dw_<id>`).
 */
const WEIGHT_GRAD_HINT = 'dw';
export const WEIGHT_GRAD_PREFIX = `${WEIGHT_GRAD_HINT}_`;
/**
 * So that a profile can tell a forward conv's weight from an input gradient's: the kernel cut to the
 * taps that read input (`convolve`) is named `used_taps_…`, and the flipped kernel of an input
 * gradient as a conv `flipped_kernel_…`.
 */
const USED_TAPS_HINT = 'used_taps';
export const USED_TAPS_PREFIX = `${USED_TAPS_HINT}_`;
const FLIPPED_KERNEL_HINT = 'flipped_kernel';
export const FLIPPED_KERNEL_PREFIX = `${FLIPPED_KERNEL_HINT}_`;

/** Geometry of a 2-D convolution, with ONNX's pad order [top, left, bottom, right]; no dilations and one group unless given. */
export interface ConvGeometry {
  strides: [number, number];
  pads: [number, number, number, number];
  dilations?: [number, number];
  /** Input and output channels split into this many groups, each convolved with its own filters (depthwise: one channel each). */
  group?: number;
}

/** The extent a dilated kernel covers: d·(k − 1) + 1. The output-size and padding arithmetic below takes it as the kernel. */
export const dilatedKernel = (kernel: number, dilation: number): number => dilation * (kernel - 1) + 1;

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
 * The taps of one kernel position in the padded input, as a Slice: output y reads padded row
 * y·s + tap, so the rows tap, tap + s, …, tap + s·(out − 1) — start `tap`, step `s`, and the
 * exclusive end one past the last row. The padded input has in + padBegin + padEnd ≥ s·(out − 1) + k
 * rows (the definition of out), so every tap < k fits; rows past the last one any tap reads (at
 * most s − 1 of them, dropped by the forward conv's floor division) get no gradient.
 */
export function im2colSlice(tap: number, stride: number, out: number): { start: number; end: number; step: number } {
  return { start: tap, end: tap + stride * (out - 1) + 1, step: stride };
}

/**
 * Padding of the stride-1 input gradient as a plain convolution. With stride 1,
 * dX[h] = Σ_i dY[h + padBegin − i] · W[i] (i over the k taps, dY zero outside [0, out)); with the
 * flipped kernel W'[i'] = W[k − 1 − i'] that is Σ_i' dY[h − (k − 1 − padBegin) + i'] · W'[i'], a
 * correlation of dY padded by k − 1 − padBegin in front. The end padding k − 1 − padEnd makes the
 * output extent out + (k − 1 − padBegin) + (k − 1 − padEnd) − k + 1 = in. Returns undefined when a
 * pad is ≥ k (a negative pad; ConvTranspose handles that case).
 */
export function flippedConvPads(kernel: number, padBegin: number, padEnd: number): [number, number] | undefined {
  const pads: [number, number] = [kernel - 1 - padBegin, kernel - 1 - padEnd];
  return pads.every((p) => p >= 0) ? pads : undefined;
}

/**
 * The kernel taps of one spatial axis that ever multiply real input, [first, last], and the pads of
 * the conv with the kernel cut to them. Tap i of a kernel of k, stride s, dilation d reads the padded
 * rows i·d + y·s for y = 0..out − 1, of which padBegin..padBegin + in − 1 are real; a tap that reads
 * only padding adds x·0, so cutting it off leaves the output exact. Cutting `first` taps in front moves
 * each remaining tap's reads first·d rows back, which is padBegin − first·d; cutting k − 1 − last at
 * the end takes (k − 1 − last)·d off padEnd, and the output extent in + pads − d·(k' − 1) − 1 is
 * unchanged. A cut that would make a pad negative (only with dilation can a tap jump past the padding
 * in front) is shortened, keeping taps that multiply zeros. On a 1×1 image a 3×3 kernel with pad 1
 * keeps its centre tap: ResNet's last stage at 32×32 input.
 */
export function usedTaps(input: number, kernel: number, stride: number, dilation: number, padBegin: number, padEnd: number): { first: number; last: number; pads: [number, number] } {
  const out = convOutputSize(input, dilatedKernel(kernel, dilation), stride, padBegin, padEnd);
  const used: number[] = [];
  for (let tap = 0; tap < kernel; tap++) {
    // The first output whose read of this tap is not in the front padding, and whether that read is real.
    const y = Math.max(0, Math.ceil((padBegin - tap * dilation) / stride));
    if (y < out && tap * dilation + y * stride < padBegin + input) used.push(tap);
  }
  if (used.length === 0) return { first: 0, last: kernel - 1, pads: [padBegin, padEnd] };
  const first = Math.min(used[0], Math.floor(padBegin / dilation));
  const last = Math.max(used[used.length - 1], kernel - 1 - Math.floor(padEnd / dilation));
  const pads: [number, number] = [padBegin - first * dilation, padEnd - (kernel - 1 - last) * dilation];
  if (convOutputSize(input, dilatedKernel(last - first + 1, dilation), stride, pads[0], pads[1]) !== out) {
    throw new Error(`usedTaps: taps ${first}..${last} with pads [${pads}] change the output extent ${out}`);
  }
  return { first, last, pads };
}

type FullGeometry = Required<ConvGeometry>;

function geometry(attrs: Attrs): FullGeometry {
  const s = ints(attrs, 'strides', [1, 1]);
  const p = ints(attrs, 'pads', [0, 0, 0, 0]);
  const d = ints(attrs, 'dilations', [1, 1]);
  return { strides: [s[0], s[1]], pads: [p[0], p[1], p[2], p[3]], dilations: [d[0], d[1]], group: int(attrs, 'group', 1) };
}

/** A geometry as op attributes; dilations and group only where they are not the default, so that plain convs serialize as before. */
function geometryAttrs({ strides, pads, dilations = [1, 1], group = 1 }: ConvGeometry): Record<string, number | number[]> {
  const attrs: Record<string, number | number[]> = { strides: [...strides], pads: [...pads] };
  if (dilations.some((d) => d !== 1)) attrs.dilations = [...dilations];
  if (group !== 1) attrs.group = group;
  return attrs;
}

const plain = (g: FullGeometry): boolean => g.group === 1 && g.dilations.every((d) => d === 1);

/** The two float rank-4 operands of Conv, ConvWeightGrad and ConvTranspose; `expected` names them in the error. */
function expectConvOperands(op: string, inputs: readonly Value[], expected: string): void {
  expectArity(op, inputs, 2);
  expectFloat(op, inputs);
  if (inputs.some((v) => v.shape.length !== 4)) throw new ShapeError(op, `expects ${expected}`, inputs);
}

export const Conv: OpDef = {
  name: 'Conv',
  homogeneity: bilinearPlus,
  infer(inputs, attrs) {
    expectConvOperands('Conv', inputs, 'X [N,C,H,W] and W [M,C,kh,kw]');
    const [x, w] = inputs;
    const { strides, pads, dilations, group } = geometry(attrs);
    if (group < 1 || x.shape[1] !== w.shape[1] * group || w.shape[0] % group !== 0) {
      throw new ShapeError('Conv', `X has ${x.shape[1]} channels but W expects ${w.shape[1]} per group in ${group} group(s) of ${w.shape[0]} filters`, inputs);
    }
    const h = convOutputSize(x.shape[2], dilatedKernel(w.shape[2], dilations[0]), strides[0], pads[0], pads[2]);
    const wo = convOutputSize(x.shape[3], dilatedKernel(w.shape[3], dilations[1]), strides[1], pads[1], pads[3]);
    if (h < 1 || wo < 1) throw new ShapeError('Conv', 'kernel larger than the padded input', inputs);
    return [typed([x.shape[0], w.shape[0], h, wo], x.dtype)];
  },
  emit(node: Node, e: Emitter) {
    const [x, w] = node.inputs;
    const [m, c, kh, kw] = w.shape;
    const b = e.nchwcBlock;
    if (!b || x.dtype !== 'float32' || c % b !== 0 || m % b !== 0 || !plain(geometry(node.attrs))) return emitOne('Conv')(node, e);
    // ORT's NCHWc convolution (MLAS, the kernels its optimizer uses for constant weights) with the
    // weights reordered every run, as they are inputs here: [M,C,kh,kw] → OIHWBiBo, i.e.
    // [M/b, C/b, kh, kw, b_in, b_out], and the activations reordered to and from blocks of b channels.
    // Measured (`ilr bench --model preresnet32` against `--no-nchwc`, 2 threads, block 16): the train
    // step went from 119 to 165 images/s, reorders included.
    const blocks = e.temp('conv_w_blocks');
    const blocked = e.temp('conv_w_oihwbibo');
    const filter = e.temp('conv_w_nchwc');
    const yc = e.temp('conv_y_nchwc');
    e.node('Reshape', [w.name, e.constInt64([m / b, b, c / b, b, kh, kw])], [blocks]);
    e.node('Transpose', [blocks], [blocked], { perm: { ints: [0, 2, 4, 5, 3, 1] } });
    e.node('Reshape', [blocked, e.constInt64([m, c, kh, kw])], [filter]);
    e.node('Conv', [e.nchwcCopy(x.name), filter], [yc], { ...onnxAttrs(node.attrs), kernel_shape: { ints: [kh, kw] } }, NCHWC_DOMAIN);
    e.node('ReorderOutput', [yc], [node.outputs[0].name], { channels: { int: m } }, NCHWC_DOMAIN);
  },
  grad: (n, [dy], needs) => {
    const [x, w] = n.inputs;
    const g = geometry(n.attrs);
    return [needs[0] ? convInputGrad(dy!, w, x.shape, g) : undefined, needs[1] ? convWeightGrad(x, dy!, w.shape, g) : undefined];
  },
};

/**
 * dX. For stride 1 a plain Conv of dY with the flipped kernel, channels swapped (W' [C,M,kh,kw]):
 * ORT's ConvTranspose loops per image with a single-threaded col2im and runs up to 2× slower than
 * the forward conv of the same size (32 vs 16 ms at N=128, 16 ch, 32×32, 2 threads; preresnet20
 * train step 835 → 639 ms). Strided convs use ConvTranspose with output_padding.
 */
export function convInputGrad(dy: Value, w: Value, xShape: readonly number[], geom: ConvGeometry): Value {
  const { strides, pads, dilations = [1, 1], group = 1 } = geom;
  const [m, cg, kh, kw] = w.shape;
  const ph = flippedConvPads(kh, pads[0], pads[2]);
  const pw = flippedConvPads(kw, pads[1], pads[3]);
  if (strides[0] === 1 && strides[1] === 1 && dilations.every((d) => d === 1) && ph && pw) {
    // Steps −1 from the last tap to before the first reverse both spatial axes of the (small) kernel;
    // a 1×1 kernel is its own reversal (the copy took 5 ms per 512×512 kernel).
    const taps = kh === 1 && kw === 1 ? w : slice(w, [2, 3], [-1, -1], [-kh - 1, -kw - 1], [-1, -1]);
    // Within each group, the flipped kernel maps the group's M/g output channels back to its C/g inputs.
    const flipped = group === 1
      ? w.graph.apply(Transpose, [taps], { perm: [1, 0, 2, 3] }, FLIPPED_KERNEL_HINT)[0]
      : w.graph.apply(Reshape, [transpose(reshape(taps, [group, m / group, cg, kh, kw]), [0, 2, 1, 3, 4])], { shape: [group * cg, m / group, kh, kw] }, FLIPPED_KERNEL_HINT)[0];
    return dy.graph.apply(Conv, [dy, flipped], geometryAttrs({ strides: [1, 1], pads: [ph[0], pw[0], ph[1], pw[1]], group }))[0];
  }
  const outputPadding = [
    convTransposeOutputPadding(xShape[2], dilatedKernel(kh, dilations[0]), strides[0], pads[0], pads[2]),
    convTransposeOutputPadding(xShape[3], dilatedKernel(kw, dilations[1]), strides[1], pads[1], pads[3]),
  ];
  return convTranspose(dy, w, { strides, pads, dilations, group, outputPadding });
}

/**
 * dW[m,c,i,j] = Σ_{n,y,x} dY[n,m,y,x] · Xpad[n,c,y·s+i,x·s+j]: the ConvWeightGrad op, whose form
 * is chosen when the program is serialized (only then is the NCHWc block size known).
 */
export function convWeightGrad(x: Value, dy: Value, wShape: readonly number[], geom: ConvGeometry): Value {
  const attrs = { kernel_shape: [wShape[2], wShape[3]], ...geometryAttrs(geom) };
  return x.graph.apply(ConvWeightGrad, [x, dy], attrs, WEIGHT_GRAD_HINT)[0];
}

/** Conv's weight gradient from X [N,C,H,W] and dY [N,M,Ho,Wo]; attributes kernel_shape, strides, pads. */
export const ConvWeightGrad: OpDef = {
  name: 'ConvWeightGrad',
  homogeneity: constantOnly,
  infer(inputs, attrs) {
    expectConvOperands('ConvWeightGrad', inputs, 'X [N,C,H,W] and dY [N,M,Ho,Wo]');
    const [x, dy] = inputs;
    const [kh, kw] = ints(attrs, 'kernel_shape', []);
    const { strides, pads, dilations, group } = geometry(attrs);
    const size = (axis: 2 | 3, k: number) => convOutputSize(x.shape[axis], dilatedKernel(k, dilations[axis - 2]), strides[axis - 2], pads[axis - 2], pads[axis]);
    const expected = [x.shape[0], dy.shape[1], size(2, kh), size(3, kw)];
    if (!expected.every((d, i) => d === dy.shape[i]) || x.shape[1] % group !== 0 || dy.shape[1] % group !== 0) {
      throw new ShapeError('ConvWeightGrad', `dY must be the conv output [${expected}], its channels and X's split into ${group} group(s)`, inputs);
    }
    return [typed([dy.shape[1], x.shape[1] / group, kh, kw], x.dtype)];
  },
  emit(node, e) {
    const [x, dy] = node.inputs;
    const b = e.nchwcBlock;
    const blocked = b > 0 && x.dtype === 'float32' && x.shape[0] % b === 0 && dy.shape[1] % b === 0 && plain(geometry(node.attrs));
    (blocked ? emitBlockedWeightGrad : emitIm2colWeightGrad)(node, e);
  },
  // dW is bilinear in X and dY. Against an output gradient G [M,C,kh,kw]: through X, G acts as the
  // kernel of Conv's input gradient with dY as the output gradient; through dY, it is Conv(X, G).
  grad: (n, [g], needs) => {
    const [x, dy] = n.inputs;
    const geom = geometry(n.attrs);
    return [
      needs[0] ? convInputGrad(dy, g!, x.shape, geom) : undefined,
      needs[1] ? n.graph.apply(Conv, [x, g!], geometryAttrs(geom))[0] : undefined,
    ];
  },
};

/**
 * dW is itself a convolution, with the batch as the channels being summed over: Xᵀ [C,N,H,W]
 * (C plays the batch), padded by the forward pads, convolved with the kernel dYᵀ [M,N,Ho,Wo]
 * dilated by the forward stride, gives [C,M,·,·]; its first kh×kw outputs, transposed, are dW
 * [M,C,kh,kw]. (A stride s leaves (H + pads − kh) mod s trailing rows that no output read; where
 * they are rows of X, the dilated kernel still covers them, giving extra outputs that are dropped.)
 * ORT's NCHWc kernel runs it when N and M are whole blocks. Measured at N=128, 2 threads, stride 1,
 * one layer (throwaway ORT script, idle machine, before the explicit padding below): 13.3 / 8.1 /
 * 6.8 ms at 16 ch 32×32 / 32 ch 16×16 / 64 ch 8×8, against 34.8 / 14.8 / 10.8 ms for im2col + Gemm
 * and 41.4 / 31.3 / 21.0 ms for ORT's plain Conv. With it, the conv alone takes 3.9 / 3.2 / 2.8 ms.
 *
 * The padding is explicit, not the conv's pads: MLAS computes an output that reads padding on a
 * slow per-output path, and here, with a kernel as large as the image, 8 of the 9 outputs would.
 * Per preresnet32 step the weight-gradient convs went from 230 to 100 ms (`ilr bench --model
 * preresnet32 --profile`), with bit-identical gradients. The padded copy is made by a blocked
 * depthwise 1×1 conv with weights 1 under the pads (exact: x·1), which is multithreaded: 10 ms per
 * step, against 26 ms for ONNX Pad before the reorder (Pad after the reorder, on the 5-D blocked
 * tensor, was no faster).
 */
function emitBlockedWeightGrad(node: Node, e: Emitter): void {
  const [x, dy] = node.inputs;
  const [n, m, ho, wo] = dy.shape;
  const b = e.nchwcBlock;
  const { strides, pads } = geometry(node.attrs);
  const [kh, kw] = ints(node.attrs, 'kernel_shape', []);
  // A stride can leave trailing rows (columns) that no output reads. Where they are padding, the
  // padding is not made, so the conv does not compute the taps beyond kh×kw (16 outputs instead of
  // 9 for a 3×3 kernel at stride 2); rows of X no output reads are sliced off the output instead.
  const unread = (axis: 2 | 3) => x.shape[axis] + pads[axis - 2] + pads[axis] - strides[axis - 2] * (dy.shape[axis] - 1) - (axis === 2 ? kh : kw);
  const used = [pads[0], pads[1], pads[2] - Math.min(pads[2], unread(2)), pads[3] - Math.min(pads[3], unread(3))];
  const xt = weightGradStep(e, 'Transpose', [x.name], 'xt', { perm: { ints: [1, 0, 2, 3] } });
  let xc = e.nchwcCopy(xt);
  if (used.some((p) => p !== 0)) {
    // A blocked depthwise conv needs its weights in OIHWBo, [N/b, 1, 1, b]: all ones either way.
    const ones = e.constFloat(new Array<number>(n).fill(1), 'float32', [n, 1, 1, 1]);
    xc = weightGradStep(e, 'Conv', [xc, ones], 'xpad', { kernel_shape: { ints: [1, 1] }, pads: { ints: used }, group: { int: n } }, NCHWC_DOMAIN);
  }
  // dY [N,M,Ho,Wo] as the kernel [O=M, I=N, Ho, Wo] in OIHWBiBo, [M/b, N/b, Ho·Wo, b_n, b_m]
  // (see Conv.emit), from dY in NCHWc, [N/b, b_n, M/b, Ho·Wo, b_m] (the copy the input gradient's
  // conv reads too). Whole Ho·Wo·b_m planes move M/b to the front (no copy when M is one block);
  // then [M/b·N/b, b_n, Ho·Wo, b_m] is read as a blocked tensor of b·b channels, whose channels-last
  // ReorderOutput writes [M/b·N/b, Ho·Wo, b_n·b_m]. Measured per layer (N=128, 2 threads, ORT
  // micro-benchmark with graph optimizations off): 0.77 / 0.35 / 0.08 ms at 16 ch 32×32 / 32 ch
  // 16×16 / 64 ch 8×8, against 0.89 / 0.52 / 0.20 ms for one 6-D Transpose moving b_m-float
  // blocks (and one moving single floats, from plain dY, is slower still: 177 vs 40 ms of
  // Transpose per preresnet32 step).
  let planes = e.nchwcCopy(dy.name);
  if (m > b) {
    const byImage = weightGradStep(e, 'Reshape', [planes, e.constInt64([n / b, b, m / b, ho * wo * b])], 'dy_planes');
    planes = weightGradStep(e, 'Transpose', [byImage], 'dy_mnb', { perm: { ints: [2, 0, 1, 3] } });
  }
  const asBlocked = weightGradStep(e, 'Reshape', [planes, e.constInt64([(m / b) * (n / b), b * b, ho * wo, 1])], 'dy_bb');
  const channelsLast = weightGradStep(e, 'ReorderOutput', [asBlocked], 'dy_oihwbibo', { channels: { int: b * b }, channels_last: { int: 1 } }, NCHWC_DOMAIN);
  const kernel = weightGradStep(e, 'Reshape', [channelsLast, e.constInt64([m, n, ho, wo])], 'kernel_nchwc');
  const attrs = { kernel_shape: { ints: [ho, wo] }, dilations: { ints: strides } };
  const yc = weightGradStep(e, 'Conv', [xc, kernel], 'nchwc', attrs, NCHWC_DOMAIN);
  let cm = weightGradStep(e, 'ReorderOutput', [yc], 'cm', { channels: { int: m } }, NCHWC_DOMAIN);
  if (unread(2) > pads[2] || unread(3) > pads[3]) {
    cm = weightGradStep(e, 'Slice', [cm, e.constInt64([0, 0]), e.constInt64([kh, kw]), e.constInt64([2, 3])], 'cm_taps');
  }
  e.node('Transpose', [cm], [node.outputs[0].name], { perm: { ints: [1, 0, 2, 3] } });
}

/**
 * The portable form, for batches or output channels that are not whole blocks (full-batch chunks)
 * and where ORT lacks the NCHWc kernels: im2col and one Gemm. X is transposed to [C,N,H,W] and
 * padded, each tap (i,j) is a strided Slice [C,N,Ho,Wo] (im2colSlice), the kh·kw slices are stacked
 * to cols [kh·kw·C, N·Ho·Wo], and dW = dYᵀ [M, N·Ho·Wo] · colsᵀ, reshaped [M,kh,kw,C] and
 * transposed to [M,C,kh,kw]. Measured against ORT's plain Conv of Xᵀ with dYᵀ as a dilated kernel
 * (it builds an im2col of N·Ho·Wo rows per output tap and threads it badly): 47 vs 95 ms at N=128,
 * 16 ch, 32×32; preresnet20 train step 1991 → 639 ms.
 */
function emitIm2colWeightGrad(node: Node, e: Emitter): void {
  const [x, dy] = node.inputs;
  const [m, cg, kh, kw] = node.outputs[0].shape;
  const c = x.shape[1];
  const [n, , ho, wo] = dy.shape;
  const { strides, pads, dilations, group } = geometry(node.attrs);
  let xt = weightGradStep(e, 'Transpose', [x.name], 'xt', { perm: { ints: [1, 0, 2, 3] } });
  if (pads.some((p) => p !== 0)) {
    xt = weightGradStep(e, 'Pad', [xt, e.constInt64([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]])], 'xpad', { mode: { string: 'constant' } });
  }
  const [hp, wp] = [x.shape[2] + pads[0] + pads[2], x.shape[3] + pads[1] + pads[3]];
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const r = im2colSlice(i * dilations[0], strides[0], ho);
      const q = im2colSlice(j * dilations[1], strides[1], wo);
      const whole = r.start === 0 && q.start === 0 && r.end === hp && q.end === wp && r.step === 1 && q.step === 1;
      const bounds = () => [[r.start, q.start], [r.end, q.end], [2, 3], [r.step, q.step]].map((v) => e.constInt64(v));
      taps.push(whole ? xt : weightGradStep(e, 'Slice', [xt, ...bounds()], 'tap'));
    }
  }
  const stacked = taps.length > 1 ? weightGradStep(e, 'Concat', taps, 'taps', { axis: { int: 0 } }) : taps[0];
  const dyt = weightGradStep(e, 'Transpose', [dy.name], 'dyt', { perm: { ints: [1, 0, 2, 3] } });
  let product: string;
  if (group === 1) {
    const cols = weightGradStep(e, 'Reshape', [stacked, e.constInt64([kh * kw * c, n * ho * wo])], 'cols');
    const rows = weightGradStep(e, 'Reshape', [dyt, e.constInt64([m, n * ho * wo])], 'dy_rows');
    product = weightGradStep(e, 'Gemm', [rows, cols], 'mkkc', { transB: { int: 1 } });
  } else {
    // One product per group, batched: dY's rows of group g [M/g, N·Ho·Wo] times the taps of its channels [N·Ho·Wo, kh·kw·C/g].
    const byGroup = weightGradStep(e, 'Reshape', [stacked, e.constInt64([kh * kw, group, cg, n * ho * wo])], 'cols_groups');
    const grouped = weightGradStep(e, 'Transpose', [byGroup], 'cols_gpkc', { perm: { ints: [1, 3, 0, 2] } });
    const cols = weightGradStep(e, 'Reshape', [grouped, e.constInt64([group, n * ho * wo, kh * kw * cg])], 'cols');
    const rows = weightGradStep(e, 'Reshape', [dyt, e.constInt64([group, m / group, n * ho * wo])], 'dy_rows');
    product = weightGradStep(e, 'MatMul', [rows, cols], 'mkkc');
  }
  const mkkc = weightGradStep(e, 'Reshape', [product, e.constInt64([m, kh, kw, cg])], 'mkkc4');
  e.node('Transpose', [mkkc], [node.outputs[0].name], { perm: { ints: [0, 3, 1, 2] } });
}

/** One node of a weight gradient's expansion, whose output gets a fresh `dw_…` name; returns that name. */
function weightGradStep(e: Emitter, opType: string, inputs: string[], hint: string, attrs: OnnxAttrs = {}, domain?: string): string {
  const out = e.temp(WEIGHT_GRAD_PREFIX + hint);
  e.node(opType, inputs, [out], attrs, domain);
  return out;
}

/** ConvTranspose with W [Cin, Cout/g, kh, kw]. Used by Conv's backward pass. */
export const ConvTranspose: OpDef = {
  name: 'ConvTranspose',
  homogeneity: constantOnly,
  infer(inputs, attrs) {
    const expected = 'X [N,C,H,W] and W [C,M,kh,kw]';
    expectConvOperands('ConvTranspose', inputs, expected);
    const [x, w] = inputs;
    const { strides: s, pads: p, dilations: d, group } = geometry(attrs);
    if (x.shape[1] !== w.shape[0] || x.shape[1] % group !== 0) throw new ShapeError('ConvTranspose', `expects ${expected} in ${group} group(s)`, inputs);
    const op = ints(attrs, 'output_padding', [0, 0]);
    const h = s[0] * (x.shape[2] - 1) + op[0] + dilatedKernel(w.shape[2], d[0]) - p[0] - p[2];
    const wo = s[1] * (x.shape[3] - 1) + op[1] + dilatedKernel(w.shape[3], d[1]) - p[1] - p[3];
    if (op[0] >= s[0] || op[1] >= s[1] || op.some((v) => v < 0)) throw new ShapeError('ConvTranspose', `output_padding [${op}] must be below the stride`, inputs);
    return [typed([x.shape[0], w.shape[1] * group, h, wo], x.dtype)];
  },
  emit: emitOne('ConvTranspose'),
  // ConvTranspose is the adjoint of Conv with the same kernel and geometry: ⟨G, ConvT_W(X)⟩ =
  // ⟨Conv_W(G), X⟩. So dX = Conv_W(G), and dW is Conv's weight gradient with G as the input and X
  // as the output gradient (the Hessian-vector product differentiates Conv's input gradient).
  grad: (n, [dy], needs) => {
    const [x, w] = n.inputs;
    const geom = geometry(n.attrs);
    return [
      needs[0] ? n.graph.apply(Conv, [dy!, w], geometryAttrs(geom))[0] : undefined,
      needs[1] ? convWeightGrad(dy!, x, w.shape, geom) : undefined,
    ];
  },
};

export interface ConvOptions {
  stride?: number;
  pad?: number;
}

export function conv(x: Value, w: Value, { stride = 1, pad = 0 }: ConvOptions = {}): Value {
  return convolve(x, w, { strides: [stride, stride], pads: [pad, pad, pad, pad] });
}

/**
 * Conv with any geometry: groups, dilations, per-axis strides and pads. Where some kernel rows or
 * columns only ever read padding (usedTaps), the conv gets the kernel sliced to the taps that read
 * input, with pads to match: the same output, and its gradients (the Slice's pads dW back with zeros)
 * and ORT's weight reorders work on the smaller kernel. On 32×32 inputs ResNet-18's last stage runs
 * at 1×1 (from 2×2 for its strided first conv), where 8 (5) of the 9 taps of its 512-filter kernels read
 * padding only.
 */
export function convolve(x: Value, w: Value, geom: ConvGeometry): Value {
  const [kh, kw] = [w.shape[2], w.shape[3]];
  const [dh, dw] = geom.dilations ?? [1, 1];
  const rows = usedTaps(x.shape[2], kh, geom.strides[0], dh, geom.pads[0], geom.pads[2]);
  const cols = usedTaps(x.shape[3], kw, geom.strides[1], dw, geom.pads[1], geom.pads[3]);
  if (rows.first === 0 && rows.last === kh - 1 && cols.first === 0 && cols.last === kw - 1) {
    return x.graph.apply(Conv, [x, w], geometryAttrs(geom))[0];
  }
  const attrs = { axes: [2, 3], starts: [rows.first, cols.first], ends: [rows.last + 1, cols.last + 1] };
  const taps = w.graph.apply(Slice, [w], attrs, USED_TAPS_HINT)[0];
  const pads: ConvGeometry['pads'] = [rows.pads[0], cols.pads[0], rows.pads[1], cols.pads[1]];
  return x.graph.apply(Conv, [x, taps], geometryAttrs({ ...geom, pads }))[0];
}

export function convTranspose(x: Value, w: Value, g: ConvGeometry & { outputPadding: number[] }): Value {
  const attrs = geometryAttrs(g);
  if (g.outputPadding.some((v) => v !== 0)) attrs.output_padding = g.outputPadding;
  return x.graph.apply(ConvTranspose, [x, w], attrs)[0];
}
