/**
 * Times batch assembly (normalisation + crop/flip augmentation) for CIFAR-shaped uint8 images,
 * to compare with a training step (~400 ms for batch 128 on this project's CPU).
 * Run: `npm run build && node dist/data/bench.js [batchSize] [batches]`.
 */
import { Rng } from '../util/rng';
import { batchAt, BatchOptions } from './batches';
import { Dataset } from './dataset';

export interface BatchBenchResult {
  batchSize: number;
  batches: number;
  msPerBatch: number;
  imagesPerSecond: number;
}

/** Random uint8 images of CIFAR-10's shape (contents do not affect the timing). */
function fakeCifar(count: number): Dataset {
  const rng = new Rng(['bench']);
  const words = new Uint32Array(count * 768); // 3072 bytes per image, filled 4 at a time
  for (let i = 0; i < words.length; i++) words[i] = rng.uint32();
  const images = new Uint8Array(words.buffer);
  const labels = new Uint8Array(count).map((_, i) => i % 10);
  return {
    name: 'cifar10', split: 'train', count, shape: [3, 32, 32], numClasses: 10, images, labels,
    mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616], source: 'benchmark (random pixels)',
  };
}

export function benchBatchAssembly(batchSize = 128, batches = 200, count = 50000): BatchBenchResult {
  const ds = fakeCifar(count);
  const opts: BatchOptions = { batchSize, seed: 1, augment: true, last: 'drop' };
  const perEpoch = Math.floor(count / batchSize);
  const out = { x: new Float32Array(batchSize * 3072), y: new BigInt64Array(batchSize) };
  for (let i = 0; i < 20; i++) batchAt(ds, opts, 0, i % perEpoch, out); // warm-up (JIT)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) batchAt(ds, opts, Math.floor(i / perEpoch), i % perEpoch, out);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { batchSize, batches, msPerBatch: ms / batches, imagesPerSecond: (batches * batchSize) / (ms / 1000) };
}

if (require.main === module) {
  const r = benchBatchAssembly(Number(process.argv[2] ?? 128), Number(process.argv[3] ?? 200));
  console.log(`batch assembly (CIFAR-shaped, crop 4 + flip, normalise): ${r.msPerBatch.toFixed(3)} ms per batch of ${r.batchSize} (${Math.round(r.imagesPerSecond)} images/s)`);
}
