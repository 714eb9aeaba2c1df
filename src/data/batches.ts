/**
 * Batches for training and evaluation: normalised float32 NCHW images and int64 labels (what
 * the ONNX programs take), in a seeded order, with optional augmentation.
 *
 * Everything random is a pure function of (seed, epoch, batch index): the epoch's order is the
 * permutation of Rng([seed, 'order', epoch]) and a batch's augmentation draws come from
 * Rng([seed, 'augment', epoch, index]). A run resumed at (epoch, index) therefore continues
 * with exactly the batches it would have seen, and there is no RNG state to checkpoint.
 */
import { Rng } from '../util/rng';
import type { DatasetName } from './catalog';
import { Dataset, imageSize } from './dataset';

/** Random crop from a zero-padded image, then a random horizontal flip (torchvision's order). */
export interface Augmentation {
  /** Zero padding on each side before cropping back to the original size; 0: no crop. */
  crop: number;
  flip: boolean;
}

export const NO_AUGMENTATION: Augmentation = { crop: 0, flip: false };
export const STANDARD_AUGMENTATION: Augmentation = { crop: 4, flip: true };

/** CIFAR-10 trains with crop 4 + flip by convention; (Fashion-)MNIST and synthetic data without. */
export function defaultAugmentation(name: DatasetName): Augmentation {
  return name === 'cifar10' ? STANDARD_AUGMENTATION : NO_AUGMENTATION;
}

/** What to do with the last, partial batch of an epoch. */
export type LastBatch =
  /** Leave it out: every batch has batchSize images (fixed shapes; the default). */
  | 'drop'
  /** Fill it up with the first images of the same epoch's order: fixed shapes, every image seen. */
  | 'wrap'
  /** Yield it smaller (evaluation with a program that accepts a variable batch). */
  | 'keep';

export interface BatchOptions {
  batchSize: number;
  seed: number;
  /** Shuffle each epoch (default true); false keeps the data set's order. */
  shuffle?: boolean;
  /** true: crop 4 + flip; false: none; undefined: the data set's default; or explicit. */
  augment?: boolean | Augmentation;
  /** Default 'drop'. */
  last?: LastBatch;
}

export interface Batch {
  /** batch × C × H × W, normalised with the data set's per-channel mean/std. */
  x: Float32Array;
  /** Labels as int64, as ONNX's cross-entropy ops take them. */
  y: BigInt64Array;
  shape: [number, number, number, number];
  /** Which images of the data set (positions in it) are in the batch, in order. */
  indices: Uint32Array;
  epoch: number;
  index: number;
}

/** Resume point: the next batch to produce. */
export interface BatchPosition {
  epoch: number;
  index: number;
}

export function resolveAugmentation(ds: Pick<Dataset, 'name'>, augment: BatchOptions['augment']): Augmentation {
  if (augment === undefined) return defaultAugmentation(ds.name);
  if (augment === true) return STANDARD_AUGMENTATION;
  if (augment === false) return NO_AUGMENTATION;
  if (!Number.isInteger(augment.crop) || augment.crop < 0) throw new Error(`augmentation crop must be an integer >= 0, got ${augment.crop}`);
  return augment;
}

export function batchesPerEpoch(count: number, batchSize: number, last: LastBatch = 'drop'): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  const n = last === 'drop' ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
  if (n === 0) {
    throw new Error(`batch size ${batchSize} is larger than the data set (${count} images) and the last partial batch is dropped; use a smaller batch or last: 'wrap'`);
  }
  return n;
}

// The permutation is reused by every batch of an epoch; remembering the latest one avoids
// recomputing it per batch (one entry is enough: batches are taken epoch by epoch).
let lastOrder: { key: string; order: Uint32Array } | null = null;

/** The order of the data set in `epoch`: a seeded permutation, or 0 … count-1 unshuffled. */
export function epochOrder(count: number, seed: number, epoch: number, shuffle = true): Uint32Array {
  const key = `${count}|${seed}|${epoch}|${shuffle}`;
  if (lastOrder?.key === key) return lastOrder.order;
  const order = shuffle ? new Rng([seed, 'order', epoch]).permutation(count) : Uint32Array.from({ length: count }, (_, i) => i);
  lastOrder = { key, order };
  return order;
}

/** Positions (in the data set) of the images of batch `index` of `epoch`. */
export function batchIndices(count: number, opts: BatchOptions, epoch: number, index: number): Uint32Array {
  const last = opts.last ?? 'drop';
  const perEpoch = batchesPerEpoch(count, opts.batchSize, last);
  if (!Number.isInteger(index) || index < 0 || index >= perEpoch) {
    throw new Error(`batch index ${index} is out of range: an epoch has ${perEpoch} batches of ${opts.batchSize}`);
  }
  const order = epochOrder(count, opts.seed, epoch, opts.shuffle ?? true);
  const start = index * opts.batchSize;
  const end = Math.min(start + opts.batchSize, count);
  if (end - start === opts.batchSize || last === 'keep') return order.slice(start, end);
  // 'wrap': complete the last batch with the epoch's first images.
  const out = new Uint32Array(opts.batchSize);
  out.set(order.subarray(start, end));
  out.set(order.subarray(0, opts.batchSize - (end - start)), end - start);
  return out;
}

/** Batch `index` of `epoch`. `out` buffers of the right size are reused if given. */
export function batchAt(ds: Dataset, opts: BatchOptions, epoch: number, index: number, out?: { x: Float32Array; y: BigInt64Array }): Batch {
  const indices = batchIndices(ds.count, opts, epoch, index);
  const aug = resolveAugmentation(ds, opts.augment);
  const rng = aug.crop > 0 || aug.flip ? new Rng([opts.seed, 'augment', epoch, index]) : null;
  return { ...assembleBatch(ds, indices, aug, rng, out), epoch, index };
}

