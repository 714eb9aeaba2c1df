/** What every launcher's task does to its run directory before training, and the dry run's cost estimate. */
import * as fs from 'fs';
import * as path from 'path';
import { describeCost, stepSeconds } from '../../src/launch/cost';
import { prepareRunDir } from '../../src/launch/task';
import { train } from '../../src/train/trainer';
import { tmpDir } from '../cli';
import { tinyConfig } from '../train/fixtures';

let root: string;
beforeAll(() => {
  root = tmpDir('ilr-task-');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

it('skips a finished run, resumes one with a checkpoint, restarts one without, and one of another config', async () => {
  const dir = path.join(root, 'run');
  const config = tinyConfig({ steps: 20, checkpointEvery: 10 });
  expect(prepareRunDir(dir, config)).toBe('fresh');
  await train(config, dir, { quiet: true });
  expect(prepareRunDir(dir, config)).toBe('finished');
  expect(prepareRunDir(dir, { ...config, threads: 2 })).toBe('finished'); // where it runs does not matter

  fs.rmSync(path.join(dir, 'summary.json'));
  expect(prepareRunDir(dir, config)).toBe('resume');

  fs.rmSync(path.join(dir, 'checkpoints'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'planned-config.json'), '{}');
  expect(prepareRunDir(dir, config)).toBe('fresh');
  expect(fs.readdirSync(dir)).toEqual(['planned-config.json']); // the run's files go, the launcher's stay

  await train(config, dir, { quiet: true });
  expect(prepareRunDir(dir, { ...config, lr: 0.05 })).toBe('fresh');
  expect(fs.existsSync(path.join(dir, 'config.json'))).toBe(false);
});

it('estimates a dry run from a measured step time, cached per model and batch', async () => {
  process.env.ILR_CACHE_DIR = path.join(root, 'cache');
  try {
    const config = tinyConfig({ steps: 400 });
    const seconds = await stepSeconds(config, 1);
    expect(seconds).toBeGreaterThan(0);
    const cache = JSON.parse(fs.readFileSync(path.join(root, 'cache', 'step-times.json'), 'utf8'));
    const [key] = Object.keys(cache);
    expect(key).toMatch(/^cnn4 \| 1x12x12 \| batch 32 \| sgd \| threads 1 \| /);
    cache[key] = 0.5; // a cached time is used, not measured again
    fs.writeFileSync(path.join(root, 'cache', 'step-times.json'), JSON.stringify(cache));
    const lines = await describeCost([{ name: 'a', config }, { name: 'b', config: { ...config, steps: 200 } }], 1);
    expect(lines).toEqual([
      '  a: 400 steps, ≈ 3 min 20 s',
      '  b: 200 steps, ≈ 1 min 40 s',
      expect.stringMatching(/^  total: 2 runs, 600 steps, ≈ 5 min 00 s of training one run at a time on this machine/),
    ]);
  } finally {
    delete process.env.ILR_CACHE_DIR;
  }
});
