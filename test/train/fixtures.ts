/** Small, fast training configs on synthetic data for the training-layer tests. */
import { TrainConfig, resolveConfig } from '../../src/train/config';

export const TINY_DATA = { shape: [1, 12, 12] as [number, number, number], numClasses: 10, trainCount: 256, testCount: 120, seed: 5 };

/** cnn4 on 1×12×12 synthetic images, 32 per batch: a few ms per step. */
export function tinyConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  return resolveConfig({
    model: 'cnn4',
    dataset: 'synthetic',
    synthetic: TINY_DATA,
    evalTrainSubset: 64,
    batchSize: 32,
    steps: 20,
    logEvery: 5,
    checkpointEvery: 10,
    keepCheckpoints: 5,
    evalBatch: 60,
    threads: 1,
    ...over,
  });
}
