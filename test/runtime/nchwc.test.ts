/**
 * ORT's NCHWc convolution (ops/conv.ts): with the weights reordered at run time it gives the plain
 * ONNX Conv's numbers, and it is emitted only for float32 convs whose channels are whole blocks.
 */
import { Graph } from '../../src/graph/ir';
import { toModelProto } from '../../src/graph/onnx';
import { conv, NCHWC_DOMAIN } from '../../src/ops/conv';
import { Program } from '../../src/runtime/session';
import { nchwcBlockSize } from '../../src/runtime/nchwc';
import { Rng } from '../../src/util/rng';
import { randomTensor } from '../helpers';

function convGraph(c: number, m: number, kernel: number, stride: number): Graph {
  const g = new Graph(`conv_${c}_${m}_${kernel}_${stride}`);
  g.output('y', conv(g.input('x', [4, c, 12, 12]), g.input('w', [m, c, kernel, kernel]), { stride, pad: kernel >> 1 }));
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
    const feeds = Object.fromEntries(g.inputs.map((v) => [v.name, randomTensor(rng, v)]));
    const run = async (nchwc: boolean) => {
      const p = await Program.create(g, { threads: 1, nchwc });
      const y = (await p.run(feeds)).y as Float32Array;
      await p.release();
      return y;
    };
    const [blocked, plain] = [await run(true), await run(false)];
    const scale = plain.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const err = blocked.reduce((a, v, i) => Math.max(a, Math.abs(v - plain[i])), 0);
    expect(err / scale).toBeLessThan(1e-5);
  }
});

it('channels that are not whole blocks, and serialization for files, stay plain ONNX', () => {
  expect(usesNchwc(convGraph(3, 16, 3, 1), 16)).toBe(false); // the first conv of a CIFAR net
  expect(usesNchwc(convGraph(16, 8, 3, 1), 16)).toBe(false);
  expect(usesNchwc(convGraph(32, 16, 3, 1), 0)).toBe(false); // serialize() without options: portable files
  expect(usesNchwc(convGraph(32, 16, 3, 1), 16)).toBe(true);
});
