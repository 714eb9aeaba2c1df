/**
 * The real Fashion-MNIST files (Debian's dataset-fashion-mnist). Skipped when they are absent,
 * unless REQUIRE_DATA=1, which turns their absence into a failure.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DATASETS, batchAt, channelStats, classCounts, clearDatasetCache, loadDataset, loadSubset } from '../../src/data';

const dir = DATASETS['fashion-mnist'].systemDir as string;
const present = fs.existsSync(path.join(dir, 'train-images-idx3-ubyte.gz'));
const required = process.env.REQUIRE_DATA === '1';
const maybe = present || required ? describe : describe.skip;

if (!present && !required) {
  // eslint-disable-next-line no-console
  console.warn(`real Fashion-MNIST tests skipped: ${dir} is absent (apt-get install dataset-fashion-mnist; REQUIRE_DATA=1 makes this a failure)`);
}

maybe('real Fashion-MNIST', () => {
  // Only the system location: no download, no user cache.
  const opts = { download: false, env: { ILR_CACHE_DIR: '/nonexistent-ilr-cache' } };
  beforeAll(() => clearDatasetCache());

  test('files are present', () => {
    expect(present).toBe(true);
  });

  test('train: 60000 images, 6000 per class, content verified, statistics as hard-coded', async () => {
    const ds = await loadDataset('fashion-mnist', 'train', { ...opts, verify: true });
    expect(ds.count).toBe(60000);
    expect(ds.shape).toEqual([1, 28, 28]);
    expect(ds.images.length).toBe(47040000);
    expect(classCounts(ds)).toEqual(new Array(10).fill(6000));
    expect(ds.source).toBe(`${dir} (system)`);
    const { mean, std } = channelStats(ds);
    expect(mean[0]).toBeCloseTo(DATASETS['fashion-mnist'].mean[0], 6);
    expect(std[0]).toBeCloseTo(DATASETS['fashion-mnist'].std[0], 6);
    // Normalised with its own statistics, a batch is roughly zero-mean, unit-variance.
    const b = batchAt(ds, { batchSize: 1000, seed: 0 }, 0, 0);
    const m = b.x.reduce((a, v) => a + v, 0) / b.x.length;
    expect(Math.abs(m)).toBeLessThan(0.05);
  });

  test('test: 10000 images, 1000 per class', async () => {
    const ds = await loadDataset('fashion-mnist', 'test', { ...opts, verify: true });
    expect(ds.count).toBe(10000);
    expect(classCounts(ds)).toEqual(new Array(10).fill(1000));
  });

  test('a 1000-image subset: 100 per class, no second read of the files', async () => {
    const whole = await loadDataset('fashion-mnist', 'train', opts);
    const sub = await loadSubset({ dataset: 'fashion-mnist', split: 'train', size: 1000, seed: 0 }, opts);
    expect(classCounts(sub)).toEqual(new Array(10).fill(100));
    expect(await loadDataset('fashion-mnist', 'train', opts)).toBe(whole);
  });
});
