/** What every launcher's task does to its run directory before training, and the dry run's cost estimate. */
import * as fs from 'fs';
import * as path from 'path';
import { describeCost, stepSeconds } from '../../src/launch/cost';
import { prepareRunDir } from '../../src/launch/task';
import { train } from '../../src/train/trainer';
import { tmpDir } from '../cli';
import type { TrainConfig } from '../../src/train/config';
import { tinyConfig, TINY_DATA } from '../train/fixtures';

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

it('estimates a dry run from a measured step time, cached per step program', async () => {
  process.env.ILR_CACHE_DIR = path.join(root, 'cache');
  try {
    const config = tinyConfig({ steps: 400 });
    const seconds = await stepSeconds(config, 1);
    expect(seconds).toBeGreaterThan(0);
    const cache = JSON.parse(fs.readFileSync(path.join(root, 'cache', 'step-times.json'), 'utf8'));
    const [key] = Object.keys(cache);
    expect(key).toMatch(/^cnn4 \| 1x12x12 \| batch 32 \| programs [0-9a-f]{16} \| threads 1 \| /);
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

describe('a dry run prices the programs the run steps through', () => {
  const TINY_24 = { ...TINY_DATA, shape: [1, 24, 24] as [number, number, number] };
  /** The cache after pricing both configs, in a cache of its own. */
  const priced = async (name: string, a: TrainConfig, b: TrainConfig) => {
    const cache = path.join(root, `cache-${name}`);
    process.env.ILR_CACHE_DIR = cache;
    try {
      await stepSeconds(a, 1);
      await stepSeconds(b, 1);
      return { keys: Object.keys(JSON.parse(fs.readFileSync(path.join(cache, 'step-times.json'), 'utf8'))) };
    } finally {
      delete process.env.ILR_CACHE_DIR;
    }
  };

  // Which step is cheaper is not asserted: a timing on a shared machine is not a test (`ilr bench` measures speed).
  it('pooled input: its own key, on the pooled shape', async () => {
    const { keys } = await priced('pool', tinyConfig({ synthetic: TINY_24 }), tinyConfig({ synthetic: TINY_24, pool: 2 }));
    expect(keys.length).toBe(2);
    expect(keys[1]).toMatch(/^cnn4 \| 1x12x12 \| /);
  });

  it('narrow widths: their own key', async () => {
    const { keys } = await priced('widths', tinyConfig(), tinyConfig({ widths: [4, 8, 16] }));
    expect(keys.length).toBe(2);
  });

  it('another optimizer: its own key', async () => {
    const { keys } = await priced('optimizer', tinyConfig({ momentum: 0.9 }), tinyConfig({ optimizer: 'sgdw', momentum: 0.9 }));
    expect(keys.length).toBe(2);
  });

  it('SVAG: the two-batch step, its own key, priced at L optimizer steps per step of the config', async () => {
    const { keys } = await priced('svag', tinyConfig(), tinyConfig({ svag: 2 }));
    expect(keys.length).toBe(2);
    process.env.ILR_CACHE_DIR = path.join(root, 'cache-svag');
    try {
      const file = path.join(root, 'cache-svag', 'step-times.json');
      fs.writeFileSync(file, JSON.stringify({ [keys[0]]: 0.5, [keys[1]]: 0.5 }));
      const lines = await describeCost([{ name: 'svag2', config: tinyConfig({ svag: 2, steps: 400 }) }], 1);
      expect(lines[0]).toBe('  svag2: 400 steps, ≈ 6 min 40 s');
    } finally {
      delete process.env.ILR_CACHE_DIR;
    }
  });

  it('full-batch descent: the gradient and apply programs over every chunk', async () => {
    const { keys } = await priced('full-batch', tinyConfig({ batchSize: 0, chunkSize: 64 }), tinyConfig({ batchSize: 0, chunkSize: 128 }));
    expect(keys.length).toBe(2);
    expect(keys[0]).toMatch(/ \| batch 64 × 4 chunks \| /);
  });
});
