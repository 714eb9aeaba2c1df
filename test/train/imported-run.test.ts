/**
 * Training an imported (ONNX) model through the CLI: the run copies the model file into its
 * directory with its SHA-256 in config.json, so a resume after SIGKILL needs no original file and
 * reproduces the straight run bit for bit; a changed copy is refused; a bad model file is refused
 * before anything is written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { readSafetensors } from '../../src/io/safetensors';
import { rollingName } from '../../src/train/checkpoint';
import { RUN_MODEL_FILE } from '../../src/train/model-file';
import { runCli, straightAndKilled, tmpDir, writeConfig } from '../cli';
import { smallNet } from '../onnx-fixtures';

const N = 12;
const config = (model: string) => ({
  model,
  dataset: 'synthetic',
  synthetic: { shape: [3, 16, 16], numClasses: 10, trainCount: 128, testCount: 64, seed: 3 },
  trainSubset: null,
  testSubset: null,
  batchSize: 16,
  lr: 0.1,
  wd: 5e-4,
  momentum: 0.9,
  steps: 2 * N,
  seed: 7,
  logEvery: 5,
  evalEvery: 8,
  evalBatch: 32,
  checkpointEvery: N,
  keepCheckpoints: 3,
});

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-imported-run-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it(`an imported model: ${2 * N} steps straight = ${N}, kill -9, original file gone, resume ${N}: same metrics, bit-identical weights`, async () => {
  const model = path.join(dir, 'net.onnx');
  fs.writeFileSync(model, onnx.ModelProto.encode(smallNet()).finish());
  const { straight, killed, uninterrupted: s, kill } = await straightAndKilled(writeConfig(dir, 'config.json', config(model)), dir, rollingName(N));
  expect(s.stderr).toBe('');
  expect(s.code).toBe(0);
  expect(kill.signal).toBe('SIGKILL');
  const recorded = JSON.parse(fs.readFileSync(path.join(killed, 'config.json'), 'utf8'));
  expect(recorded.config.model).toBe(model);
  expect(recorded.config.modelSha256).toMatch(/^[0-9a-f]{64}$/);
  expect(fs.readFileSync(path.join(killed, RUN_MODEL_FILE))).toEqual(fs.readFileSync(model));
  fs.rmSync(model); // the resume reads the run's copy

  const r = await runCli(['train', '--resume', killed, '--quiet']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(fs.readFileSync(path.join(killed, 'metrics.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(straight, 'metrics.jsonl'), 'utf8'));
  const x = readSafetensors(path.join(straight, 'checkpoints', rollingName(2 * N)));
  const y = readSafetensors(path.join(killed, 'checkpoints', rollingName(2 * N)));
  expect([...y.tensors.keys()]).toEqual([...x.tensors.keys()]);
  for (const [name, t] of x.tensors) expect(Buffer.from(y.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
  expect(y.tensors.get('bn1.num_batches_tracked')?.data).toEqual(BigInt64Array.of(BigInt(2 * N)));

  // A run whose copy changed is refused, and says what to do.
  fs.appendFileSync(path.join(killed, RUN_MODEL_FILE), Buffer.from([0]));
  const changed = await runCli(['train', '--resume', killed, '--steps', String(3 * N), '--quiet']);
  expect(changed.code).not.toBe(0);
  expect(changed.stderr).toMatch(/model\.onnx changed since the run started \(sha256 [0-9a-f]{12}… in config\.json, now [0-9a-f]{12}…\); restore it, or start a new run/);
}, 180_000);

it('a model that does not fit the data: one line naming the file and what to change, and no run directory written', async () => {
  const model = path.join(dir, 'rgb.onnx');
  fs.writeFileSync(model, onnx.ModelProto.encode(smallNet()).finish());
  const out = path.join(dir, 'misfit');
  const r = await runCli(['train', '--model', model, '--dataset', 'fashion-mnist', '--steps', '2', '--out', out, '--quiet']);
  expect(r.code).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(`${model}: the model takes 3 input channels, the data has 1: choose a data set with 3 channels, or export the model with a first conv of 1`);
  expect(fs.existsSync(out)).toBe(false);
});

it('a bad model file: one line, and no run directory written', async () => {
  const bad = path.join(dir, 'bad.onnx');
  fs.writeFileSync(bad, 'not a model');
  const out = path.join(dir, 'never');
  const r = await runCli(['train', '--model', bad, '--dataset', 'synthetic', '--steps', '2', '--out', out, '--quiet']);
  expect(r.code).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(`${bad}: not an ONNX model`);
  expect(fs.existsSync(out)).toBe(false);
});
