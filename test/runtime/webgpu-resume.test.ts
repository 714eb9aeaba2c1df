/**
 * A short training run on WebGPU (SwiftShader here), killed right after its first checkpoint and
 * resumed: the state lives on the device between steps and comes down only for checkpoints and
 * evaluations, and the resumed run must give the uninterrupted run's log and weights exactly.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors } from '../../src/io/safetensors';
import { rollingName } from '../../src/train/checkpoint';
import { runCli, straightAndKilled, tmpDir, writeConfig } from '../cli';
import { tinyConfig } from '../train/fixtures';
import { itWebGpu } from '../webgpu';

const N = 4;
const CONFIG = tinyConfig({
  synthetic: { shape: [1, 8, 8], numClasses: 4, trainCount: 32, testCount: 16, seed: 3 },
  evalTrainSubset: 16,
  batchSize: 8,
  momentum: 0.9,
  steps: 2 * N,
  seed: 7,
  logEvery: 3,
  evalEvery: 2 * N,
  evalBatch: 16,
  checkpointEvery: N,
  keepCheckpoints: 3,
  ep: 'webgpu',
});

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-webgpu-resume-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

itWebGpu(`${2 * N} steps on WebGPU straight = ${N} steps, kill -9, resume: the same log and weights`, async () => {
  const { straight, killed, uninterrupted: s, kill } = await straightAndKilled(writeConfig(dir, 'config.json', CONFIG), dir, rollingName(N));
  expect([s.code, s.stderr]).toEqual([0, '']);
  expect(kill.signal).toBe('SIGKILL');
  expect(fs.existsSync(path.join(killed, 'summary.json'))).toBe(false);

  const r = await runCli(['train', '--resume', killed, '--quiet']);
  expect([r.code, r.stderr]).toEqual([0, '']);
  expect(JSON.parse(fs.readFileSync(path.join(killed, 'config.json'), 'utf8')).config.ep).toBe('webgpu');
  expect(fs.readFileSync(path.join(killed, 'metrics.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(straight, 'metrics.jsonl'), 'utf8'));
  const x = readSafetensors(path.join(straight, 'checkpoints', rollingName(2 * N)));
  const y = readSafetensors(path.join(killed, 'checkpoints', rollingName(2 * N)));
  expect([...y.tensors.keys()]).toEqual([...x.tensors.keys()]);
  for (const [name, t] of x.tensors) expect([name, Buffer.from(y.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))]).toEqual([name, true]);
});
