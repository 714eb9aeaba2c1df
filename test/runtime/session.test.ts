/** The runtime: feeds and fetches by name, clear errors, and CUDA that never falls back silently. */
import * as fs from 'fs';
import * as path from 'path';
import { Graph } from '../../src/graph/ir';
import { add } from '../../src/ops/elementwise';
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

const cudaInstalled = fs.existsSync(
  path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'),
);

(cudaInstalled ? it.skip : it)('without the CUDA provider, --ep cuda fails at start and says how to install it', async () => {
  expect(() => checkExecutionProvider('cuda')).toThrow(CUDA_HELP);
  expect(CUDA_HELP).toContain('make setup ORT_INSTALL=cuda12');
  await expect(Program.create(adder(), { ep: 'cuda' })).rejects.toThrow('ORT_INSTALL=cuda12');
  expect(() => checkExecutionProvider('tpu' as never)).toThrow('unknown execution provider "tpu"');
});
