/**
 * A training run's configuration: everything that determines its numbers. It is written to the
 * run directory as config.json, and a resumed run reads it back from there.
 */
import { DATASET_NAMES, DatasetName } from '../data';
import type { SyntheticSpec } from '../data';
import { modelSpec } from '../nn/spec';
import { ADAM_DEFAULTS, OptimizerConfig, optimizerDef, OptimizerName } from '../programs/optimizers';
import { EXECUTION_PROVIDERS, ExecutionProvider } from '../runtime/providers';
import { Schedule, validateSchedule } from './schedule';

export interface WdGroup {
  /** A regular expression on parameter names, e.g. "bn|fc" or "\\.bias$". */
  match: string;
  /** Multiplies the scheduled WD for matching parameters (0: no WD). */
  scale: number;
}

export interface TrainConfig {
  model: string;
  /** Overrides of the preset: BN ε (small for exact scale invariance), the last layer's init scale. */
  bnEps?: number;
  fcScale?: number;
  /** cnn4 models: the three conv widths, instead of the preset's (32, 64, 128 times its -wK). */
  widths?: [number, number, number];
  dataset: DatasetName;
  dataDir?: string;
  /** Class-balanced training subset size; null: the whole training split. */
  trainSubset: number | null;
  /** Test subset size; null: the whole test split. */
  testSubset: number | null;
  /** A fixed, class-balanced train subset evaluated like the test set (0: none). */
  evalTrainSubset: number;
  /**
   * Evaluate with BN statistics recomputed (update_bn) on this many fixed, class-balanced train
   * images instead of the running statistics (0: running statistics, as PyTorch's eval mode).
   * The running statistics average only the last ≈10 batches and lag weights that turn fast.
   */
  bnRecompute: number;
  /** Augmentation; undefined: the data set's default (crop+flip for CIFAR-10 only). */
  augment?: boolean;
  synthetic?: SyntheticSpec;
  /** Images are average-pooled over pool×pool blocks (1: as stored), making a step cheaper. */
  pool: number;
  /** Seed of the subset choices (separate from `seed`, so runs with different seeds can share data). */
  dataSeed: number;
  /** Images per step; 0 means full-batch gradient descent over the training subset. */
  batchSize: number;
  /** Full-batch mode: the subset is processed in chunks of this many images (BN statistics per chunk). */
  chunkSize: number;
  lr: number;
  wd: number;
  /** The optimizer (programs/optimizers.ts): sgd (coupled WD, torch.optim.SGD), sgdw (decoupled WD), adamw, adam (WD as L2). */
  optimizer: OptimizerName;
  /** sgd, sgdw: heavy-ball momentum (torch.optim.SGD semantics); 0 uses the program without momentum buffers. */
  momentum: number;
  /** sgd, sgdw: Nesterov momentum. */
  nesterov: boolean;
  /** adam, adamw: (β₁, β₂). */
  betas: [number, number];
  /** adam, adamw: ε, added to √v̂. */
  adamEps: number;
  wdGroups: WdGroup[];
  schedule: Schedule;
  /** Total optimisation steps. */
  steps: number;
  seed: number;
  /** Write a metrics line every this many steps. */
  logEvery: number;
  /** Per-layer norms every this many steps (0: never). */
  layerEvery: number;
  /** Per-output-channel angular updates of the scale-invariant weights every this many steps, to channels.jsonl (0: never). */
  channelEvery: number;
  /** Evaluate on the test set (and the train subset) every this many steps (0: only at the end). */
  evalEvery: number;
  evalBatch: number;
  /** At every evaluation, also write the predicted label of each test image (predictions.jsonl). */
  recordPredictions: boolean;
  checkpointEvery: number;
  /** Extra checkpoints kept under their epoch's name (SWA snapshots). */
  snapshotEpochs: number[];
  /** How many rolling checkpoints to keep. */
  keepCheckpoints: number;
  ep: ExecutionProvider;
  threads: number;
}

