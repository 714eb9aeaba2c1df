/** IDX and CIFAR-10 readers on small generated files in the real formats, intact and damaged. */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { encodeIdx, parseIdx, readIdxFile, readIdxPair } from '../../src/data/idx';
import { CIFAR_RECORD_BYTES, encodeCifarBatch, parseCifarBatch, readCifarBatches } from '../../src/data/cifar';
import { clearDatasetCache, loadDataset } from '../../src/data';
import { cifarBatches, fakeImages, rmrf, tmpDir, writeCifarSet, writeIdxSet } from './helpers';

let dir: string;
beforeEach(() => { dir = tmpDir(); clearDatasetCache(); });
afterEach(() => rmrf(dir));

const noEnv = (extra: Record<string, string> = {}) => ({ env: { ILR_CACHE_DIR: path.join(dir, 'cache'), ...extra }, download: false });

describe('IDX', () => {
  test('round trip, gzipped and raw', () => {
    const { images } = fakeImages(5, 28 * 28);
    const raw = encodeIdx([5, 28, 28], images);
    fs.writeFileSync(path.join(dir, 'a'), raw);
    fs.writeFileSync(path.join(dir, 'a.gz'), zlib.gzipSync(raw));
    for (const f of ['a', 'a.gz']) {
      const r = readIdxFile(path.join(dir, f));
      expect(r.dims).toEqual([5, 28, 28]);
      expect(Buffer.from(r.data).equals(Buffer.from(images))).toBe(true);
    }
  });

  test('loadDataset reads fashion-mnist and mnist layouts, gzipped or not', async () => {
    writeIdxSet(path.join(dir, 'gz'), { train: 30, test: 10 });
    writeIdxSet(path.join(dir, 'raw'), { train: 30, test: 10, gzip: false });
    for (const sub of ['gz', 'raw']) {
      const ds = await loadDataset('mnist', 'train', { ...noEnv(), dataDir: path.join(dir, sub) });
      expect(ds.count).toBe(30);
      expect(ds.shape).toEqual([1, 28, 28]);
      expect(ds.images).toBeInstanceOf(Uint8Array);
      expect(ds.images.length).toBe(30 * 784);
      expect(Array.from(ds.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      const { images } = fakeImages(30, 784, 10, 0);
      expect(Buffer.from(ds.images).equals(Buffer.from(images))).toBe(true);
      const test = await loadDataset('fashion-mnist', 'test', { ...noEnv(), dataDir: path.join(dir, sub) });
      expect(test.count).toBe(10);
      expect(test.mean).toEqual([0.2860406]);
    }
  });

  test('the same files are read once per process', async () => {
    writeIdxSet(dir, { train: 30, test: 10 });
    const a = loadDataset('mnist', 'train', { ...noEnv(), dataDir: dir });
    const b = loadDataset('mnist', 'train', { ...noEnv(), dataDir: dir });
    const [da, db] = await Promise.all([a, b]);
    expect(da).toBe(db);
    expect(await loadDataset('mnist', 'train', { ...noEnv(), dataDir: dir })).toBe(da);
  });

  const images = () => encodeIdx([4, 28, 28], fakeImages(4, 784).images);
  const cases: [string, () => Buffer, RegExp][] = [
    ['bad magic', () => { const b = images(); b[0] = 7; return b; }, /not an IDX file.*magic 07 00 08 03/],
    ['wrong type code', () => { const b = images(); b[2] = 0x0d; return b; }, /type code 0xd is not unsigned byte/],
    ['truncated data', () => images().subarray(0, 1000), /truncated: header says 4×28×28 values \(3152 bytes\), file has 1000 bytes/],
    ['trailing bytes', () => Buffer.concat([images(), Buffer.alloc(3)]), /has trailing bytes/],
    ['truncated header', () => images().subarray(0, 9), /truncated IDX header \(9 of 16 bytes\)/],
    ['too short', () => Buffer.from([0, 0]), /too short for an IDX header/],
    ['truncated gzip', () => zlib.gzipSync(images()).subarray(0, 200), /corrupt or truncated gzip data/],
    ['gzip twice', () => zlib.gzipSync(zlib.gzipSync(images())), /still gzipped/],
  ];
  test.each(cases)('%s is an error naming the file and what to do', (_, make, msg) => {
    const f = path.join(dir, 'train-images-idx3-ubyte.gz');
    fs.writeFileSync(f, make());
    expect(() => readIdxFile(f)).toThrow(msg);
    expect(() => readIdxFile(f)).toThrow(f);
    expect(() => readIdxFile(f)).toThrow(/ilr data download/);
  });

  test('labels out of range, count mismatch, swapped files', () => {
    const img = path.join(dir, 'img');
    const lab = path.join(dir, 'lab');
    fs.writeFileSync(img, images());
    fs.writeFileSync(lab, encodeIdx([4], Uint8Array.from([0, 1, 10, 2])));
    expect(() => readIdxPair(img, lab, 10)).toThrow(/label 10 at index 2 is out of range 0…9/);
    fs.writeFileSync(lab, encodeIdx([3], Uint8Array.from([0, 1, 2])));
    expect(() => readIdxPair(img, lab, 10)).toThrow(/3 labels for 4 images/);
    expect(() => readIdxPair(lab, img, 10)).toThrow(/expected an images file.*swapped/);
  });

  test('a damaged file in a data dir fails the load and a later good copy loads', async () => {
    writeIdxSet(dir, { train: 30, test: 10 });
    const f = path.join(dir, 'train-labels-idx1-ubyte.gz');
    const good = fs.readFileSync(f);
    fs.writeFileSync(f, good.subarray(0, good.length - 10));
    await expect(loadDataset('mnist', 'train', { ...noEnv(), dataDir: dir })).rejects.toThrow(/train-labels-idx1-ubyte.gz: corrupt or truncated gzip/);
    fs.writeFileSync(f, good);
    expect((await loadDataset('mnist', 'train', { ...noEnv(), dataDir: dir })).count).toBe(30);
  });

  test('parseIdx accepts 1 to 4 dimensions only', () => {
    const b = Buffer.alloc(4);
    b[2] = 8;
    expect(() => parseIdx(b, 'x')).toThrow(/claims 0 dimensions/);
  });
});

describe('CIFAR-10 binary', () => {
  test('parse: labels and CHW pixels as stored', () => {
    const { images, labels } = fakeImages(3, 3072);
    const r = parseCifarBatch(encodeCifarBatch(images, labels), 'x');
    expect(r.count).toBe(3);
    expect(Array.from(r.labels)).toEqual([0, 1, 2]);
    expect(Buffer.from(r.images).equals(Buffer.from(images))).toBe(true);
  });

  test('loadDataset concatenates data_batch_1…5 for train, test_batch for test', async () => {
    writeCifarSet(path.join(dir, 'cifar-10-batches-bin'), 4);
    const train = await loadDataset('cifar10', 'train', { ...noEnv(), dataDir: dir });
    expect(train.count).toBe(20);
    expect(train.shape).toEqual([3, 32, 32]);
    const batches = cifarBatches(4);
    // Image 5 is the second record of data_batch_2.
    const rec = batches['data_batch_2.bin'].subarray(CIFAR_RECORD_BYTES + 1, 2 * CIFAR_RECORD_BYTES);
    expect(Buffer.from(train.images.subarray(5 * 3072, 6 * 3072)).equals(rec)).toBe(true);
    expect(train.labels[5]).toBe(batches['data_batch_2.bin'][CIFAR_RECORD_BYTES]);
    const test = await loadDataset('cifar10', 'test', { ...noEnv(), dataDir: dir });
    expect(test.count).toBe(4);
    expect(test.mean).toEqual([0.4914, 0.4822, 0.4465]);
  });

  test('truncated batch: error names the file, the byte count and the fix', () => {
    writeCifarSet(dir, 4);
    const f = path.join(dir, 'data_batch_3.bin');
    fs.truncateSync(f, 4 * CIFAR_RECORD_BYTES - 100);
    const files = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin'].map((n) => path.join(dir, n));
    expect(() => readCifarBatches(files)).toThrow(new RegExp(`${f}: 12192 bytes is not a whole number of 3073-byte records \\(3 records and 2973 bytes`));
    expect(() => readCifarBatches(files)).toThrow(/ilr data download/);
    fs.writeFileSync(f, Buffer.alloc(0));
    expect(() => readCifarBatches(files)).toThrow(/0 bytes is not a whole number/);
  });

  test('label out of range (corrupt, or CIFAR-100)', () => {
    const buf = cifarBatches(4)['test_batch.bin'];
    buf[2 * CIFAR_RECORD_BYTES] = 57;
    expect(() => parseCifarBatch(buf, '/d/test_batch.bin')).toThrow(/\/d\/test_batch.bin: record 2 has label 57, outside 0…9/);
  });
});