/** The batches of one epoch from `startIndex` on. */
export function* epochBatches(ds: Dataset, opts: BatchOptions, epoch: number, startIndex = 0): Generator<Batch> {
  const n = batchesPerEpoch(ds.count, opts.batchSize, opts.last);
  for (let i = startIndex; i < n; i++) yield batchAt(ds, opts, epoch, i);
}

/**
 * An endless stream of batches across epochs, starting at `from` (a resume point). `position`
 * is always the next batch, so saving it in a checkpoint is all a resume needs.
 */
export class BatchStream {
  readonly perEpoch: number;
  private pos: BatchPosition;

  constructor(private readonly ds: Dataset, private readonly opts: BatchOptions, from: BatchPosition = { epoch: 0, index: 0 }) {
    this.perEpoch = batchesPerEpoch(ds.count, opts.batchSize, opts.last);
    if (from.index < 0 || from.index > this.perEpoch) throw new Error(`resume index ${from.index} out of range 0…${this.perEpoch}`);
    // index === perEpoch (a checkpoint taken after an epoch's last batch) means the next epoch.
    this.pos = from.index === this.perEpoch ? { epoch: from.epoch + 1, index: 0 } : { ...from };
  }

  get position(): BatchPosition {
    return { ...this.pos };
  }

  next(): Batch {
    const b = batchAt(this.ds, this.opts, this.pos.epoch, this.pos.index);
    this.pos = this.pos.index + 1 === this.perEpoch ? { epoch: this.pos.epoch + 1, index: 0 } : { epoch: this.pos.epoch, index: this.pos.index + 1 };
    return b;
  }
}

/**
 * The whole data set in its stored order, unaugmented: one batch (chunkSize omitted) or fixed
 * chunks, e.g. for full-batch gradient descent or evaluation. last: 'keep' (default) yields a
 * smaller final chunk; 'drop' and 'wrap' keep shapes fixed.
 */
export function* fullBatches(ds: Dataset, opts: { chunkSize?: number; last?: LastBatch } = {}): Generator<Batch> {
  const batchSize = opts.chunkSize ?? ds.count;
  yield* epochBatches(ds, { batchSize, seed: 0, shuffle: false, augment: false, last: opts.last ?? 'keep' }, 0);
}

/**
 * Copies the images at `indices` into a normalised float32 batch, applying the augmentation
 * with draws from `rng` (per image: crop offsets, then flip).
 */
export function assembleBatch(
  ds: Dataset, indices: Uint32Array, aug: Augmentation, rng: Rng | null, out?: { x: Float32Array; y: BigInt64Array },
): Omit<Batch, 'epoch' | 'index'> {
  const [c, h, w] = ds.shape;
  const size = imageSize(ds);
  const n = indices.length;
  const x = out && out.x.length === n * size ? out.x : new Float32Array(n * size);
  const y = out && out.y.length === n ? out.y : new BigInt64Array(n);
  // Normalisation as one multiply-add per value: (v·scale − mean) / std = v·a + b.
  const scale = ds.images instanceof Uint8Array ? 1 / 255 : 1;
  const a = ds.std.map((s) => scale / s);
  const b = ds.mean.map((m, k) => -m / ds.std[k]);
  const p = aug.crop;
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    y[i] = BigInt(ds.labels[j]);
    let dy = 0;
    let dx = 0;
    let flip = false;
    if (rng) {
      if (p > 0) {
        dy = rng.int(2 * p + 1) - p;
        dx = rng.int(2 * p + 1) - p;
      }
      if (aug.flip) flip = (rng.uint32() & 1) === 1;
    }
    for (let ch = 0; ch < c; ch++) {
      const src = (j * c + ch) * h * w;
      const dst = (i * c + ch) * h * w;
      copyPlane(ds.images, src, x, dst, h, w, dy, dx, flip, a[ch], b[ch]);
    }
  }
  return { x, y, shape: [n, c, h, w], indices };
}

/**
 * Writes out[y][x] = src[y + dy][x' + dx] · a + b with x' = flip ? w−1−x : x, and b (a zero
 * pixel, i.e. the padding) where the source is outside the image.
 */
function copyPlane(
  src: Uint8Array | Float32Array, s0: number, out: Float32Array, d0: number, h: number, w: number,
  dy: number, dx: number, flip: boolean, a: number, b: number,
): void {
  for (let yy = 0; yy < h; yy++) {
    const sy = yy + dy;
    const drow = d0 + yy * w;
    if (sy < 0 || sy >= h) {
      out.fill(b, drow, drow + w);
      continue;
    }
    const srow = s0 + sy * w;
    // Source column for output column x: flip ? w−1−x+dx : x+dx; valid where it is in [0, w).
    const lo = flip ? Math.max(0, dx) : Math.max(0, -dx);
    const hi = flip ? Math.min(w, w + dx) : Math.min(w, w - dx);
    if (lo > 0) out.fill(b, drow, drow + lo);
    if (hi < w) out.fill(b, drow + hi, drow + w);
    if (flip) {
      const base = srow + w - 1 + dx;
      for (let xx = lo; xx < hi; xx++) out[drow + xx] = src[base - xx] * a + b;
    } else {
      const base = srow + dx;
      for (let xx = lo; xx < hi; xx++) out[drow + xx] = src[base + xx] * a + b;
    }
  }
}

