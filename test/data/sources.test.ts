/** Where data comes from: --data-dir, ILR_DATA_DIR, system location, cache, in that order. */
import * as fs from 'fs';
import * as path from 'path';
import { findDataset, formatDatasetList, listDatasets, loadDataset, clearDatasetCache, cacheDir } from '../../src/data';
import { baseUrlFor, candidates } from '../../src/data/sources';
import { rmrf, tmpDir, writeCifarSet, writeIdxSet } from './helpers';

let dir: string;
beforeEach(() => { dir = tmpDir(); clearDatasetCache(); });
afterEach(() => rmrf(dir));

test('order: option, then env, then cache (mnist has no system location)', () => {
  const opt = path.join(dir, 'opt');
  const envDir = path.join(dir, 'envdir');
  const cacheRoot = path.join(dir, 'cache');
  writeIdxSet(opt);
  writeIdxSet(path.join(envDir, 'mnist')); // a root holding <name>/
  writeIdxSet(path.join(cacheRoot, 'mnist'));
  const env = { ILR_DATA_DIR: envDir, ILR_CACHE_DIR: cacheRoot };
  expect(findDataset('mnist', 'train', { dataDir: opt, env })).toMatchObject({ origin: 'option', dir: opt });
  expect(findDataset('mnist', 'train', { env })).toMatchObject({ origin: 'env', dir: path.join(envDir, 'mnist') });
  expect(findDataset('mnist', 'train', { env: { ILR_CACHE_DIR: cacheRoot } })).toMatchObject({ origin: 'cache', dir: path.join(cacheRoot, 'mnist') });
  expect(findDataset('mnist', 'train', { env: { ILR_CACHE_DIR: path.join(dir, 'none') } })).toBeNull();
  expect(cacheDir('mnist', { ILR_CACHE_DIR: cacheRoot })).toBe(path.join(cacheRoot, 'mnist'));
});

test('the system location comes after option and env, before the cache', () => {
  const c = candidates('fashion-mnist', { dataDir: '/x', env: { ILR_DATA_DIR: '/y', ILR_CACHE_DIR: '/z' } });
  expect(c).toEqual([
    { origin: 'option', dir: '/x' },
    { origin: 'env', dir: '/y' },
    { origin: 'system', dir: '/usr/share/datasets/fashion-mnist' },
    { origin: 'cache', dir: '/z/fashion-mnist' },
  ]);
});

test('an explicit --data-dir without the files is an error, not a fall-through', () => {
  fs.mkdirSync(path.join(dir, 'empty'));
  expect(() => findDataset('mnist', 'train', { dataDir: path.join(dir, 'empty'), env: {} })).toThrow(
    /mnist \(train\) not found in --data-dir .*empty.*It needs: train-images-idx3-ubyte\[\.gz\], train-labels-idx1-ubyte\[\.gz\]/,
  );
});

test('an env dir without this data set falls through to the next location', () => {
  const cacheRoot = path.join(dir, 'cache');
  writeIdxSet(path.join(cacheRoot, 'mnist'));
  expect(findDataset('mnist', 'test', { env: { ILR_DATA_DIR: path.join(dir, 'nothing'), ILR_CACHE_DIR: cacheRoot } })?.origin).toBe('cache');
});

test('CIFAR-10 is found in the dir itself, <dir>/cifar10, or a cifar-10-batches-bin below them', () => {
  for (const sub of ['a', 'b/cifar10', 'c/cifar-10-batches-bin', 'd/cifar10/cifar-10-batches-bin']) {
    writeCifarSet(path.join(dir, sub), 1);
    const root = path.join(dir, sub.split('/')[0]);
    expect(findDataset('cifar10', 'train', { dataDir: root, env: {} })?.dir).toBe(path.join(dir, sub));
  }
});

test('a split is found on its own (test files only)', async () => {
  writeCifarSet(dir, 2);
  for (let k = 1; k <= 5; k++) fs.rmSync(path.join(dir, `data_batch_${k}.bin`));
  expect((await loadDataset('cifar10', 'test', { dataDir: dir, env: {} })).count).toBe(2);
  await expect(loadDataset('cifar10', 'train', { dataDir: dir, env: {} })).rejects.toThrow(/not found in --data-dir/);
});

test('download: false gives the placement instructions', async () => {
  const env = { ILR_CACHE_DIR: path.join(dir, 'cache') };
  await expect(loadDataset('cifar10', 'train', { env, download: false })).rejects.toThrow(
    /cifar10 \(train\) was not found\. Looked in: .*\(cache\)\.\nPlace data_batch_1\.bin, .*data_batch_5\.bin \(from the cifar-10-batches-bin\/ folder of cifar-10-binary\.tar\.gz\) in .*cache\/cifar10/,
  );
});

test('mirror: option beats ILR_DATA_MIRROR beats the official URL', () => {
  expect(baseUrlFor('cifar10', { env: {} })).toBe('https://www.cs.toronto.edu/~kriz/');
  expect(baseUrlFor('cifar10', { env: { ILR_DATA_MIRROR: 'http://m/data/' } })).toBe('http://m/data/cifar10/');
  expect(baseUrlFor('mnist', { baseUrl: 'http://x/y', env: { ILR_DATA_MIRROR: 'http://m' } })).toBe('http://x/y/');
});

test('listDatasets reports what is found where, never downloading', () => {
  const cacheRoot = path.join(dir, 'cache');
  writeIdxSet(path.join(cacheRoot, 'mnist'), { train: 10, test: 5 });
  const list = listDatasets({ env: { ILR_CACHE_DIR: cacheRoot } });
  expect(list.map((d) => d.name)).toEqual(['fashion-mnist', 'mnist', 'cifar10']);
  const mnist = list[1];
  expect(mnist.found.train).toMatchObject({ origin: 'cache', dir: path.join(cacheRoot, 'mnist') });
  expect(list[2].found.train).toBeNull();
  const text = formatDatasetList(list);
  expect(text).toContain(`train ${path.join(cacheRoot, 'mnist')} (cache)`);
  expect(text).toContain('not found (would download from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz)');
  expect(fs.readdirSync(cacheRoot)).toEqual(['mnist']);
  // A --data-dir lacking a data set does not break the listing.
  expect(listDatasets({ dataDir: path.join(dir, 'nothing'), env: { ILR_CACHE_DIR: cacheRoot } })[1].found.test?.origin).toBe('cache');
});

test('unknown names and splits are clear errors', () => {
  expect(() => loadDataset('imagenet' as never, 'train')).toThrow(/unknown data set "imagenet". Known: fashion-mnist, mnist, cifar10, synthetic/);
  expect(() => loadDataset('mnist', 'val' as never)).toThrow(/unknown split "val"/);
});
