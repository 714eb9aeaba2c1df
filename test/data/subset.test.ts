/** Class-balanced seeded subsets and synthetic data. */
import { balancedSubsetIndices, classCounts, loadSubset, subsetOf, syntheticDataset, SubsetSpec, clearDatasetCache, Dataset } from '../../src/data';

beforeEach(() => clearDatasetCache());

const labels = (n: number, k = 10) => new Uint8Array(n).map((_, i) => (i * 7) % k);

describe('balanced subsets', () => {
  test('size / numClasses per class, ascending indices, deterministic per seed', () => {
    const l = labels(1000);
    const a = balancedSubsetIndices(l, 10, 100, 1);
    expect(a.length).toBe(100);
    const counts = new Array(10).fill(0);
    for (const i of a) counts[l[i]]++;
    expect(counts).toEqual(new Array(10).fill(10));
    expect(Array.from(a)).toEqual(Array.from(a).sort((x, y) => x - y));
    expect(new Set(a).size).toBe(100);
    expect(Array.from(balancedSubsetIndices(l, 10, 100, 1))).toEqual(Array.from(a));
    expect(Array.from(balancedSubsetIndices(l, 10, 100, 2))).not.toEqual(Array.from(a));
  });

  test('a size that is not a multiple of the class count: a seeded choice of classes gets one more', () => {
    const l = labels(1000);
    const a = balancedSubsetIndices(l, 10, 103, 5);
    const counts = new Array(10).fill(0);
    for (const i of a) counts[l[i]]++;
    expect(counts.filter((c) => c === 11).length).toBe(3);
    expect(counts.filter((c) => c === 10).length).toBe(7);
  });

  test('errors: too large overall, too few of a class', () => {
    expect(() => balancedSubsetIndices(labels(100), 10, 101, 0)).toThrow(/size must be an integer in 1…100/);
    const skewed = new Uint8Array(100).map((_, i) => (i < 95 ? 0 : 1));
    expect(() => balancedSubsetIndices(skewed, 2, 20, 0, 'x train')).toThrow(/subset of x train: class 1 has 5 images, fewer than the 10/);
  });

  test('subsetOf copies the chosen images with their labels', () => {
    const ds = syntheticDataset('train', { shape: [1, 2, 2], trainCount: 100, numClasses: 4 });
    const sub = subsetOf(ds, 20, 3);
    expect(sub.count).toBe(20);
    expect(classCounts(sub)).toEqual([5, 5, 5, 5]);
    const idx = balancedSubsetIndices(ds.labels, 4, 20, 3);
    expect(Array.from(sub.images.subarray(4, 8))).toEqual(Array.from(ds.images.subarray(idx[1] * 4, idx[1] * 4 + 4)));
    expect(sub.labels[1]).toBe(ds.labels[idx[1]]);
    expect(sub.source).toMatch(/balanced subset of 20, seed 3/);
    expect(subsetOf(ds, null, 3)).toBe(ds);
  });

  test('a JSON spec rebuilds the same subset', async () => {
    const spec: SubsetSpec = { dataset: 'synthetic', split: 'train', size: 40, seed: 7, synthetic: { shape: [1, 4, 4], trainCount: 200 } };
    const a = await loadSubset(spec);
    clearDatasetCache();
    const b = await loadSubset(JSON.parse(JSON.stringify(spec)));
    expect(a).not.toBe(b);
    expect(Buffer.from(b.images.buffer).equals(Buffer.from(a.images.buffer))).toBe(true);
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
  });
});

describe('synthetic data', () => {
  test('any shape and class count, balanced, seeded; splits share class means but not noise', () => {
    const spec = { shape: [2, 3, 5] as [number, number, number], numClasses: 3, trainCount: 30, testCount: 9, seed: 4 };
    const tr = syntheticDataset('train', spec);
    expect(tr).toMatchObject({ name: 'synthetic', count: 30, shape: [2, 3, 5], numClasses: 3, mean: [0, 0], std: [1, 1] });
    expect(tr.images).toBeInstanceOf(Float32Array);
    expect(tr.images.length).toBe(30 * 30);
    expect(classCounts(tr)).toEqual([10, 10, 10]);
    expect(classCounts(syntheticDataset('test', spec))).toEqual([3, 3, 3]);
    expect(Array.from(syntheticDataset('train', spec).images)).toEqual(Array.from(tr.images));
    expect(Array.from(syntheticDataset('train', { ...spec, seed: 5 }).images)).not.toEqual(Array.from(tr.images));
    expect(() => syntheticDataset('train', { shape: [0, 2, 2] })).toThrow(/shape must be \[C, H, W\]/);
    expect(() => syntheticDataset('train', { numClasses: 1 })).toThrow(/numClasses/);
  });

  test('learnable: nearest class mean of the train split classifies the test split', () => {
    const spec = { shape: [1, 8, 8] as [number, number, number], numClasses: 10, trainCount: 1000, testCount: 500, seed: 1 };
    const tr = syntheticDataset('train', spec);
    const te = syntheticDataset('test', spec);
    const means = classMeans(tr);
    let right = 0;
    for (let i = 0; i < te.count; i++) {
      let best = -1, bestD = Infinity;
      for (let k = 0; k < 10; k++) {
        let d = 0;
        for (let j = 0; j < 64; j++) d += (te.images[i * 64 + j] - means[k * 64 + j]) ** 2;
        if (d < bestD) { bestD = d; best = k; }
      }
      if (best === te.labels[i]) right++;
    }
    // Learnable but not trivial: well above chance (10%).
    expect(right / te.count).toBeGreaterThan(0.6);
  });
});

function classMeans(ds: Dataset): Float64Array {
  const size = 64;
  const sums = new Float64Array(ds.numClasses * size);
  const counts = classCounts(ds);
  for (let i = 0; i < ds.count; i++) for (let j = 0; j < size; j++) sums[ds.labels[i] * size + j] += ds.images[i * size + j];
  for (let k = 0; k < ds.numClasses; k++) for (let j = 0; j < size; j++) sums[k * size + j] /= counts[k];
  return sums;
}
