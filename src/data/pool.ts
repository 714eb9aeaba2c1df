/** Average pooling of a data set's images: a cheaper input for small-scale runs (28×28 → 14×14 at k = 2). */
import { channelStats, Dataset } from './dataset';

/** The shape of `name`'s images of `shape` pooled over k×k blocks; refused where k does not divide both sides. */
export function pooledShape(shape: readonly [number, number, number], k: number, name: string): [number, number, number] {
  const [c, h, w] = shape;
  if (h % k !== 0 || w % k !== 0) throw new Error(`pool ${k}: cannot pool ${name} images of ${h}×${w} by ${k}; choose a factor that divides both sides`);
  return [c, h / k, w / k];
}

/** The data set with every image average-pooled over k×k blocks (rounded, for uint8 images), normalised with its own statistics. */
export function poolImages(ds: Dataset, k: number): Dataset {
  if (k === 1) return ds;
  const [c, ph, pw] = pooledShape(ds.shape, k, ds.name);
  const [h, w] = [ds.shape[1], ds.shape[2]];
  const bytes = ds.images instanceof Uint8Array;
  const images = bytes ? new Uint8Array(ds.count * c * ph * pw) : new Float32Array(ds.count * c * ph * pw);
  for (let p = 0; p < ds.count * c; p++) {
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        let sum = 0;
        for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) sum += ds.images[p * h * w + (y * k + dy) * w + x * k + dx];
        images[p * ph * pw + y * pw + x] = bytes ? Math.round(sum / (k * k)) : sum / (k * k);
      }
    }
  }
  const pooled: Dataset = { ...ds, shape: [c, ph, pw], images, source: `${ds.source} [pooled ${k}×${k}]` };
  return { ...pooled, ...channelStats(pooled) };
}
