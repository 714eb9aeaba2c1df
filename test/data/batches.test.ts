/** Batches: normalisation, seeded order, augmentation, fixed shapes, resume, determinism. */
import * as crypto from 'crypto';
import { Rng } from '../../src/util/rng';
import {
  Batch, BatchOptions, BatchStream, Dataset, assembleBatch, batchAt, batchIndices, batchesPerEpoch, epochBatches, epochOrder, fullBatches,
  syntheticDataset,
} from '../../src/data';

/** A uint8 data set with distinct pixels and an odd shape (H ≠ W, 2 channels). */
function tiny(count = 23, shape: [number, number, number] = [2, 5, 7]): Dataset {
  const size = shape[0] * shape[1] * shape[2];
  const images = new Uint8Array(count * size).map((_, i) => (i * 31 + 7) & 0xff);
  return {
    name: 'cifar10', split: 'train', count, shape, numClasses: 10, images,
    labels: new Uint8Array(count).map((_, i) => (i * 3) % 10), mean: [0.4, 0.6], std: [0.2, 0.25], source: 'test',
  };
}

function hashBatches(batches: Batch[]): string {
  const h = crypto.createHash('sha256');
  for (const b of batches) {
    h.update(Buffer.from(b.x.buffer, b.x.byteOffset, b.x.byteLength));
    h.update(Buffer.from(b.y.buffer, b.y.byteOffset, b.y.byteLength));
  }
  return h.digest('hex');
}

test('normalised NCHW float32 and int64 labels, without augmentation', () => {
  const ds = tiny();
  const b = batchAt(ds, { batchSize: 4, seed: 1, augment: false, shuffle: false }, 0, 1);
  expect(b.shape).toEqual([4, 2, 5, 7]);
  expect(b.x).toBeInstanceOf(Float32Array);
  expect(b.y).toBeInstanceOf(BigInt64Array);
  expect(Array.from(b.indices)).toEqual([4, 5, 6, 7]);
  expect(Array.from(b.y)).toEqual([2n, 5n, 8n, 1n]);
  const size = 70;
  for (let i = 0; i < 4; i++) {
    for (let k = 0; k < size; k++) {
      const ch = k < 35 ? 0 : 1;
      const want = (ds.images[(4 + i) * size + k] / 255 - ds.mean[ch]) / ds.std[ch];
      expect(b.x[i * size + k]).toBeCloseTo(want, 5);
    }
  }
});

test('float (synthetic) images are normalised with their own mean/std, not divided by 255', () => {
  const ds = syntheticDataset('train', { shape: [1, 2, 2], trainCount: 4 });
  const b = batchAt({ ...ds, mean: [1], std: [2] }, { batchSize: 4, seed: 0, shuffle: false }, 0, 0);
  expect(b.x[0]).toBeCloseTo((ds.images[0] - 1) / 2, 6);
});

test('each epoch is a seeded permutation; different epochs and seeds differ', () => {
  const o0 = epochOrder(1000, 5, 0);
  expect(Array.from(o0).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  expect(Array.from(epochOrder(1000, 5, 1))).not.toEqual(Array.from(o0));
  expect(Array.from(epochOrder(1000, 6, 0))).not.toEqual(Array.from(o0));
  expect(Array.from(epochOrder(1000, 5, 0))).toEqual(Array.from(o0));
  expect(Array.from(epochOrder(5, 5, 0, false))).toEqual([0, 1, 2, 3, 4]);
});

test('last batch: drop, wrap, keep', () => {
  const base = { batchSize: 10, seed: 3 };
  expect(batchesPerEpoch(23, 10, 'drop')).toBe(2);
  expect(batchesPerEpoch(23, 10, 'wrap')).toBe(3);
  expect(batchesPerEpoch(23, 10, 'keep')).toBe(3);
  expect(() => batchIndices(23, { ...base, last: 'drop' }, 0, 2)).toThrow(/batch index 2 is out of range: an epoch has 2 batches of 10/);
  const order = epochOrder(23, 3, 0);
  const wrap = batchIndices(23, { ...base, last: 'wrap' }, 0, 2);
  expect(Array.from(wrap)).toEqual([...order.subarray(20), ...order.subarray(0, 7)]);
  expect(batchIndices(23, { ...base, last: 'keep' }, 0, 2).length).toBe(3);
  // Every image appears exactly once per epoch with 'keep'.
  const seen = [0, 1, 2].flatMap((i) => Array.from(batchIndices(23, { ...base, last: 'keep' }, 0, i)));
  expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
  expect(() => batchesPerEpoch(5, 10, 'drop')).toThrow(/batch size 10 is larger than the data set \(5 images\)/);
});

/** Reference augmentation: zero-pad by p, crop at (p+dy, p+dx), flip; then normalise. */
function referenceAugment(ds: Dataset, j: number, p: number, dy: number, dx: number, flip: boolean): Float32Array {
  const [c, h, w] = ds.shape;
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    const padded = new Float32Array((h + 2 * p) * (w + 2 * p));
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) padded[(y + p) * (w + 2 * p) + x + p] = ds.images[((j * c + ch) * h + y) * w + x];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const cx = flip ? w - 1 - x : x;
        const v = padded[(y + p + dy) * (w + 2 * p) + cx + p + dx];
        out[(ch * h + y) * w + x] = (v / 255 - ds.mean[ch]) / ds.std[ch];
      }
    }
  }
  return out;
}

