/** The runtime: feeds and fetches by name, clear errors, and CUDA that never falls back silently. */
import * as fs from 'fs';
import { Graph } from '../../src/graph/ir';
import { add } from '../../src/ops/elementwise';
import { cudaProviderPath } from '../../src/runtime/providers';
import { checkExecutionProvider, CUDA_HELP, Program } from '../../src/runtime/session';

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
