/**
 * The one in-memory form every data set takes. Images stay as the files store them (uint8,
 * 0–255) until a batch is assembled; only synthetic data is float from the start.
 */
import type { DatasetName, Split } from './catalog';

export interface Dataset {
  name: DatasetName;
  split: Split;
  count: number;
  /** [channels, height, width] of one image. */
  shape: [number, number, number];
  numClasses: number;
  /**
   * count × C × H × W values, NCHW. Uint8Array: pixels 0–255 (normalised as v/255);
   * Float32Array: values used as they are (synthetic data).
   */
  images: Uint8Array | Float32Array;
  /** count labels in 0 … numClasses-1. */
  labels: Uint8Array;
  /** Per-channel normalisation statistics on the 0–1 scale (the training split's). */
  mean: number[];
  std: number[];
  classNames?: readonly string[];
  /** Where it came from (a directory, or a description of generated data), for logs. */
  source: string;
}

export function imageSize(ds: Pick<Dataset, 'shape'>): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/** Images per class, e.g. [6000, 6000, …] for Fashion-MNIST's training split. */
export function classCounts(ds: Pick<Dataset, 'labels' | 'numClasses'>): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (const l of ds.labels) counts[l]++;
  return counts;
}

/** Per-channel mean and (population) std of the images on the 0–1 scale. */
export function channelStats(ds: Dataset): { mean: number[]; std: number[] } {
  const [c, h, w] = ds.shape;
  const plane = h * w;
  const scale = ds.images instanceof Uint8Array ? 1 / 255 : 1;
  const mean: number[] = [];
  const std: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < ds.count; i++) {
      const base = (i * c + ch) * plane;
      for (let j = 0; j < plane; j++) {
        const v = ds.images[base + j] * scale;
        s += v;
        s2 += v * v;
      }
    }
    const n = ds.count * plane;
    const m = s / n;
    mean.push(m);
    std.push(Math.sqrt(Math.max(0, s2 / n - m * m)));
  }
  return { mean, std };
}