export const DEFAULTS: Omit<TrainConfig, 'model' | 'dataset' | 'steps'> = {
  trainSubset: null,
  testSubset: null,
  evalTrainSubset: 1000,
  bnRecompute: 0,
  pool: 1,
  dataSeed: 0,
  batchSize: 128,
  chunkSize: 500,
  lr: 0.1,
  wd: 5e-4,
  optimizer: 'sgd',
  momentum: 0,
  nesterov: false,
  betas: [...ADAM_DEFAULTS.betas],
  adamEps: ADAM_DEFAULTS.eps,
  wdGroups: [],
  schedule: { kind: 'constant' },
  seed: 0,
  logEvery: 10,
  layerEvery: 0,
  channelEvery: 0,
  evalEvery: 0,
  evalBatch: 500,
  recordPredictions: false,
  checkpointEvery: 500,
  snapshotEpochs: [],
  keepCheckpoints: 2,
  ep: 'cpu',
  threads: 0,
};

/** Fills defaults and rejects what cannot run, before any work starts. */
export function resolveConfig(partial: Partial<TrainConfig> & Pick<TrainConfig, 'model' | 'dataset' | 'steps'>): TrainConfig {
  const c: TrainConfig = { ...DEFAULTS, ...partial };
  const bad = (why: string): never => {
    throw new Error(`invalid training config: ${why}`);
  };
  modelSpec(c.model, { widths: c.widths }); // throws on an unknown model or widths it cannot take
  validateSchedule(c.schedule);
  if (!Number.isInteger(c.steps) || c.steps < 1) bad(`steps must be a positive integer, got ${c.steps}`);
  if (!Number.isInteger(c.batchSize) || c.batchSize < 0) bad(`batch size must be a non-negative integer (0 = full batch), got ${c.batchSize}`);
  if (!(c.lr > 0)) bad(`lr must be positive, got ${c.lr}`);
  if (!(c.wd >= 0)) bad(`wd must be non-negative, got ${c.wd}`);
  try {
    optimizerDef(c.optimizer).check(optimizerOf(c));
  } catch (e) {
    bad((e as Error).message);
  }
  if (!Number.isInteger(c.threads) || c.threads < 0) bad(`threads must be a non-negative integer (0 = one per core), got ${c.threads}`);
  for (const k of ['logEvery', 'checkpointEvery', 'evalBatch', 'keepCheckpoints', 'chunkSize', 'pool'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) bad(`${k} must be a positive integer, got ${c[k]}`);
  }
  for (const k of ['layerEvery', 'channelEvery', 'evalEvery', 'evalTrainSubset', 'bnRecompute'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) bad(`${k} must be a non-negative integer, got ${c[k]}`);
  }
  for (const g of c.wdGroups) {
    try {
      new RegExp(g.match);
    } catch {
      bad(`wd group pattern ${JSON.stringify(g.match)} is not a regular expression`);
    }
    if (!(g.scale >= 0)) bad(`wd group ${g.match}: scale must be non-negative`);
  }
  return c;
}

/** The optimizer a config trains with. */
export const optimizerOf = (c: Pick<TrainConfig, 'optimizer' | 'momentum' | 'nesterov' | 'betas' | 'adamEps'>): OptimizerConfig =>
  ({ name: c.optimizer, momentum: c.momentum, nesterov: c.nesterov, betas: c.betas, eps: c.adamEps });

/** The WD multiplier of each trainable parameter (the last matching group wins; default 1). */
export function wdScales(config: Pick<TrainConfig, 'wdGroups'>, names: readonly string[]): Float32Array {
  return Float32Array.from(names, (name) => {
    let scale = 1;
    for (const g of config.wdGroups) if (new RegExp(g.match).test(name)) scale = g.scale;
    return scale;
  });
}

/** What each field of a config file must hold; `?` marks fields that may be absent (defaults fill them). */
type FieldKind = 'string' | 'number' | 'number|null' | 'boolean' | 'object' | 'number[]' | 'wdGroups' | 'dataset' | 'ep';

