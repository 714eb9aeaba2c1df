/**
 * Fixed, class-balanced, seeded subsets. A subset is described by a JSON-able spec that a run's
 * config records; the same spec rebuilds the same images in the same order on any machine.
 */
import { Rng } from '../util/rng';
import type { DatasetName, Split } from './catalog';
import { Dataset, imageSize } from './dataset';
import type { SyntheticSpec } from './synthetic';

export interface SubsetSpec {
  dataset: DatasetName;
  split: Split;
  /** Number of images; omitted or null: the whole split. */
  size?: number | null;
  /** Seed of the selection (irrelevant when the whole split is taken). */
  seed: number;
  /** Parameters of the synthetic data set, when dataset is 'synthetic'. */
  synthetic?: SyntheticSpec;
}

/**
 * Indices (ascending) of a class-balanced subset: size / numClasses images of each class; when
 * size is not a multiple of numClasses, a seeded choice of classes gets one image more.
 */
export function balancedSubsetIndices(labels: Uint8Array, numClasses: number, size: number, seed: number, what = 'data set'): Uint32Array {
  if (!Number.isInteger(size) || size < 1 || size > labels.length) {
    throw new Error(`subset of ${what}: size must be an integer in 1…${labels.length}, got ${size}`);
  }
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);

  const rng = new Rng([seed, 'subset']);
  const quota = new Array<number>(numClasses).fill(Math.floor(size / numClasses));
  const extra = rng.permutation(numClasses).subarray(0, size % numClasses);
  for (const k of extra) quota[k]++;

  const picked: number[] = [];
  for (let k = 0; k < numClasses; k++) {
    if (byClass[k].length < quota[k]) {
      throw new Error(
        `subset of ${what}: class ${k} has ${byClass[k].length} images, fewer than the ${quota[k]} a balanced subset of ${size} needs; choose a smaller size`,
      );
    }
    // A partial Fisher–Yates: the first quota[k] entries become a uniform random sample.
    const idx = byClass[k];
    for (let i = 0; i < quota[k]; i++) {
      const j = i + rng.int(idx.length - i);
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      picked.push(idx[i]);
    }
  }
  return Uint32Array.from(picked).sort();
}

/** A new data set made of the given images of `ds` (copied), in the given order. */
export function takeImages(ds: Dataset, indices: Uint32Array, source: string): Dataset {
  const size = imageSize(ds);
  const images = ds.images instanceof Uint8Array ? new Uint8Array(indices.length * size) : new Float32Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    images.set(ds.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = ds.labels[j];
  }
  return { ...ds, count: indices.length, images, labels, source };
}

/** The balanced subset of `ds` described by (size, seed); the whole set when size is null. */
export function subsetOf(ds: Dataset, size: number | null | undefined, seed: number): Dataset {
  if (size === null || size === undefined || size === ds.count) return ds;
  const what = `${ds.name} ${ds.split}`;
  const indices = balancedSubsetIndices(ds.labels, ds.numClasses, size, seed, what);
  return takeImages(ds, indices, `${ds.source} [balanced subset of ${size}, seed ${seed}]`);
}
