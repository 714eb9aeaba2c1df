/** Our side of the benchmark steps through the step engine; no timing is asserted. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchCase, benchOurs } from '../../src/bench/ours';
import { readProfile } from '../../src/bench/profile';
import { parseBatches } from '../../src/commands/options';

const tiny: BenchCase = { model: 'cnn4', input: [1, 28, 28], batch: 8, steps: 2, warmup: 1, threads: 1, lr: 0.1, momentum: 0.9, wd: 5e-4, seed: 0, nchwc: true, ep: 'cpu' };

describe('bench, our side', () => {
  it('times every step after the warm-up, and its profile (written when the engine is released) holds every run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-bench-test-'));
    try {
      const r = await benchOurs({ ...tiny, profilePrefix: path.join(dir, 'cnn4') });
      expect(r.ms_per_step_min).toBeLessThanOrEqual(r.ms_per_step);
      expect(r.ms_per_step).toBeLessThanOrEqual(r.ms_per_step_max);
      expect(r.images_per_s).toBeCloseTo((tiny.batch * 1000) / r.ms_per_step);
      expect(r.device).toBe('cpu');
      const runs = readProfile(r.profile!).filter((e) => e.name === 'model_run');
      expect(runs).toHaveLength(tiny.warmup + tiny.steps);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a step that diverges, naming the model', async () => {
    await expect(benchOurs({ ...tiny, lr: 1e30, warmup: 0 })).rejects.toThrow(/bench of cnn4: step \d diverged/);
  });
});

describe('--batch', () => {
  it('takes one size or a comma-separated list', () => {
    expect(parseBatches('128')).toEqual([128]);
    expect(parseBatches('32, 128,256')).toEqual([32, 128, 256]);
  });

  it('refuses anything but whole numbers ≥ 1, naming the flag', () => {
    for (const bad of ['', '0', '12.5', '32,,64', 'many']) expect(() => parseBatches(bad)).toThrow(/--batch .*whole numbers ≥ 1/);
  });
});
