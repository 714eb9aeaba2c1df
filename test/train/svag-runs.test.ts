/**
 * SVAG in training runs (issue #28): `--svag 1` is the run without the flag, byte for byte; a
 * `--svag 4` run killed mid-way resumes bit-exact, its logs counting SDE time; `--svag` is a
 * sweep key like any option.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors } from '../../src/io/safetensors';
import { rollingName } from '../../src/train/checkpoint';
import { readMetrics, StepRecord } from '../../src/train/metrics';
import { runCli, straightAndKilled, tmpDir, writeConfig } from '../cli';
import { TINY_DATA } from './fixtures';

const read = (f: string) => fs.readFileSync(f, 'utf8');

/** Every tensor and the metadata of two checkpoints, byte for byte. */
function expectSameCheckpoint(a: string, b: string): void {
  const [x, y] = [readSafetensors(a), readSafetensors(b)];
  expect([...y.tensors.keys()]).toEqual([...x.tensors.keys()]);
  for (const [name, t] of x.tensors) expect(Buffer.from(y.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
  expect(y.metadata).toEqual(x.metadata);
}

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-svag-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('--svag 1 trains the run without the flag, bit for bit', async () => {
  const flags = ['--model', 'cnn4', '--dataset', 'synthetic', '--steps', '12', '--batch-size', '32', '--momentum', '0.9', '--log-every', '5', '--layer-every', '5', '--eval-every', '6', '--eval-train-subset', '100', '--threads', '1', '--quiet'];
  const [plain, one] = [path.join(dir, 'plain'), path.join(dir, 'svag1')];
  const a = await runCli(['train', ...flags, '--out', plain]);
  const b = await runCli(['train', ...flags, '--svag', '1', '--out', one]);
  expect([a.code, a.stderr, b.code, b.stderr]).toEqual([0, '', 0, '']);
  expect(read(path.join(one, 'metrics.jsonl'))).toBe(read(path.join(plain, 'metrics.jsonl')));
  expectSameCheckpoint(path.join(plain, 'checkpoints', rollingName(12)), path.join(one, 'checkpoints', rollingName(12)));
});

const N = 8;
/** 12 batches of 16 per epoch: SDE epochs end every 12 steps, the stream's every 1.5 steps (8 batches per unit of SDE time). */
const SVAG4 = {
  model: 'cnn4',
  dataset: 'synthetic',
  synthetic: { shape: [1, 16, 16], numClasses: 10, trainCount: 200, testCount: 100, seed: 3 },
  evalTrainSubset: 50,
  augment: true,
  batchSize: 16,
  lr: 0.4,
  wd: 5e-4,
  momentum: 0.9,
  svag: 4,
  schedule: { kind: 'multistep', unit: 'step', lrMilestones: [N + 3] },
  steps: 2 * N,
  seed: 7,
  logEvery: 3, // N is not a multiple: the loss_avg window is mid-way at the checkpoint
  layerEvery: 3,
  channelEvery: 5,
  evalEvery: 5,
  evalBatch: 50,
  checkpointEvery: N,
  snapshotEpochs: [1],
  keepCheckpoints: 3,
  threads: 1,
};

it(`--svag 4: ${2 * N} units of SDE time straight = ${N}, kill -9, resume: same logs, bit-identical weights; the logs count SDE time`, async () => {
  const { straight, killed, uninterrupted: s, kill } = await straightAndKilled(writeConfig(dir, 'svag4.json', SVAG4), dir, rollingName(N));
  expect([s.code, s.stderr]).toEqual([0, '']);
  expect(kill.signal).toBe('SIGKILL');
  expect(fs.existsSync(path.join(killed, 'summary.json'))).toBe(false);
  const r = await runCli(['train', '--resume', killed, '--quiet']);
  expect([r.code, r.stderr]).toEqual([0, '']);

  for (const log of ['metrics.jsonl', 'channels.jsonl', 'summary.json']) expect(read(path.join(killed, log))).toBe(read(path.join(straight, log)));
  for (const f of [rollingName(2 * N), 'epoch-00001.safetensors']) expectSameCheckpoint(path.join(straight, 'checkpoints', f), path.join(killed, 'checkpoints', f));

  // SDE time: the records' steps are those of an SGD run of this config, its LR the schedule's η
  // (the prediction takes η/L), its epoch SGD's; the data stream went 2L batches per unit.
  const steps = readMetrics(path.join(straight, 'metrics.jsonl')).filter((x): x is StepRecord => x.type === 'step');
  expect(steps.map((x) => x.step)).toEqual([3, 6, 9, 12, 15, 16]);
  expect(steps.map((x) => x.lr)).toEqual([0.4, 0.4, 0.4, 0.4 * 0.1, 0.4 * 0.1, 0.4 * 0.1]); // the milestone at step 11, in SDE time
  expect(steps[3].epoch).toBe(1);
  const conv = steps[0].layers!['conv1.weight'];
  expect(conv.predicted_angular_update).toBeCloseTo(Math.sqrt((2 * (0.4 / 4) * 5e-4) / 1.9), 12);
  const position = JSON.parse(readSafetensors(path.join(straight, 'checkpoints', rollingName(2 * N))).metadata.position);
  const batches = 2 * N * 4 * 2;
  expect(position).toMatchObject({ step: 2 * N, epoch: Math.floor(batches / 12), index: batches % 12 });
  // Each BatchNorm saw every one of those batches in a train-mode forward pass, as torch's counter would.
  const counter = readSafetensors(path.join(straight, 'checkpoints', rollingName(2 * N))).tensors.get('bn1.num_batches_tracked');
  expect(counter?.data).toEqual(BigInt64Array.of(BigInt(batches)));
});

it('takes --svag as a sweep key: svag=1,2 expands into two runs that train', async () => {
  const file = writeConfig(dir, 'sweep.json', { base: { model: 'cnn4', dataset: 'synthetic', synthetic: TINY_DATA, batchSize: 32, steps: 4, logEvery: 2, checkpointEvery: 4, evalTrainSubset: 0, evalBatch: 60, threads: 1 } });
  const out = path.join(dir, 'sweep');
  const r = await runCli(['sweep', '--out', out, '--file', file, '--grid', 'svag=1,2', '--quiet']);
  expect([r.code, r.stderr]).toEqual([0, '']);
  const manifest = JSON.parse(read(path.join(out, 'sweep.json')));
  expect(manifest.runs.map((x: { overrides: object }) => x.overrides)).toEqual([{ svag: 1 }, { svag: 2 }]);
  const runs = fs.readdirSync(path.join(out, 'runs')).sort();
  expect(runs).toHaveLength(2);
  expect(runs.map((name) => JSON.parse(read(path.join(out, 'runs', name, 'config.json'))).config.svag)).toEqual([1, 2]);
  for (const name of runs) expect(fs.existsSync(path.join(out, 'runs', name, 'summary.json'))).toBe(true);
});
