/** `--ep cuda` never falls back: every node of every zoo program has a CUDA kernel (ORT's table, read from its docs). */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { cudaCoverageFinding } from '../../src/commands/doctor';
import { Graph } from '../../src/graph/ir';
import { toModelProto } from '../../src/graph/onnx';
import { pad } from '../../src/ops/shape';
import { allPrograms, ZOO } from '../../src/programs/zoo';
import { uncoveredByCuda } from '../../src/runtime/cuda-kernels';
import { serializeOptions } from '../../src/runtime/session';
import { smallNet } from '../onnx-fixtures';

it('every node of every program of every zoo model, serialized for CUDA, has a CUDA kernel', async () => {
  const options = await serializeOptions({ ep: 'cuda' });
  const uncovered: string[] = [];
  let nodes = 0;
  for (const entry of ZOO) {
    for (const g of allPrograms(entry)) {
      const model = toModelProto(g, options);
      nodes += model.graph!.node!.length;
      for (const u of uncoveredByCuda(model)) uncovered.push(`${entry.name}/${g.name}: ${u.node} (${u.opType}): ${u.why}`);
    }
  }
  expect(uncovered).toEqual([]);
  expect(nodes).toBeGreaterThan(1000);
});

it('names a node whose op, domain, opset or element type has no CUDA kernel', () => {
  const g = new Graph('uncovered');
  g.output('padded', pad(g.input('i', [4], 'int64'), [1], [1]));
  const model = toModelProto(g);
  expect(uncoveredByCuda(model)).toEqual([{ node: expect.any(String), opType: 'Pad', why: 'no CUDA kernel for element type int64' }]);

  const nchwc = toModelProto(g);
  nchwc.graph!.node!.push({ name: 'blocked', opType: 'ReorderInput', domain: 'com.microsoft.nchwc', input: ['i'], output: ['r'] });
  nchwc.graph!.node!.push({ name: 'onehot', opType: 'OneHot', domain: '', input: ['i', 'i', 'i'], output: ['o'] });
  expect(uncoveredByCuda(nchwc).map((u) => `${u.opType}: ${u.why}`)).toEqual([
    'Pad: no CUDA kernel for element type int64',
    'com.microsoft.nchwc:ReorderInput: no CUDA kernel',
    'OneHot: no CUDA kernel',
  ]);
  const float = new Graph('float_pad');
  float.output('padded', pad(float.input('x', [4]), [1], [1]));
  const atOpset9 = { ...toModelProto(float), opsetImport: [{ domain: '', version: 9 }] };
  expect(uncoveredByCuda(atOpset9).map((u) => `${u.opType}: ${u.why}`)).toContain('Pad: the CUDA kernel covers opsets 13–17, not 9');
});

it('every program of an imported network (ReLU6, MaxPool and its backward, BatchNorm) has CUDA kernels: `ilr doctor --ep cuda --model net.onnx`', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-cuda-import-'));
  try {
    const file = path.join(dir, 'net.onnx');
    fs.writeFileSync(file, onnx.ModelProto.encode(smallNet({ act: 'Clip' })).finish());
    const finding = await cudaCoverageFinding([{ name: file, input: [3, 16, 16], batch: 8, description: '' }]);
    expect(finding.detail).toBe(`every node of every program of ${file} has one`);
    expect(finding.ok).toBe(true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
