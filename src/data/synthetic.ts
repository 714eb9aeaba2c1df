/**
 * Synthetic, learnable data of any shape: each class has a fixed random mean image, and an
 * example is its class mean plus Gaussian noise. The class means depend only on the seed, so
 * the train and test splits share them (a model that learns one generalises to the other);
 * the noise and label order differ between splits. Values are already on a normalised scale
 * (mean 0), so the data set's mean/std are 0/1 and normalisation leaves them unchanged.
 */
import { Rng } from '../util/rng';
import type { Split } from './catalog';
import type { Dataset } from './dataset';

export interface SyntheticSpec {
  /** [channels, height, width] (default [3, 32, 32]). */
  shape?: [number, number, number];
  numClasses?: number;
  /** Examples in the train split (default 1024) and the test split (default 256). */
  trainCount?: number;
  testCount?: number;
  seed?: number;
  /** Standard deviation of each class mean's entries (default 0.5): the signal. */
  signal?: number;
  /** Standard deviation of the per-example noise (default 1). */
  noise?: number;
}

export type ResolvedSyntheticSpec = Required<SyntheticSpec>;

export function resolveSyntheticSpec(spec: SyntheticSpec = {}): ResolvedSyntheticSpec {
  const r: ResolvedSyntheticSpec = {
    shape: spec.shape ?? [3, 32, 32],
    numClasses: spec.numClasses ?? 10,
    trainCount: spec.trainCount ?? 1024,
    testCount: spec.testCount ?? 256,
    seed: spec.seed ?? 0,
    signal: spec.signal ?? 0.5,
    noise: spec.noise ?? 1,
  };
  if (r.shape.length !== 3 || !r.shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`synthetic data: shape must be [C, H, W] of positive integers, got ${JSON.stringify(r.shape)}`);
  }
  if (!Number.isInteger(r.numClasses) || r.numClasses < 2 || r.numClasses > 256) {
    throw new Error(`synthetic data: numClasses must be an integer in 2…256, got ${r.numClasses}`);
  }
  for (const k of ['trainCount', 'testCount'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) throw new Error(`synthetic data: ${k} must be a positive integer, got ${r[k]}`);
  }
  return r;
}

export function syntheticDataset(split: Split, spec: SyntheticSpec = {}): Dataset {
  const s = resolveSyntheticSpec(spec);
  const [c, h, w] = s.shape;
  const size = c * h * w;
  const count = split === 'train' ? s.trainCount : s.testCount;

  const means = new Rng([s.seed, 'synthetic', 'class-means']).fillNormal(new Float32Array(s.numClasses * size), 0, s.signal);

  // Balanced labels (counts differ by at most one), in a seeded order.
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % s.numClasses;
  new Rng([s.seed, 'synthetic', split, 'labels']).shuffle(labels);

  const images = new Float32Array(count * size);
  const noise = new Rng([s.seed, 'synthetic', split, 'noise']);
  for (let i = 0; i < count; i++) {
    const m = labels[i] * size;
    const base = i * size;
    for (let j = 0; j < size; j++) images[base + j] = means[m + j] + noise.normal(0, s.noise);
  }
  return {
    name: 'synthetic',
    split,
    count,
    shape: [c, h, w],
    numClasses: s.numClasses,
    images,
    labels,
    mean: new Array(c).fill(0),
    std: new Array(c).fill(1),
    classNames: Array.from({ length: s.numClasses }, (_, k) => `class ${k}`),
    source: `synthetic ${JSON.stringify(s)}`,
  };
}
