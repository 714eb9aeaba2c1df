/** The runtime: feeds and fetches by name, clear errors, and CUDA that never falls back silently. */
import * as fs from 'fs';
import { Graph } from '../../src/graph/ir';
import { add, mul } from '../../src/ops/elementwise';
import { cudaProviderPath } from '../../src/runtime/providers';
import { checkExecutionProvider, CUDA_HELP, Program, refuseWrongOnWebGpu } from '../../src/runtime/session';
import { convolve } from '../../src/ops/conv';
import { reduceSum } from '../../src/ops/reduce';
import { gradients } from '../../src/autodiff/engine';

function adder(): Graph {
  const g = new Graph('adder');
  g.output('sum', add(g.input('a', [3]), g.input('b', [3])));
  return g;
}

it('runs a program by input and output names', async () => {
  const p = await Program.create(adder(), { threads: 1 });
  const out = await p.run({ a: Float32Array.of(1, 2, 3), b: Float32Array.of(10, 20, 30) });
  expect([...out.sum]).toEqual([11, 22, 33]);
  await expect(p.run({ a: Float32Array.of(1, 2, 3) })).rejects.toThrow('program adder: missing input b');
  await expect(p.run({ a: Float32Array.of(1, 2), b: Float32Array.of(1, 2, 3) })).rejects.toThrow('input a has 2 values, expected [3] = 3');
  await p.release();
});

const cudaInstalled = fs.existsSync(cudaProviderPath());

(cudaInstalled ? it.skip : it)('without the CUDA provider, --ep cuda fails at start and says how to install it', async () => {
  expect(() => checkExecutionProvider('cuda')).toThrow(CUDA_HELP);
  expect(CUDA_HELP).toContain('make setup ORT_INSTALL=cuda');
  expect(CUDA_HELP).toContain('CUDA 13');
  await expect(Program.create(adder(), { ep: 'cuda' })).rejects.toThrow('ORT_INSTALL=cuda');
  expect(() => checkExecutionProvider('tpu' as never)).toThrow('execution provider "tpu": expected cpu, cuda, webgpu');
});

describe('nodes the WebGPU provider computes wrongly are refused before a session is made', () => {
  /** The input gradient of a strided grouped conv of 8 → 8·m channels (m: outputs per group). */
  const convBackward = (multiplier: number) => {
    const g = new Graph('conv_backward');
    const x = g.input('x', [1, 8, 8, 8]);
    const w = g.input('w', [8 * multiplier, 1, 3, 3]);
    const y = convolve(x, w, { strides: [2, 2], pads: [1, 1, 1, 1], group: 8 });
    g.output('dx', gradients(reduceSum(mul(y, y)), [x]).get(x)!);
    return g;
  };
  it('a depthwise conv with a channel multiplier: its input gradient is a ConvTranspose in groups of one output channel', async () => {
    await expect(Program.create(convBackward(4), { ep: 'webgpu' })).rejects.toThrow(/1 grouped ConvTranspose node\(s\) .* compute wrong values on onnxruntime's WebGPU provider; train this model with --ep cpu or --ep cuda/);
  });
  it('a plain depthwise conv is not refused: WebGPU computes it right (test/runtime/webgpu.test.ts)', () => {
    expect(() => refuseWrongOnWebGpu(convBackward(1))).not.toThrow();
  });
});
