/**
 * Every program the project builds passes onnx.checker.check_model(full_check=True) from
 * Debian's python3-onnx: the zoo's programs (train step with and without momentum, gradient,
 * apply, evaluate, BN statistics), a standalone inference model, and the toy's program.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pythonWith } from '../../src/bridge/python';
import { serialize } from '../../src/graph/onnx';
import { toyProgram } from '../../src/experiments/toy';
import { initialState } from '../../src/nn/init';
import { modelLayout } from '../../src/nn/model';
import { modelSpec } from '../../src/nn/spec';
import { inferenceGraph } from '../../src/programs/programs';
import { allPrograms, ZOO } from '../../src/programs/zoo';
import { Rng } from '../../src/util/rng';
import { itOnnx } from '../helpers';

const CHECK = `
import sys, onnx
for f in sys.argv[1:]:
    onnx.checker.check_model(onnx.load(f), full_check=True)
print(len(sys.argv) - 1)
`;

itOnnx('every program passes onnx.checker (full_check)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-checker-'));
  try {
    const files: string[] = [];
    const write = (name: string, bytes: Uint8Array) => {
      const f = path.join(dir, `${name}.onnx`);
      fs.writeFileSync(f, bytes);
      files.push(f);
    };
    for (const entry of ZOO) for (const g of allPrograms(entry)) write(`${entry.name}.${g.name}`, serialize(g));
    const spec = modelSpec('preresnet8', { inChannels: 1 });
    const weights = initialState(modelLayout(spec, [1, 28, 28]), new Rng(0));
    write('preresnet8.inference', serialize(inferenceGraph({ spec, batch: 2, input: [1, 28, 28] }, weights)));
    write('toy', serialize(toyProgram()));

    const py = pythonWith('onnx');
    if (!py) throw new Error('python3-onnx is required (REQUIRE_TORCH=1): apt-get install python3-onnx, or `make setup`');
    const r = spawnSync(py, ['-c', CHECK, ...files], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(String(files.length));
    expect(files.length).toBeGreaterThan(30);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
