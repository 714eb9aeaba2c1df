/**
 * Issue #4's acceptance test: 2N steps straight, against N steps, a SIGKILL, and N resumed steps.
 * The child is a real `node dist/cli.js train` process, killed right after its checkpoint at step
 * N appears on disk (checkpoints are written with a rename, so a visible file is a whole file).
 * The resumed run must reproduce the whole metrics.jsonl and bit-identical final weights.
 *
 * The config exercises everything a resume must carry: momentum buffers, a step-unit schedule
 * milestone after N, augmentation (per-batch RNG), an epoch boundary before and after N, an SWA
 * snapshot, periodic evaluation and a loss_avg window that is half full at step N.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors } from '../../src/io/safetensors';
import { rollingName } from '../../src/train/checkpoint';
import { runCli, straightAndKilled, tmpDir, writeConfig } from '../cli';

const N = 60;
const CONFIG = {
  model: 'cnn4',
  dataset: 'synthetic',
  synthetic: { shape: [1, 16, 16], numClasses: 10, trainCount: 400, testCount: 200, seed: 3 },
  trainSubset: null,
  testSubset: null,
  evalTrainSubset: 100,
  augment: true,
  batchSize: 32, // 12 batches per epoch: epoch boundaries at 12, 24, ..., 108
  lr: 0.1,
  wd: 5e-4,
  momentum: 0.9,
  schedule: { kind: 'multistep', unit: 'step', lrMilestones: [N + 15], wdMilestones: [N - 20] },
  steps: 2 * N,
  seed: 7,
  logEvery: 7, // N is not a multiple: the loss_avg window is mid-way at the checkpoint
  evalEvery: 20,
  evalBatch: 50,
  checkpointEvery: N, // the only rolling checkpoint before the end is step N
  snapshotEpochs: [2, 7],
  keepCheckpoints: 3,
};

const read = (f: string) => fs.readFileSync(f, 'utf8');

describe('resume after SIGKILL', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('ilr-resume-');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`${2 * N} steps straight = ${N} steps, kill -9, resume ${N} steps: same metrics.jsonl, bit-identical weights`, async () => {
    const { straight, killed, uninterrupted: s, kill: k } = await straightAndKilled(writeConfig(dir, 'config.json', CONFIG), dir, rollingName(N));
    expect(s.stderr).toBe('');
    expect(s.code).toBe(0);

    // Killed, not finished: otherwise this test would prove nothing.
    expect(k.signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(killed, 'summary.json'))).toBe(false);
    const ckpts = fs.readdirSync(path.join(killed, 'checkpoints')).filter((f) => f.startsWith('step-'));
    expect(ckpts.filter((f) => f.endsWith('.safetensors'))).toEqual([rollingName(N)]);

    const r = await runCli(['train', '--resume', killed, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    // The whole log, line for line (evaluations included).
    const a = read(path.join(straight, 'metrics.jsonl'));
    const b = read(path.join(killed, 'metrics.jsonl'));
    expect(b.split('\n').length).toBe(a.split('\n').length);
    expect(b).toBe(a);
    expect(read(path.join(killed, 'summary.json'))).toBe(read(path.join(straight, 'summary.json')));

    // The final checkpoint and the SWA snapshots: identical bytes, hence identical tensors.
    const finals = [rollingName(2 * N), 'epoch-00002.safetensors', 'epoch-00007.safetensors'];
    for (const f of finals) {
      const x = readSafetensors(path.join(straight, 'checkpoints', f));
      const y = readSafetensors(path.join(killed, 'checkpoints', f));
      expect([...y.tensors.keys()]).toEqual([...x.tensors.keys()]);
      for (const [name, t] of x.tensors) {
        const u = y.tensors.get(name)!;
        expect(Buffer.from(u.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
      }
      expect(y.metadata).toEqual(x.metadata);
    }
    expect(readSafetensors(path.join(killed, 'checkpoints', rollingName(2 * N))).tensors.has('optimizer.momentum_buffer.conv1.weight')).toBe(true);
  });
});
