/**
 * The training config is one table (src/train/config.ts): every field there is required, has a
 * default or may be absent; every flag it names is an option of `ilr train` that sets its field;
 * every field survives a config file; and config.json keeps the field order it always had.
 */
import * as fs from 'fs';
import * as path from 'path';
import { configFromArgv } from '../../src/commands/train';
import { CONFIG_FIELDS, CONFIG_FLAGS, DEFAULTS, parseConfig, resolveConfig, TrainConfig } from '../../src/train/config';
import { runCli, tmpDir } from '../cli';

const REQUIRED = { model: 'cnn4', dataset: 'synthetic', steps: 7 } as const;
/** The fields whose absence means the preset's or the data set's choice. */
const MAY_BE_ABSENT = ['dataDir', 'augment', 'synthetic', 'bnEps', 'fcScale', 'widths', 'si', 'modelSha256'];

/** A value other than the default for every field (sgd with momentum, so the Adam settings are not its own). */
const EVERY_FIELD: TrainConfig = {
  model: 'cnn4-ln', dataset: 'synthetic', dataDir: '/nowhere', trainSubset: 100, testSubset: 50, evalTrainSubset: 20, bnRecompute: 30,
  dataSeed: 3, augment: true, synthetic: { shape: [1, 12, 12], numClasses: 10, trainCount: 256, testCount: 120, seed: 5 }, pool: 2,
  batchSize: 16, chunkSize: 40, lr: 0.2, wd: 1e-3, optimizer: 'sgdw', momentum: 0.9, nesterov: true, betas: [0.8, 0.99], adamEps: 1e-6, svag: 2,
  wdGroups: [{ match: 'bn|fc', scale: 0 }], steps: 9, schedule: { kind: 'cosine', length: 9 }, seed: 4, bnEps: 1e-3, fcScale: 10,
  widths: [4, 8, 16], si: true, modelSha256: 'ab'.repeat(32), logEvery: 3, layerEvery: 2, channelEvery: 5, sharpnessEvery: 7, evalEvery: 6, evalBatch: 30, recordPredictions: true,
  checkpointEvery: 4, snapshotEpochs: [1, 2], keepCheckpoints: 3, ep: 'cuda', threads: 2,
};

/** For every flag: the arguments that set it to a value other than the default, and the field's value they give. */
const FLAG_VALUES: Record<string, [string[], unknown]> = {
  model: [['--model', 'cnn4-ln'], 'cnn4-ln'],
  dataset: [['--dataset', 'mnist'], 'mnist'],
  dataDir: [['--data-dir', '/nowhere'], '/nowhere'],
  trainSubset: [['--train-subset', '100'], 100],
  testSubset: [['--test-subset', '50'], 50],
  evalTrainSubset: [['--eval-train-subset', '20'], 20],
  bnRecompute: [['--bn-recompute', '30'], 30],
  dataSeed: [['--data-seed', '3'], 3],
  augment: [['--augment'], true],
  si: [['--si'], true],
  batchSize: [['--batch-size', '16'], 16],
  chunkSize: [['--chunk-size', '40'], 40],
  lr: [['--lr', '0.2'], 0.2],
  wd: [['--wd', '1e-3'], 1e-3],
  optimizer: [['--optimizer', 'adamw'], 'adamw'],
  momentum: [['--momentum', '0.9'], 0.9],
  nesterov: [['--momentum', '0.9', '--nesterov'], true],
  betas: [['--optimizer', 'adam', '--betas', '0.8,0.99'], [0.8, 0.99]],
  adamEps: [['--optimizer', 'adam', '--adam-eps', '1e-6'], 1e-6],
  svag: [['--svag', '4'], 4],
  wdGroups: [['--wd-group', 'bn=0', '--wd-group', '\\.bias$=0.5'], [{ match: 'bn', scale: 0 }, { match: '\\.bias$', scale: 0.5 }]],
  steps: [['--steps', '9'], 9],
  schedule: [['--schedule', '{"kind":"cosine","length":9}'], { kind: 'cosine', length: 9 }],
  seed: [['--seed', '4'], 4],
  bnEps: [['--bn-eps', '1e-3'], 1e-3],
  fcScale: [['--fc-scale', '10'], 10],
  logEvery: [['--log-every', '3'], 3],
  layerEvery: [['--layer-every', '2'], 2],
  channelEvery: [['--channel-every', '5'], 5],
  sharpnessEvery: [['--sharpness-every', '7'], 7],
  evalEvery: [['--eval-every', '6'], 6],
  evalBatch: [['--eval-batch', '30'], 30],
  checkpointEvery: [['--checkpoint-every', '4'], 4],
  snapshotEpochs: [['--snapshot-epochs', '1', '2'], [1, 2]],
  keepCheckpoints: [['--keep', '3'], 3],
  ep: [['--ep', 'cuda'], 'cuda'],
  threads: [['--threads', '2'], 2],
};

