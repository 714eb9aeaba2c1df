/**
 * config.bnRecompute: evaluation with BN statistics recomputed by update_bn on a fixed train
 * subset instead of the running statistics. The run's final evaluation must be exactly what
 * update_bn + evaluation of its final weights gives, and differ from the running-statistics one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadDataset, subsetOf } from '../../src/data';
import { InputShape } from '../../src/nn/model';
import { recomputeBn } from '../../src/train/bn-stats';
import { resolveConfig } from '../../src/train/config';
import { Evaluator } from '../../src/train/evaluate';
import { runSpec, train } from '../../src/train/trainer';
import { tmpDir } from '../cli';
import { tinyConfig, TINY_DATA } from './fixtures';

const input = TINY_DATA.shape as InputShape;
let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-bn-recompute-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('the final evaluation uses update_bn statistics of 100 fixed train images', async () => {
  const config = tinyConfig({ model: 'preresnet8', bnRecompute: 100, evalBatch: 120, lr: 0.2 });
  const recomputed = await train(config, path.join(dir, 'recomputed'), { quiet: true });
  const running = await train({ ...config, bnRecompute: 0 }, path.join(dir, 'running'), { quiet: true });

  const trainSet = await loadDataset('synthetic', 'train', { synthetic: TINY_DATA });
  const testSet = await loadDataset('synthetic', 'test', { synthetic: TINY_DATA });
  const spec = runSpec(config, trainSet);
  const bn = await recomputeBn(spec, input, recomputed.state, subsetOf(trainSet, 100, config.dataSeed + 2), 100, { threads: 1 });
  const evaluator = await Evaluator.create(spec, input, 120, { threads: 1 });
  const expected = await evaluator.evaluate(new Map([...recomputed.state, ...bn.stats]), testSet);
  await evaluator.release();

  const got = recomputed.lastEval!;
  expect(got.test_acc).toBe(expected.acc);
  expect(got.test_loss).toBeCloseTo(expected.loss, 6);
  // Same weights (the runs are identical up to evaluation), other statistics: another loss.
  expect(Buffer.from(running.state.get('conv1.weight')!.data.buffer).equals(Buffer.from(recomputed.state.get('conv1.weight')!.data.buffer))).toBe(true);
  expect(running.lastEval!.test_loss).not.toBeCloseTo(got.test_loss, 6);
});

it('a negative bnRecompute is refused', () => {
  expect(() => resolveConfig({ model: 'cnn4', dataset: 'synthetic', steps: 1, bnRecompute: -1 })).toThrow('bnRecompute must be a non-negative integer, got -1');
});
