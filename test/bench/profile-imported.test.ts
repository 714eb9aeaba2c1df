/** `ilr bench --profile` on an imported model named by its path (the profile is named by the file name alone). */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { runCli, tmpDir } from '../cli';
import { smallNet } from '../onnx-fixtures';

it('profiles an imported net.onnx given as a path', async () => {
  const dir = tmpDir('ilr-bench-imported-');
  try {
    const model = path.join(dir, 'nets', 'mynet.onnx');
    fs.mkdirSync(path.dirname(model));
    fs.writeFileSync(model, onnx.ModelProto.encode(smallNet({ input: [2, 1, 28, 28], conv1In: 1 })).finish());
    const r = await runCli(['bench', '--model', model, '--input', '1x28x28', '--batch', '4', '--steps', '1', '--warmup', '1', '--rounds', '1', '--profile', '--threads', '1']);
    expect([r.code, r.stderr.match(/error.*/)?.[0]]).toEqual([0, undefined]);
    expect(r.stdout).toMatch(/profile of .*mynet\.onnx \(batch 4\)/);
    expect(r.stdout).toMatch(/total \(kernels\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
