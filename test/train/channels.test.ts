/**
 * Per-output-channel angular updates (config.channelEvery): the angles in channels.jsonl against
 * a float64 computation of our own from the checkpoints before and after the step, and a resume
 * that cuts the file back to its checkpoint like metrics.jsonl.
 */
import * as fs from 'fs';
import * as path from 'path';
import { channelCsv } from '../../src/commands/metrics';
import { readSafetensors } from '../../src/io/safetensors';
import { channelAngles, readChannels } from '../../src/train/channels';
import { parseConfig } from '../../src/train/config';
import { rollingName } from '../../src/train/checkpoint';
import { runFiles } from '../../src/train/run-dir';
import { train } from '../../src/train/trainer';
import { tmpDir } from '../cli';
import { tinyConfig } from './fixtures';

/** The angle between two vectors from the cross term, atan2(√(|a|²|b|² − ⟨a,b⟩²), ⟨a,b⟩): another formula than channels.ts's. */
function angle(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let aa = 0;
  let bb = 0;
  let ab = 0;
  for (let i = 0; i < a.length; i++) {
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    ab += a[i] * b[i];
  }
  return Math.atan2(Math.sqrt(Math.max(aa * bb - ab * ab, 0)), ab);
}

it('channelAngles: one angle per row of the first axis', () => {
  // Two channels of three weights: the first turns by 90°, the second is only scaled (0°).
  const before = Float32Array.of(1, 0, 0, 1, 2, 3);
  const after = Float32Array.of(0, 2, 0, 2, 4, 6);
  const out = channelAngles(before, after, 2);
  expect(out[0]).toBeCloseTo(Math.PI / 2, 12);
  expect(out[1]).toBeCloseTo(0, 12);
  expect(() => channelAngles(before, after, 4)).toThrow(/do not split into 4 channels/);
});

it('channelEvery is validated like the other fields', () => {
  expect(() => tinyConfig({ channelEvery: -1 })).toThrow(/channelEvery must be a non-negative integer/);
  expect(() => parseConfig({ model: 'cnn4', dataset: 'synthetic', steps: 3, channelEvery: '2' }, 'c.json')).toThrow(/"channelEvery" must be a number/);
});

describe('a run with channelEvery', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('ilr-channels-');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('records each scale-invariant weight\'s per-channel angles every N steps, and a resume cuts the file back', async () => {
    const run = path.join(dir, 'run');
    const c = tinyConfig({ model: 'cnn4-si', steps: 6, channelEvery: 3, logEvery: 3, checkpointEvery: 1, keepCheckpoints: 10, evalTrainSubset: 0 });
    await train(c, run, { quiet: true, tensorboard: false });
    const files = runFiles(run);
    const records = readChannels(files.channels);
    expect(records.map((r) => r.step)).toEqual([3, 6]);

    const state = (step: number) => readSafetensors(path.join(files.checkpoints, rollingName(step))).tensors;
    for (const r of records) {
      const before = state(r.step - 1);
      const after = state(r.step);
      expect(Object.keys(r.layers)).toEqual(['conv1.weight', 'conv2.weight', 'conv3.weight']);
      for (const [name, angles] of Object.entries(r.layers)) {
        const a = before.get(name)!;
        const b = after.get(name)!;
        const per = a.data.length / a.shape[0];
        expect(angles).toHaveLength(a.shape[0]);
        angles.forEach((got, o) => {
          const want = angle((a.data as Float32Array).subarray(o * per, (o + 1) * per), (b.data as Float32Array).subarray(o * per, (o + 1) * per));
          expect(want).toBeGreaterThan(1e-4); // the channel moved: the comparison is not of zeros
          expect(Math.abs(got - want)).toBeLessThan(1e-7 * want + 1e-12);
        });
      }
    }

    // `ilr metrics RUN --channels --csv`: a row per step, layer and channel, every digit kept.
    const rows = channelCsv(records).trim().split('\n');
    expect(rows[0]).toBe('step,layer,channel,angular_update');
    expect(rows).toHaveLength(1 + 2 * (32 + 64 + 128));
    expect(rows[1 + 32 + 5]).toBe(`3,conv2.weight,5,${records[0].layers['conv2.weight'][5]}`);

    // A record written after the last checkpoint (a crash between them) is dropped by the resume.
    fs.appendFileSync(files.channels, JSON.stringify({ step: 7, layers: {} }) + '\n');
    await train(c, run, { resume: true, changes: { steps: 9 }, quiet: true, tensorboard: false });
    expect(readChannels(files.channels).map((r) => r.step)).toEqual([3, 6, 9]);
  }, 60_000);
});
