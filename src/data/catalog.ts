/**
 * What we know about each real data set: shape, classes, normalisation statistics, file names,
 * official location and published checksums (docs/data.md). Pure data, no I/O.
 */

export type RealDatasetName = 'fashion-mnist' | 'mnist' | 'cifar10';
export type DatasetName = RealDatasetName | 'synthetic';
export type Split = 'train' | 'test';

export const DATASET_NAMES: readonly DatasetName[] = ['fashion-mnist', 'mnist', 'cifar10', 'synthetic'];
export const REAL_DATASET_NAMES: readonly RealDatasetName[] = ['fashion-mnist', 'mnist', 'cifar10'];

/** A file as published: its name at the base URL and the MD5 the data set's page gives. */
export interface PublishedFile {
  name: string;
  md5: string;
  /** Size in bytes where published; used for the progress bar and a quick sanity check. */
  size?: number;
}

export interface DatasetInfo {
  name: RealDatasetName;
  title: string;
  format: 'idx' | 'cifar';
  shape: [number, number, number];
  numClasses: number;
  classNames: readonly string[];
  counts: Record<Split, number>;
  /** Per-channel statistics of the training split on the 0–1 pixel scale. */
  mean: readonly number[];
  std: readonly number[];
  /** Official base URL (files are fetched as `${baseUrl}${file.name}`). */
  baseUrl: string;
  /** What is downloaded: the IDX .gz files, or the single CIFAR archive. */
  published: readonly PublishedFile[];
  /** The files a split needs on disk, by their names in a data directory. */
  splitFiles: Record<Split, readonly string[]>;
  /** System-wide install location (Debian's dataset packages), if there is one. */
  systemDir?: string;
  /** SHA-256 of the decompressed files, where known, to verify a local copy by content. */
  contentSha256?: Readonly<Record<string, string>>;
}

const MNIST_FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

export const CIFAR_ARCHIVE_DIR = 'cifar-10-batches-bin';
export const CIFAR_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR_TEST_FILES = ['test_batch.bin'];
/** Small text file in the archive, extracted too (class names) but never required. */
export const CIFAR_META_FILE = 'batches.meta.txt';

export const DATASETS: Readonly<Record<RealDatasetName, DatasetInfo>> = {
  'fashion-mnist': {
    name: 'fashion-mnist',
    title: 'Fashion-MNIST (Zalando), 28×28 grey, 10 classes',
    format: 'idx',
    shape: [1, 28, 28],
    numClasses: 10,
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    counts: { train: 60000, test: 10000 },
    // Measured on the real train-images-idx3-ubyte (47,040,000 pixels / 255), population std:
    // mean 0.28604059698, std 0.35302424452. test/data/real-fashion-mnist.test.ts re-measures.
    mean: [0.2860406],
    std: [0.3530242],
    baseUrl: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    published: [
      { name: 'train-images-idx3-ubyte.gz', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d', size: 26421880 },
      { name: 'train-labels-idx1-ubyte.gz', md5: '25c81989df183df01b3e8a0aad5dffbe', size: 29515 },
      { name: 't10k-images-idx3-ubyte.gz', md5: 'bef4ecab320f06d8554ea6380940ec79', size: 4422102 },
      { name: 't10k-labels-idx1-ubyte.gz', md5: 'bb300cfdad3c16e7a12a480ee83cd310', size: 5148 },
    ],
    splitFiles: MNIST_FILES,
    systemDir: '/usr/share/datasets/fashion-mnist',
    contentSha256: {
      'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
      'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
      't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
      't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    },
  },
  mnist: {
    name: 'mnist',
    title: 'MNIST handwritten digits, 28×28 grey, 10 classes',
    format: 'idx',
    shape: [1, 28, 28],
    numClasses: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    counts: { train: 60000, test: 10000 },
    // The standard values (torchvision's examples); no offline copy here to re-measure.
    mean: [0.1307],
    std: [0.3081],
    baseUrl: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
    published: [
      { name: 'train-images-idx3-ubyte.gz', md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873', size: 9912422 },
      { name: 'train-labels-idx1-ubyte.gz', md5: 'd53e105ee54ea40749a09fcbcd1e9432', size: 28881 },
      { name: 't10k-images-idx3-ubyte.gz', md5: '9fb629c4189551a2d022fa330f9573f3', size: 1648877 },
      { name: 't10k-labels-idx1-ubyte.gz', md5: 'ec29112dd5afa0611ce80d1b7f02629c', size: 4542 },
    ],
    splitFiles: MNIST_FILES,
  },
  cifar10: {
    name: 'cifar10',
    title: 'CIFAR-10 (binary version), 32×32 RGB, 10 classes',
    format: 'cifar',
    shape: [3, 32, 32],
    numClasses: 10,
    classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
    counts: { train: 50000, test: 10000 },
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.247, 0.2435, 0.2616],
    baseUrl: 'https://www.cs.toronto.edu/~kriz/',
    published: [{ name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', size: 170052171 }],
    splitFiles: { train: CIFAR_TRAIN_FILES, test: CIFAR_TEST_FILES },
  },
};

export function datasetInfo(name: string): DatasetInfo {
  const info = (DATASETS as Record<string, DatasetInfo>)[name];
  if (!info) {
    throw new Error(`unknown data set "${name}". Known: ${DATASET_NAMES.join(', ')}`);
  }
  return info;
}
