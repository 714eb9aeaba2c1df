/**
 * The data layer's public API: load a data set (real or synthetic) or a recorded subset of one,
 * and turn it into batches. Loaded sets are cached per process, so no file is read twice.
 */
import { readCifarBatches } from './cifar';
import { DatasetName, Split, datasetInfo, DATASETS, RealDatasetName, DATASET_NAMES } from './catalog';
import { Dataset } from './dataset';
import { readIdxPair } from './idx';
import type { DownloadOptions, Located, SourceOptions } from './sources';
import { locateDataset, verifyContent } from './sources';
import type { SubsetSpec } from './subset';
import { subsetOf } from './subset';
import type { SyntheticSpec } from './synthetic';
import { resolveSyntheticSpec, syntheticDataset } from './synthetic';

export * from './catalog';
export * from './dataset';
export * from './batches';
export { pooledShape, poolImages } from './pool';
export type { SubsetSpec } from './subset';
export { balancedSubsetIndices, subsetOf, takeImages } from './subset';
export type { SyntheticSpec } from './synthetic';
export { syntheticDataset, resolveSyntheticSpec } from './synthetic';
export type { DownloadOptions, DownloadResult, DatasetListing, Located, SourceOptions } from './sources';
export {
  cacheDir, downloadDataset, findDataset, formatDatasetList, listDatasets, locateDataset, missingMessage, verifyContent,
} from './sources';

export interface LoadOptions extends SourceOptions, DownloadOptions {
  /** Parameters of the synthetic data set (ignored for real ones). */
  synthetic?: SyntheticSpec;
  /**
   * Check the decompressed files' SHA-256 against docs/data.md where known (Fashion-MNIST): costs
   * ~0.2 s per load; the structural checks (magic, sizes, labels) always run.
   */
  verify?: boolean;
}

const cache = new Map<string, Promise<Dataset>>();

/** Loads one split. Concurrent and repeated calls for the same files share one read. */
export function loadDataset(name: DatasetName, split: Split, opts: LoadOptions = {}): Promise<Dataset> {
  if (!DATASET_NAMES.includes(name)) throw new Error(`unknown data set "${name}". Known: ${DATASET_NAMES.join(', ')}`);
  if (split !== 'train' && split !== 'test') throw new Error(`unknown split "${split}": use train or test`);
  if (name === 'synthetic') {
    const key = `synthetic|${split}|${JSON.stringify(resolveSyntheticSpec(opts.synthetic))}`;
    return cached(key, async () => syntheticDataset(split, opts.synthetic));
  }
  return loadReal(name, split, opts);
}

async function loadReal(name: RealDatasetName, split: Split, opts: LoadOptions): Promise<Dataset> {
  const located = await locateDataset(name, split, opts);
  const key = `${name}|${split}|${located.dir}|${opts.verify ? 'verified' : ''}`;
  return cached(key, async () => readLocated(name, split, located, !!opts.verify));
}

function cached(key: string, make: () => Promise<Dataset>): Promise<Dataset> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    // A failed load is not remembered: the user may fix the files and call again.
    p.catch(() => cache.delete(key));
  }
  return p;
}

function readLocated(name: RealDatasetName, split: Split, located: Located, verify: boolean): Dataset {
  const info = datasetInfo(name);
  if (verify) {
    const problems = verifyContent(name, located);
    if (problems.length > 0) {
      throw new Error(`${name} (${split}) in ${located.dir} does not match the published content:\n  ${problems.join('\n  ')}\nReplace these files with intact copies.`);
    }
  }
  const [c, h, w] = info.shape;
  let images: Uint8Array;
  let labels: Uint8Array;
  let count: number;
  if (info.format === 'idx') {
    const [imagesFile, labelsFile] = info.splitFiles[split].map((f) => located.files[f]);
    const r = readIdxPair(imagesFile, labelsFile, info.numClasses);
    if (r.rows !== h || r.cols !== w) {
      throw new Error(`${imagesFile}: images are ${r.rows}×${r.cols}, ${name} has ${h}×${w}; is this the right data set?`);
    }
    ({ images, labels, count } = r);
  } else {
    ({ images, labels, count } = readCifarBatches(info.splitFiles[split].map((f) => located.files[f])));
  }
  return {
    name,
    split,
    count,
    shape: [c, h, w],
    numClasses: info.numClasses,
    images,
    labels,
    mean: [...info.mean],
    std: [...info.std],
    classNames: info.classNames,
    source: `${located.dir} (${located.origin})`,
  };
}

/** Loads the data set a subset spec names and takes the subset (the whole split if size is unset). */
export async function loadSubset(spec: SubsetSpec, opts: LoadOptions = {}): Promise<Dataset> {
  const ds = await loadDataset(spec.dataset, spec.split, { ...opts, synthetic: spec.synthetic ?? opts.synthetic });
  return subsetOf(ds, spec.size, spec.seed);
}

/** Forgets every loaded data set (tests; long-lived processes that need the memory back). */
export function clearDatasetCache(): void {
  cache.clear();
}

/** A short human-readable description, e.g. for logs: `cifar10 train: 50000 × 3×32×32 from …`. */
export function describeDataset(ds: Dataset): string {
  return `${ds.name} ${ds.split}: ${ds.count} × ${ds.shape.join('×')}, ${ds.numClasses} classes, from ${ds.source}`;
}

/** A data set's training split as stored (before a subset or pooling), from the catalogue or the synthetic spec, without loading it. */
export function storedTrainSplit(dataset: DatasetName, synthetic?: SyntheticSpec): Pick<Dataset, 'shape' | 'numClasses' | 'count'> {
  if (dataset === 'synthetic') {
    const s = resolveSyntheticSpec(synthetic);
    return { shape: s.shape, numClasses: s.numClasses, count: s.trainCount };
  }
  const info = DATASETS[dataset];
  return { shape: info.shape, numClasses: info.numClasses, count: info.counts.train };
}