it('every field is required, has a default, or may be absent: the required fields alone make a whole config', () => {
  const c = resolveConfig(REQUIRED);
  expect(Object.keys(c).sort()).toEqual(CONFIG_FIELDS.filter((f) => !MAY_BE_ABSENT.includes(f)).sort());
  for (const k of Object.keys(REQUIRED)) {
    expect(() => parseConfig({ ...REQUIRED, [k]: undefined }, 'c.json')).toThrow(`c.json: "${k}" is required`);
  }
  // @ts-expect-error: the compiler knows the required fields too
  expect(() => resolveConfig({ model: 'cnn4', dataset: 'synthetic' })).toThrow('invalid training config: steps is required');
});

it('a config file that sets every field reads back as written', () => {
  expect(Object.keys(EVERY_FIELD).sort()).toEqual([...CONFIG_FIELDS].sort());
  for (const [k, v] of Object.entries(DEFAULTS)) expect([k, EVERY_FIELD[k as keyof TrainConfig]]).not.toEqual([k, v]);
  const dir = tmpDir('ilr-config-');
  try {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(resolveConfig(EVERY_FIELD)));
    expect(parseConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file)).toEqual(EVERY_FIELD);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('every flag of the table sets its field', async () => {
  expect(Object.keys(FLAG_VALUES).sort()).toEqual(CONFIG_FLAGS.map((f) => f.field).sort());
  for (const [field, [args, value]] of Object.entries(FLAG_VALUES)) {
    const required = [['--model', 'cnn4'], ['--steps', '7']].filter(([flag]) => !args.includes(flag)).flat();
    const c = await configFromArgv([...required, ...args], `--${field}`);
    expect([field, c[field as keyof TrainConfig]]).toEqual([field, value]);
    expect([field, resolveConfig(REQUIRED)[field as keyof TrainConfig]]).not.toEqual([field, value]);
  }
});

it('every flag of the table is an option of ilr train, with its field\'s default', async () => {
  const help = await runCli(['train', '--help']);
  expect(help.code).toBe(0);
  const lines = help.stdout.split('\n');
  for (const { flag, default: value } of CONFIG_FLAGS) {
    const line = lines.findIndex((l) => l.trimStart().startsWith(`--${flag.name} `));
    expect([flag.name, line >= 0]).toEqual([flag.name, true]);
    // yargs may wrap an option's description; its default ends the option's last line.
    const text = lines.slice(line, lines.findIndex((l, i) => i > line && /^\s+--/.test(l))).join(' ');
    if (value !== undefined && !Array.isArray(value)) expect(text).toContain(`[default: ${JSON.stringify(value)}]`);
  }
});

it('config.json lists the fields in the order it always has, however the config was made', async () => {
  // The order earlier versions wrote: the fields with defaults, then the others.
  const written = ['trainSubset', 'testSubset', 'evalTrainSubset', 'bnRecompute', 'pool', 'dataSeed', 'batchSize', 'chunkSize', 'lr', 'wd', 'optimizer',
    'momentum', 'nesterov', 'betas', 'adamEps', 'svag', 'wdGroups', 'schedule', 'seed', 'logEvery', 'layerEvery', 'channelEvery', 'sharpnessEvery', 'evalEvery', 'evalBatch',
    'recordPredictions', 'checkpointEvery', 'snapshotEpochs', 'keepCheckpoints', 'ep', 'threads', 'model', 'dataset', 'augment', 'steps', 'bnEps'];
  const fromFlags = await configFromArgv(['--model', 'cnn4', '--steps', '5', '--dataset', 'synthetic', '--bn-eps', '1e-3', '--augment'], 'flags');
  expect(Object.keys(fromFlags)).toEqual(written);
  const reversed = Object.fromEntries(Object.entries(fromFlags).reverse());
  expect(JSON.stringify(parseConfig(reversed, 'reversed.json'))).toBe(JSON.stringify(fromFlags));
});