const FIELDS = {
  model: 'string', widths: 'number[]', bnEps: 'number', fcScale: 'number', dataset: 'dataset', pool: 'number', recordPredictions: 'boolean', dataDir: 'string', trainSubset: 'number|null',
  testSubset: 'number|null', evalTrainSubset: 'number', bnRecompute: 'number', augment: 'boolean', synthetic: 'object',
  dataSeed: 'number', batchSize: 'number', chunkSize: 'number', lr: 'number', wd: 'number', optimizer: 'string', momentum: 'number', nesterov: 'boolean', betas: 'number[]', adamEps: 'number',
  wdGroups: 'wdGroups', schedule: 'object', steps: 'number', seed: 'number', logEvery: 'number', layerEvery: 'number', channelEvery: 'number',
  evalEvery: 'number', evalBatch: 'number', checkpointEvery: 'number', snapshotEpochs: 'number[]', keepCheckpoints: 'number',
  ep: 'ep', threads: 'number',
} as const satisfies Record<keyof TrainConfig, FieldKind>;

/** Every field a training config has (the table above is checked complete by the compiler). */
export const CONFIG_FIELDS = Object.keys(FIELDS) as (keyof TrainConfig)[];

const SYNTHETIC_FIELDS = { shape: 'number[]', numClasses: 'number', trainCount: 'number', testCount: 'number', seed: 'number', signal: 'number', noise: 'number' } as const satisfies Record<keyof SyntheticSpec, FieldKind>;

const REQUIRED = ['model', 'dataset', 'steps'] as const;

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function holds(kind: FieldKind, v: unknown): boolean {
  switch (kind) {
    case 'string': return typeof v === 'string';
    case 'number': return isNumber(v);
    case 'number|null': return v === null || isNumber(v);
    case 'boolean': return typeof v === 'boolean';
    case 'object': return !!v && typeof v === 'object' && !Array.isArray(v);
    case 'number[]': return Array.isArray(v) && v.every(isNumber);
    case 'wdGroups': return Array.isArray(v) && v.every((g) => !!g && typeof g.match === 'string' && isNumber(g.scale) && Object.keys(g).length === 2);
    case 'dataset': return (DATASET_NAMES as readonly unknown[]).includes(v);
    case 'ep': return (EXECUTION_PROVIDERS as readonly unknown[]).includes(v);
  }
}

const EXPECTED: Record<FieldKind, string> = {
  string: 'a string', number: 'a number', 'number|null': 'a number or null', boolean: 'true or false', object: 'an object',
  'number[]': 'a list of numbers', wdGroups: 'a list of {"match": REGEX, "scale": NUMBER}',
  dataset: `one of ${DATASET_NAMES.map((d) => JSON.stringify(d)).join(', ')}`, ep: `one of ${EXECUTION_PROVIDERS.map((e) => JSON.stringify(e)).join(', ')}`,
};

const shown = (v: unknown): string => `${typeof v === 'string' ? 'the string ' : ''}${JSON.stringify(v)}`;

function checkFields(o: Record<string, unknown>, table: Record<string, FieldKind>, where: string): void {
  for (const [k, v] of Object.entries(o)) {
    const kind = table[k];
    if (!kind) throw new Error(`${where}: unknown field "${k}"; the fields are ${Object.keys(table).join(', ')}`);
    if (v !== undefined && !holds(kind, v)) throw new Error(`${where}: "${k}" must be ${EXPECTED[kind]}, got ${shown(v)}`);
  }
}

/**
 * A training config read from a file (`source` names it in errors): every field is checked for
 * its type (a quoted number is refused, not coerced), then resolved as from the command line.
 */
export function parseConfig(raw: unknown, source: string): TrainConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${source}: a training config must be a JSON object, got ${shown(raw)}`);
  const o = raw as Record<string, unknown>;
  checkFields(o, FIELDS, source);
  if (o.synthetic) checkFields(o.synthetic as Record<string, unknown>, SYNTHETIC_FIELDS, `${source}, "synthetic"`);
  for (const k of REQUIRED) if (o[k] === undefined) throw new Error(`${source}: "${k}" is required`);
  try {
    return resolveConfig(o as unknown as TrainConfig);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}
