/** Expanding a sweep: the product of list, grid and seeds over a base config, and the run names. */
import { expandSweep, parseGridOption, parseListOption, parseSeeds, parseValue } from '../../src/sweep/spec';
import { tinyConfig } from '../train/fixtures';

const base = tinyConfig();

it('expands a grid times seeds, naming each run by the values that vary', () => {
  const points = expandSweep({ grid: { lr: [0.1, 0.2], 'batch-size': [16, 32] }, seeds: [0, 1] }, base);
  expect(points.map((p) => p.name)).toEqual([
    'lr0.1-batchSize16-s0', 'lr0.1-batchSize16-s1', 'lr0.1-batchSize32-s0', 'lr0.1-batchSize32-s1',
    'lr0.2-batchSize16-s0', 'lr0.2-batchSize16-s1', 'lr0.2-batchSize32-s0', 'lr0.2-batchSize32-s1',
  ]);
  const p = points[5];
  expect([p.config.lr, p.config.batchSize, p.config.seed, p.config.steps]).toEqual([0.2, 16, 1, base.steps]);
  expect(p.overrides).toEqual({ lr: 0.2, batchSize: 16, seed: 1 });
});

it('applies the grid to each listed point, and names non-scalar values by their position', () => {
  const points = expandSweep({ list: [{ lr: 0.1, wd: 0.01 }, { lr: 0.4, wd: 0.0025 }], grid: { schedule: ['constant', '{"kind":"cosine","length":20}'] } }, base);
  expect(points.map((p) => p.name)).toEqual(['lr0.1-wd0.01-schedule0', 'lr0.1-wd0.01-schedule1', 'lr0.4-wd0.0025-schedule0', 'lr0.4-wd0.0025-schedule1']);
  expect(points[1].config.schedule).toEqual({ kind: 'cosine', length: 20 });
  expect(expandSweep({ grid: { lr: [0.1] } }, base).map((p) => p.name)).toEqual(['run']);
});

it('refuses keys that are no training option, and points listed twice', () => {
  expect(() => expandSweep({ grid: { learningRate: [0.1] } }, base)).toThrow(/"learningRate" is not a training option; expected one of .*lr/);
  expect(() => expandSweep({ list: [{ lr: 0.1 }, { lr: 0.1 }] }, base)).toThrow(/two runs named run/);
  expect(() => expandSweep({ grid: { lr: [-1] } }, base)).toThrow(/lr must be positive/);
});

it('parses the command line forms', () => {
  expect(parseGridOption('lr=0.1,0.2,4e-1')).toEqual(['lr', [0.1, 0.2, 0.4]]);
  expect(parseGridOption('schedule=["constant",{"kind":"cosine","length":5}]')).toEqual(['schedule', ['constant', { kind: 'cosine', length: 5 }]]);
  expect(() => parseGridOption('lr')).toThrow(/KEY=V1,V2/);
  expect(parseListOption('lr=0.4  wd=1.25e-4 augment=false')).toEqual({ lr: 0.4, wd: 1.25e-4, augment: false });
  expect(parseSeeds('0-2')).toEqual([0, 1, 2]);
  expect(parseSeeds('0,3,5')).toEqual([0, 3, 5]);
  expect(() => parseSeeds('a-b')).toThrow(/--seeds "a-b"/);
  expect(parseValue('wd_40_80_lr_120_160')).toBe('wd_40_80_lr_120_160');
});

it('takes every training option, the ones added after the sweep was written too (conv widths, optimizer)', () => {
  const points = expandSweep({ grid: { widths: [[4, 8, 16], [8, 16, 32]], optimizer: ['sgd', 'adamw'] } }, base);
  expect(points.map((p) => [p.config.widths, p.config.optimizer])).toEqual([[[4, 8, 16], 'sgd'], [[4, 8, 16], 'adamw'], [[8, 16, 32], 'sgd'], [[8, 16, 32], 'adamw']]);
});

it('checks each value for its field\'s type, so no run is planned with a config its own config.json would refuse on resume', () => {
  expect(() => expandSweep({ grid: { augment: [1] } }, base)).toThrow(/grid: "augment" must be true or false, got 1/);
  expect(() => expandSweep({ list: [{ 'train-subset': 'null' }] }, base)).toThrow(/list: "trainSubset" must be a number or null, got the string "null"/);
});

it('takes a key as ilr train spells the option, and a value as the option\'s text', () => {
  const [p] = expandSweep({ list: [{ keep: 3, betas: '0.8,0.99', optimizer: 'adamw' }] }, base);
  expect([p.config.keepCheckpoints, p.config.betas]).toEqual([3, [0.8, 0.99]]);
});
