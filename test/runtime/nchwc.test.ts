/**
 * ORT's NCHWc convolution (ops/conv.ts): with the weights reordered at run time it gives the plain
 * ONNX Conv's numbers, and it is emitted only for float32 convs whose channels are whole blocks.
 * The same holds for the weight gradient in its NCHWc form against im2col + Gemm.
 */
import { Graph, NCHWC_DOMAIN } from '../../src/graph/ir';
import { toModelProto } from '../../src/graph/onnx';
import { conv, convWeightGrad } from '../../src/ops/conv';
import { Program } from '../../src/runtime/session';
import { nchwcBlockSize } from '../../src/runtime/nchwc';
import { Rng } from '../../src/util/rng';
import { randomTensor } from '../helpers';

function convGraph(c: number, m: number, kernel: number, stride: number): Graph {
  const g = new Graph(`conv_${c}_${m}_${kernel}_${stride}`);
  g.output('y', conv(g.input('x', [4, c, 12, 12]), g.input('w', [m, c, kernel, kernel]), { stride, pad: kernel >> 1 }));
  return g;
}
function weightGradGraph(n: number, c: number, m: number, size: number, stride: number, kernel = 3): Graph {
  const g = new Graph(`dw_${n}_${c}_${m}_${size}_${stride}_${kernel}`);
  const pad = kernel >> 1;
  const out = Math.floor((size + 2 * pad - kernel) / stride) + 1;
  const dw = convWeightGrad(g.input('x', [n, c, size, size]), g.input('dy', [n, m, out, out]), [m, c, kernel, kernel], {
    strides: [stride, stride],
    pads: [pad, pad, pad, pad],
  });
  g.output('dw', dw);
  return g;
}
const usesNchwc = (g: Graph, block: number) => toModelProto(g, { nchwcBlock: block }).graph!.node!.some((n) => n.domain === NCHWC_DOMAIN);

it('the block size is that of AVX-512 or AVX2, or 0 where the kernels are missing', async () => {
  expect([0, 8, 16]).toContain(await nchwcBlockSize());
});

it('NCHWc and plain Conv agree (1e-5) for 3×3 and 1×1 kernels, strides 1 and 2', async () => {
  const block = await nchwcBlockSize();
  const rng = new Rng([7, 'nchwc']);
  for (const [kernel, stride] of [[3, 1], [3, 2], [1, 2]]) {
    const g = convGraph(32, 16, kernel, stride);
    expect(usesNchwc(g, block)).toBe(block > 0);
    expect(await blockedVsPlainError(g, rng)).toBeLessThan(1e-5);
  }
});

it('the NCHWc weight gradient agrees with im2col + Gemm (1e-5): 3 input channels, strides 1 and 2, trailing rows, 1 to 4 blocks of output channels', async () => {
  const block = await nchwcBlockSize();
  const rng = new Rng([8, 'nchwc']);
  // [channels, size, stride, kernel, output channels]: at size 8 and stride 2 the last row is read
  // by no output (8 + 2 − 3 is odd), so the dilated form computes one extra tap row, which is
  // dropped. One block of output channels takes the kernel layout without moving dY's planes.
  const b = block || 16;
  const cases = [[3, 8, 1, 3, 32], [16, 8, 1, 3, 32], [16, 8, 2, 3, 32], [16, 9, 2, 3, 32], [16, 8, 2, 1, 32], [16, 8, 1, 3, b], [16, 6, 2, 3, 3 * b]];
  for (const [c, size, stride, kernel, m] of cases) {
    const g = weightGradGraph(32, c, m, size, stride, kernel);
    expect(usesNchwc(g, block)).toBe(block > 0);
    expect({ c, size, stride, kernel, m, small: (await blockedVsPlainError(g, rng)) < 1e-5 }).toEqual({ c, size, stride, kernel, m, small: true });
  }
});

it('the weight gradient keeps im2col + Gemm for batches and output channels that are not whole blocks', () => {
  expect(usesNchwc(weightGradGraph(20, 16, 32, 8, 1), 16)).toBe(false); // a full-batch chunk of 500 is not 16k either
  expect(usesNchwc(weightGradGraph(32, 16, 8, 8, 1), 16)).toBe(false);
});

it('the blocked weight-gradient conv reads an explicitly padded Xᵀ, so no output of it reads implicit padding', () => {
  // MLAS computes outputs that read implicit padding on a slow path (8 of 9 here, at 2.3× the time).
  const nodes = toModelProto(weightGradGraph(32, 16, 32, 8, 1), { nchwcBlock: 16 }).graph!.node!;
  const convs = nodes.filter((n) => n.opType === 'Conv' && n.domain === NCHWC_DOMAIN);
  const pads = (n: (typeof nodes)[number]) => n.attribute?.find((a) => a.name === 'pads')?.ints?.map(Number) ?? [];
  const [padding, weightGrad] = convs;
  expect(convs).toHaveLength(2);
  expect(pads(padding)).toEqual([1, 1, 1, 1]); // the depthwise 1×1 copy with weights 1, under the pads
  expect(padding.attribute?.find((a) => a.name === 'group')?.i).toEqual(32);
  expect(weightGrad.input![0]).toBe(padding.output![0]);
  expect(pads(weightGrad).every((p) => p === 0)).toBe(true);
});

/** Max |blocked − plain| / max |plain| over the graph's one output, on random inputs. */
async function blockedVsPlainError(g: Graph, rng: Rng): Promise<number> {
  const feeds = Object.fromEntries(g.inputs.map((v) => [v.name, randomTensor(rng, v)]));
  const run = async (nchwc: boolean) => {
    const p = await Program.create(g, { threads: 1, nchwc });
    const y = Object.values(await p.run(feeds))[0] as Float32Array;
    await p.release();
    return y;
  };
  const [blocked, plain] = [await run(true), await run(false)];
  const scale = plain.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  return blocked.reduce((a, v, i) => Math.max(a, Math.abs(v - plain[i])), 0) / scale;
}

it('channels that are not whole blocks, and serialization for files, stay plain ONNX', () => {
  expect(usesNchwc(convGraph(3, 16, 3, 1), 16)).toBe(false); // the first conv of a CIFAR net
  expect(usesNchwc(convGraph(16, 8, 3, 1), 16)).toBe(false);
  expect(usesNchwc(convGraph(32, 16, 3, 1), 0)).toBe(false); // serialize() without options: portable files
  expect(usesNchwc(convGraph(32, 16, 3, 1), 16)).toBe(true);
});