test('crop with zero padding and horizontal flip match a direct implementation', () => {
  const ds = tiny(40);
  const p = 3;
  const opts: BatchOptions = { batchSize: 40, seed: 9, augment: { crop: p, flip: true } };
  const b = batchAt(ds, opts, 2, 0);
  const rng = new Rng([9, 'augment', 2, 0]);
  const size = 70;
  let flips = 0;
  for (let i = 0; i < 40; i++) {
    const dy = rng.int(2 * p + 1) - p;
    const dx = rng.int(2 * p + 1) - p;
    const flip = (rng.uint32() & 1) === 1;
    if (flip) flips++;
    const want = referenceAugment(ds, b.indices[i], p, dy, dx, flip);
    const got = b.x.subarray(i * size, (i + 1) * size);
    for (let k = 0; k < size; k++) expect(got[k]).toBeCloseTo(want[k], 5);
  }
  expect(flips).toBeGreaterThan(5);
  expect(flips).toBeLessThan(35);
});

test('augmentation defaults: CIFAR crop+flip, others none; switchable', () => {
  const ds = tiny(16);
  const plain = batchAt(ds, { batchSize: 16, seed: 1, augment: false }, 0, 0);
  const cifarDefault = batchAt(ds, { batchSize: 16, seed: 1 }, 0, 0);
  expect(hashBatches([cifarDefault])).not.toBe(hashBatches([plain]));
  const mnist = { ...ds, name: 'mnist' as const };
  expect(hashBatches([batchAt(mnist, { batchSize: 16, seed: 1 }, 0, 0)])).toBe(hashBatches([plain]));
  expect(hashBatches([batchAt(mnist, { batchSize: 16, seed: 1, augment: true }, 0, 0)])).toBe(hashBatches([cifarDefault]));
  expect(() => batchAt(ds, { batchSize: 16, seed: 1, augment: { crop: -1, flip: false } }, 0, 0)).toThrow(/crop must be an integer >= 0/);
});

test('resuming at (epoch, index) continues exactly as an uninterrupted run', () => {
  const ds = tiny(50);
  const opts: BatchOptions = { batchSize: 8, seed: 4, augment: true, last: 'wrap' };
  const full = new BatchStream(ds, opts);
  const all: Batch[] = [];
  for (let i = 0; i < 3 * full.perEpoch; i++) all.push(full.next());
  expect(full.position).toEqual({ epoch: 3, index: 0 });
  const resumeAt = 10; // epoch 1, index 3 (7 batches per epoch)
  const resumed = new BatchStream(ds, opts, { epoch: 1, index: 3 });
  const rest: Batch[] = [];
  for (let i = resumeAt; i < all.length; i++) rest.push(resumed.next());
  expect(hashBatches(rest)).toBe(hashBatches(all.slice(resumeAt)));
  expect(rest[0]).toMatchObject({ epoch: 1, index: 3 });
  // A checkpoint taken after an epoch's last batch (index === perEpoch) resumes at the next epoch.
  expect(new BatchStream(ds, opts, { epoch: 0, index: 7 }).position).toEqual({ epoch: 1, index: 0 });
  expect(hashBatches([...epochBatches(ds, opts, 2, 5)])).toBe(hashBatches(all.slice(19, 21)));
});

test('the same seed gives the same batches from a fresh module registry, and pinned values', () => {
  const ds = tiny(64);
  const opts: BatchOptions = { batchSize: 16, seed: 123, augment: true };
  const here = hashBatches([batchAt(ds, opts, 0, 0), batchAt(ds, opts, 3, 2)]);
  let fresh = '';
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const m = require('../../src/data/batches') as typeof import('../../src/data/batches');
    fresh = hashBatches([m.batchAt(ds, opts, 0, 0), m.batchAt(ds, opts, 3, 2)]);
  });
  expect(fresh).toBe(here);
  // Pinned: a change here changes every run's data order (see rng.test.ts for why that matters).
  expect(Array.from(batchIndices(64, opts, 0, 0))).toEqual(PINNED_INDICES);
});

test('full-batch mode: the whole set in order, or fixed chunks', () => {
  const ds = tiny(23);
  const [one, ...none] = [...fullBatches(ds)];
  expect(none).toEqual([]);
  expect(one.shape).toEqual([23, 2, 5, 7]);
  expect(Array.from(one.indices)).toEqual(Array.from({ length: 23 }, (_, i) => i));
  const plain = assembleBatch(ds, one.indices, { crop: 0, flip: false }, null);
  expect(hashBatches([one])).toBe(hashBatches([{ ...plain, epoch: 0, index: 0 }]));
  expect([...fullBatches(ds, { chunkSize: 10 })].map((b) => b.shape[0])).toEqual([10, 10, 3]);
  expect([...fullBatches(ds, { chunkSize: 10, last: 'drop' })].map((b) => b.shape[0])).toEqual([10, 10]);
});

test('output buffers are reused when given', () => {
  const ds = tiny(20);
  const out = { x: new Float32Array(5 * 70), y: new BigInt64Array(5) };
  const b = batchAt(ds, { batchSize: 5, seed: 0 }, 0, 1, out);
  expect(b.x).toBe(out.x);
  expect(b.y).toBe(out.y);
});

const PINNED_INDICES = [48, 32, 23, 39, 29, 20, 18, 30, 43, 7, 21, 59, 56, 10, 62, 5];
