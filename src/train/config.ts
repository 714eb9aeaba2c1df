/**
 * A training run's configuration: everything that determines its numbers. It is written to the
 * run directory as config.json, and a resumed run reads it back from there.
 *
 * Every field is declared once, in FIELDS: its JSON type, its default (or that it is required,
 * or that it may be absent), its check, and the `ilr train` flag that sets it. The TrainConfig
 * type, DEFAULTS, resolveConfig's checks, parseConfig's type checks of config files, the options
 * of `ilr train` and the keys a sweep takes all come from that table.
 */
import { DATASET_NAMES, DatasetName } from '../data';
import type { SyntheticSpec } from '../data';
import { modelSpec, PRESET_HELP } from '../nn/spec';
import { ADAM_DEFAULTS, OptimizerConfig, optimizerDef, OptimizerName, OPTIMIZERS } from '../programs/optimizers';
import { EXECUTION_PROVIDERS, parseExecutionProvider } from '../runtime/providers';
import { parseSchedule, Schedule, validateSchedule } from './schedule';

export interface WdGroup {
  /** A regular expression on parameter names, e.g. "bn|fc" or "\\.bias$". */
  match: string;
  /** Multiplies the scheduled WD for matching parameters (0: no WD). */
  scale: number;
}

// ---- the JSON types of config files ----------------------------------------------------------

/** A JSON type a config file's value must have; `T` is the TypeScript type it gives the field. */
interface Kind<T> {
  /** What a good value is, for the error message: "a number". */
  expected: string;
  holds: (v: unknown) => boolean;
  /** An object's own fields, each checked for its kind (the synthetic data's spec). */
  fields?: Record<string, Kind<unknown>>;
  /** Never set: it carries `T` to the inference of TrainConfig. */
  readonly type?: T;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const quoted = (names: readonly string[]): string => names.map((n) => JSON.stringify(n)).join(', ');

const num: Kind<number> = { expected: 'a number', holds: isNumber };
const numOrNull: Kind<number | null> = { expected: 'a number or null', holds: (v) => v === null || isNumber(v) };
const bool: Kind<boolean> = { expected: 'true or false', holds: (v) => typeof v === 'boolean' };
/** A string; `T` narrows it where another check names the good ones (the optimizer registry's). */
const text = <T extends string = string>(): Kind<T> => ({ expected: 'a string', holds: (v) => typeof v === 'string' });
const oneOf = <T extends string>(names: readonly T[]): Kind<T> => ({ expected: `one of ${quoted(names)}`, holds: (v) => (names as readonly unknown[]).includes(v) });
/** A list of numbers; `T` is its tuple type where its length is checked elsewhere (widths by the model, betas by the optimizer). */
const numbers = <T extends number[] = number[]>(): Kind<T> => ({ expected: 'a list of numbers', holds: (v) => Array.isArray(v) && v.every(isNumber) });
/** An object whose contents another check reads (the schedule's validateSchedule). */
const object = <T>(): Kind<T> => ({ expected: 'an object', holds: isObject });
const record = <T>(fields: Record<keyof T, Kind<unknown>>): Kind<T> => ({ ...object<T>(), fields });
const wdGroupList: Kind<WdGroup[]> = {
  expected: 'a list of {"match": REGEX, "scale": NUMBER}',
  holds: (v) => Array.isArray(v) && v.every((g) => isObject(g) && typeof g.match === 'string' && isNumber(g.scale) && Object.keys(g).length === 2),
};
const synthetic = record<SyntheticSpec>({ shape: numbers(), numClasses: num, trainCount: num, testCount: num, seed: num, signal: num, noise: num });

// ---- the checks of one field ------------------------------------------------------------------

/** A check says why a value is refused, naming the field, or returns undefined for a good one. */
type Check<T> = (v: T, name: string) => string | undefined;

const integer = (min: 0 | 1, note = ''): Check<number> => (v, name) =>
  Number.isInteger(v) && v >= min ? undefined : `${name} must be a ${min ? 'positive' : 'non-negative'} integer${note}, got ${v}`;
const positive: Check<number> = (v, name) => (v > 0 ? undefined : `${name} must be positive, got ${v}`);
const nonNegative: Check<number> = (v, name) => (v >= 0 ? undefined : `${name} must be non-negative, got ${v}`);

function checkWdGroups(groups: WdGroup[]): string | undefined {
  for (const g of groups) {
    try {
      new RegExp(g.match);
    } catch {
      return `wd group pattern ${JSON.stringify(g.match)} is not a regular expression`;
    }
    if (!(g.scale >= 0)) return `wd group ${g.match}: scale must be non-negative`;
  }
  return undefined;
}

function checkSchedule(s: Schedule): string | undefined {
  try {
    validateSchedule(s);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

// ---- how a flag's text becomes a value --------------------------------------------------------

/** `--betas β₁,β₂` of the Adam optimizers. */
export function parseBetas(text: string): [number, number] {
  const betas = text.split(',').map(Number);
  if (betas.length !== 2 || !betas.every(Number.isFinite)) throw new Error(`--betas "${text}": expected two numbers β₁,β₂, e.g. 0.9,0.999`);
  return [betas[0], betas[1]];
}

function parseWdGroup(text: string): WdGroup {
  const i = text.lastIndexOf('=');
  const scale = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isFinite(scale)) throw new Error(`--wd-group "${text}": expected REGEX=SCALE, e.g. "bn|fc=0" (no WD on BN and the last layer)`);
  return { match: text.slice(0, i), scale };
}

function parseDataset(text: string): DatasetName {
  if (!(DATASET_NAMES as readonly string[]).includes(text)) throw new Error(`--dataset "${text}": expected one of ${DATASET_NAMES.join(', ')}`);
  return text as DatasetName;
}

// ---- the table --------------------------------------------------------------------------------

/** The `ilr train` option that sets a field. */
export interface Flag<T> {
  /** kebab-case, without the dashes. */
  name: string;
  describe: string;
  type: 'string' | 'number' | 'boolean';
  array?: boolean;
  choices?: readonly string[];
  /** The default as the command line writes it, where it is not the field's own value (`--schedule constant`) or only the command line has one (`--dataset`). */
  default?: string | number | boolean;
  /** How the command line's value becomes the field's, where yargs's type does not give it already. (A method, so that a parser of a string fits.) */
  parse?(raw: string | string[]): T;
}

type Presence = 'required' | 'default' | 'optional';

interface Field<T, P extends Presence> {
  kind: Kind<T>;
  /** required: a config must give it; default: `default` fills it; optional: absent means the preset's or the data set's choice. */
  presence: P;
  default?: T;
  /** A method, so that a table of fields of different types can be walked as one. */
  check?(v: T, name: string): string | undefined;
  /** Absent: the field is set in config files (and sweeps) only. */
  flag?: Flag<T>;
}

interface FieldOptions<T> {
  check?: Check<T>;
  flag?: Flag<T>;
}

const required = <T>(kind: Kind<T>, o: FieldOptions<NoInfer<T>> = {}): Field<T, 'required'> => ({ kind, presence: 'required', ...o });
const optional = <T>(kind: Kind<T>, o: FieldOptions<NoInfer<T>> = {}): Field<T, 'optional'> => ({ kind, presence: 'optional', ...o });
const defaulted = <T>(kind: Kind<T>, value: NoInfer<T>, o: FieldOptions<NoInfer<T>> = {}): Field<T, 'default'> => ({ kind, presence: 'default', default: value, ...o });

/**
 * Every field of a training config, in the order of `ilr train --help` and of config.json
 * (which lists the fields with defaults first).
 */
const FIELDS = {
  model: required(text(), { flag: { name: 'model', type: 'string', describe: PRESET_HELP } }),
  dataset: required(oneOf(DATASET_NAMES), { flag: { name: 'dataset', type: 'string', default: 'fashion-mnist', describe: `data set: ${DATASET_NAMES.join(', ')}`, parse: parseDataset } }),
  dataDir: optional(text(), { flag: { name: 'data-dir', type: 'string', describe: 'directory with the data set files (default: ILR_DATA_DIR, system, cache)' } }),
  /** Class-balanced training subset size; null: the whole training split. */
  trainSubset: defaulted(numOrNull, null, { flag: { name: 'train-subset', type: 'number', describe: 'class-balanced training subset size (default: the whole split)' } }),
  /** Test subset size; null: the whole test split. */
  testSubset: defaulted(numOrNull, null, { flag: { name: 'test-subset', type: 'number', describe: 'class-balanced test subset size (default: the whole split)' } }),
  /** A fixed, class-balanced train subset evaluated like the test set (0: none). */
  evalTrainSubset: defaulted(num, 1000, { check: integer(0), flag: { name: 'eval-train-subset', type: 'number', describe: 'fixed train subset evaluated like the test set (0: none)' } }),
  /**
   * Evaluate with BN statistics recomputed (update_bn) on this many fixed, class-balanced train
   * images instead of the running statistics (0: running statistics, as PyTorch's eval mode).
   * The running statistics average only the last ≈10 batches and lag weights that turn fast.
   */
  bnRecompute: defaulted(num, 0, { check: integer(0), flag: { name: 'bn-recompute', type: 'number', describe: 'evaluate with BN statistics recomputed on this many train images (update_bn) instead of the running ones (0: running)' } }),
  /** Images are average-pooled over pool×pool blocks (1: as stored), making a step cheaper. */
  pool: defaulted(num, 1, { check: integer(1) }),
  /** Seed of the subset choices (separate from `seed`, so runs with different seeds can share data). */
  dataSeed: defaulted(num, 0, { flag: { name: 'data-seed', type: 'number', describe: 'seed of the subset choices' } }),
  /** Augmentation; absent: the data set's default (crop+flip for CIFAR-10 only). */
  augment: optional(bool, { flag: { name: 'augment', type: 'boolean', describe: 'crop+flip augmentation (default: on for cifar10 only)' } }),
  synthetic: optional(synthetic),
  /** Images per step; 0 means full-batch gradient descent over the training subset. */
  batchSize: defaulted(num, 128, { check: integer(0, ' (0 = full batch)'), flag: { name: 'batch-size', type: 'number', describe: 'images per step; 0 = full-batch gradient descent' } }),
  /** Full-batch mode: the subset is processed in chunks of this many images (BN statistics per chunk). */
  chunkSize: defaulted(num, 500, { check: integer(1), flag: { name: 'chunk-size', type: 'number', describe: 'full-batch mode: images per program run' } }),
  lr: defaulted(num, 0.1, { check: positive, flag: { name: 'lr', type: 'number', describe: 'learning rate η' } }),
  wd: defaulted(num, 5e-4, { check: nonNegative, flag: { name: 'wd', type: 'number', describe: 'weight decay λ (coupled for sgd and adam, decoupled for sgdw and adamw)' } }),
  /** The optimizer (programs/optimizers.ts); it and its settings are checked by the registry, below. */
  optimizer: defaulted(text<OptimizerName>(), 'sgd', {
    flag: { name: 'optimizer', type: 'string', choices: Object.keys(OPTIMIZERS), describe: 'sgd (coupled WD, torch.optim.SGD), sgdw (decoupled WD), adamw (torch.optim.AdamW), adam (torch.optim.Adam: WD as L2)' },
  }),
  /** sgd, sgdw: heavy-ball momentum (torch.optim.SGD semantics); 0 uses the program without momentum buffers. */
  momentum: defaulted(num, 0, { flag: { name: 'momentum', type: 'number', describe: 'sgd, sgdw: heavy-ball momentum β (0: plain SGD, the paper\'s main setting)' } }),
  nesterov: defaulted(bool, false, { flag: { name: 'nesterov', type: 'boolean', describe: 'sgd, sgdw: Nesterov momentum' } }),
  betas: defaulted(numbers<[number, number]>(), [...ADAM_DEFAULTS.betas], { flag: { name: 'betas', type: 'string', default: ADAM_DEFAULTS.betas.join(','), describe: 'adam, adamw: β₁,β₂', parse: parseBetas } }),
  adamEps: defaulted(num, ADAM_DEFAULTS.eps, { flag: { name: 'adam-eps', type: 'number', describe: 'adam, adamw: ε added to √v̂' } }),
  /**
   * SVAG's L (sgd, sgdw): each step combines two batches' gradients so that their noise is L times
   * SGD's, at the LR η/L, and the run takes L steps per unit of SDE time. `steps`, the schedule and
   * every `…Every` count units of SDE time, so runs with different L line up. 1: plain SGD.
   */
  svag: defaulted(num, 1, {
    check: integer(1),
    flag: { name: 'svag', type: 'number', describe: 'sgd, sgdw: simulate SGD\'s SDE with SVAG\'s L (two batches per step, LR η/L, L steps per unit of SDE time, which --steps and the --…-every counts are in); 1: SGD' },
  }),
  wdGroups: defaulted(wdGroupList, [], {
    check: checkWdGroups,
    flag: { name: 'wd-group', type: 'string', array: true, describe: 'REGEX=SCALE: multiply WD of matching parameters, e.g. "bn|fc=0"', parse: (texts: string[]) => texts.map(parseWdGroup) },
  }),
  /** Total optimisation steps (`ilr train --epochs` computes them from the data). */
  steps: required(num, { check: integer(1), flag: { name: 'steps', type: 'number', describe: 'length in steps (or --epochs)' } }),
  schedule: defaulted(object<Schedule>(), { kind: 'constant' }, {
    check: checkSchedule,
    flag: { name: 'schedule', type: 'string', default: 'constant', describe: 'LR/WD schedule: constant, wd_x_y_lr_z_u, JSON, or a JSON file', parse: parseSchedule },
  }),
  seed: defaulted(num, 0, { flag: { name: 'seed', type: 'number', describe: 'random seed (initialisation, data order, augmentation)' } }),
  /** Overrides of the preset: the norm layers' ε (small for exact scale invariance), the last layer's init scale. */
  bnEps: optional(num, { flag: { name: 'bn-eps', type: 'number', describe: 'ε of the norm layers (default 1e-5)' } }),
  fcScale: optional(num, { flag: { name: 'fc-scale', type: 'number', describe: 'last layer init scale (default 1, 10 for -si models)' } }),
  /** cnn4 models: the three conv widths, instead of the preset's (32, 64, 128 times its -wK); checked by the model, below. */
  widths: optional(numbers<[number, number, number]>()),
  /** Imported models (path/to/net.onnx): the fully scale-invariant variant (a preset says it with -si). */
  si: optional(bool, { flag: { name: 'si', type: 'boolean', describe: 'the fully scale-invariant variant (norm layers\' γ, β frozen at 1, 0; the last layer frozen), as a preset\'s -si; the way to ask it of an imported model' } }),
  /** Imported models (path/to/net.onnx): the SHA-256 of the file, recorded when the run copies it (model-file.ts). */
  modelSha256: optional(text()),
  /** Write a metrics line every this many steps. */
  logEvery: defaulted(num, 10, { check: integer(1), flag: { name: 'log-every', type: 'number', describe: 'metrics line every N steps' } }),
  /** Per-layer norms every this many steps (0: never). */
  layerEvery: defaulted(num, 0, { check: integer(0), flag: { name: 'layer-every', type: 'number', describe: 'per-layer norms every N steps (0: never)' } }),
  /** Per-output-channel angular updates of the scale-invariant weights every this many steps, to channels.jsonl (0: never). */
  channelEvery: defaulted(num, 0, {
    check: integer(0),
    flag: { name: 'channel-every', type: 'number', describe: 'every N steps, the angular update of each output channel of every scale-invariant weight, in float64, to channels.jsonl (0: never)' },
  }),
  /** The sharpness (λ_max of the loss's Hessian over the scale-invariant weights) every this many steps, to sharpness.jsonl (0: never). */
  sharpnessEvery: defaulted(num, 0, {
    check: integer(0),
    flag: { name: 'sharpness-every', type: 'number', describe: "every N steps, λ_max of the loss's Hessian (Lanczos, exact Hessian-vector products) at the weights the step starts from, η·λ_max and |w|²·λ_max, to sharpness.jsonl (0: never)" },
  }),
  /** Evaluate on the test set (and the train subset) every this many steps (0: only at the end). */
  evalEvery: defaulted(num, 0, { check: integer(0), flag: { name: 'eval-every', type: 'number', describe: 'test evaluation every N steps (0: at the end only)' } }),
  evalBatch: defaulted(num, 500, { check: integer(1), flag: { name: 'eval-batch', type: 'number', describe: 'evaluation batch size' } }),
  /** At every evaluation, also write the predicted label of each test image (predictions.jsonl). */
  recordPredictions: defaulted(bool, false),
  checkpointEvery: defaulted(num, 500, { check: integer(1), flag: { name: 'checkpoint-every', type: 'number', describe: 'checkpoint every N steps' } }),
  /** Extra checkpoints kept under their epoch's name (SWA snapshots). */
  snapshotEpochs: defaulted(numbers(), [], { flag: { name: 'snapshot-epochs', type: 'number', array: true, describe: 'also keep checkpoints after these epochs (SWA)' } }),
  /** How many rolling checkpoints to keep. */
  keepCheckpoints: defaulted(num, 2, { check: integer(1), flag: { name: 'keep', type: 'number', describe: 'rolling checkpoints to keep' } }),
  ep: defaulted(oneOf(EXECUTION_PROVIDERS), 'cpu', {
    flag: { name: 'ep', type: 'string', describe: 'execution provider: cpu, cuda (needs `make setup ORT_INSTALL=cuda`) or webgpu (needs a Vulkan driver); `ilr doctor --ep EP` checks one', parse: (t: string) => parseExecutionProvider(t, '--ep') },
  }),
  threads: defaulted(num, 0, { check: integer(0, ' (0 = one per core)'), flag: { name: 'threads', type: 'number', describe: 'ORT intra-op threads (0 = one per core)' } }),
};

type Fields = typeof FIELDS;
type ValueOf<K extends keyof Fields> = Fields[K] extends Field<infer T, Presence> ? T : never;
type FieldsWith<P extends Presence> = { [K in keyof Fields]: Fields[K]['presence'] extends P ? K : never }[keyof Fields];
type Flat<T> = { [K in keyof T]: T[K] };

export type TrainConfig = Flat<{ [K in FieldsWith<'required' | 'default'>]: ValueOf<K> } & { [K in FieldsWith<'optional'>]?: ValueOf<K> }>;
export type RequiredField = FieldsWith<'required'>;

/** A field of the table, walked without its own type. */
type AnyField = Field<unknown, Presence>;
const TABLE = Object.entries(FIELDS) as [keyof TrainConfig, AnyField][];

/** Every field a training config has, in the table's order. */
export const CONFIG_FIELDS = TABLE.map(([name]) => name);

export const DEFAULTS = Object.fromEntries(TABLE.filter(([, f]) => f.presence === 'default').map(([name, f]) => [name, f.default])) as Pick<TrainConfig, FieldsWith<'default'>>;

/** config.json lists the fields with defaults first, then the others, as it always has (configs are compared by content, not order). */
const WRITTEN_ORDER = [...TABLE.filter(([, f]) => f.presence === 'default'), ...TABLE.filter(([, f]) => f.presence !== 'default')];

/** Fills defaults and rejects what cannot run, before any work starts. */
export function resolveConfig(partial: Partial<TrainConfig> & Pick<TrainConfig, RequiredField>): TrainConfig {
  const bad = (why: string): never => {
    throw new Error(`invalid training config: ${why}`);
  };
  // An absent field and one given as undefined are the same: the default fills both.
  const given: Record<string, unknown> = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  for (const k of Object.keys(given)) if (!(k in FIELDS)) bad(`unknown field "${k}"`);
  const c = Object.fromEntries(WRITTEN_ORDER.flatMap(([name, f]) => {
    const v = name in given ? given[name] : f.default;
    return v === undefined ? [] : [[name, v]];
  })) as TrainConfig;
  for (const [name, f] of TABLE) {
    const v = c[name];
    if (v === undefined && f.presence === 'required') bad(`${name} is required`);
    const why = v !== undefined ? f.check?.(v, name) : undefined;
    if (why) bad(why);
  }
  // The checks that read several fields.
  // throws on an unknown model or widths it cannot take; a run's imported model is checked from its copy (model-file.ts)
  if (c.modelSha256 === undefined) modelSpec(c.model, { widths: c.widths, si: c.si });
  if (c.svag > 1 && c.batchSize === 0) bad(`svag ${c.svag} needs mini-batches (--batch-size > 0): full-batch gradient descent has no gradient noise for SVAG to scale`);
  try {
    optimizerDef(c.optimizer).check(optimizerOf(c));
  } catch (e) {
    bad((e as Error).message);
  }
  return c;
}

/** The optimizer a config trains with. */
export const optimizerOf = (c: Pick<TrainConfig, 'optimizer' | 'momentum' | 'nesterov' | 'betas' | 'adamEps' | 'svag'>): OptimizerConfig =>
  ({ name: c.optimizer, momentum: c.momentum, nesterov: c.nesterov, betas: c.betas, eps: c.adamEps, svag: c.svag });

/** The WD multiplier of each trainable parameter (the last matching group wins; default 1). */
export function wdScales(config: Pick<TrainConfig, 'wdGroups'>, names: readonly string[]): Float32Array {
  return Float32Array.from(names, (name) => {
    let scale = 1;
    for (const g of config.wdGroups) if (new RegExp(g.match).test(name)) scale = g.scale;
    return scale;
  });
}

// ---- the command line ---------------------------------------------------------------------------

/** The default a flag shows: its own, or its field's (a null default, "all", is not one a flag can take, so it shows none). */
const flagDefault = (f: AnyField): unknown => f.flag?.default ?? (f.default === null ? undefined : f.default);

/** The fields `ilr train` sets by flag, each with the flag and the default it shows. */
export const CONFIG_FLAGS = TABLE.flatMap(([field, f]) => (f.flag ? [{ field, flag: f.flag, default: flagDefault(f) }] : []));

/** The config fields that the command line's values give (by flag name, as yargs holds them; absent flags give none). */
export function fieldsFromFlags(args: Record<string, unknown>): Partial<TrainConfig> {
  return Object.fromEntries(CONFIG_FLAGS.flatMap(({ field, flag }) => {
    const raw = args[flag.name] as string | string[] | undefined;
    return raw === undefined ? [] : [[field, flag.parse ? flag.parse(raw) : raw]];
  }));
}

const kebab = (field: string): string => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Each name a field goes by: its own (`batchSize`), in kebab-case (`batch-size`), and its flag's (`keep`). */
const FIELD_OF_NAME = new Map<string, keyof TrainConfig>(TABLE.flatMap(([field, f]) => [[field, field], [kebab(field), field], ...(f.flag ? [[f.flag.name, field] as const] : [])]));

/** The field a key names, in any of its names; undefined when it names none. */
export const fieldNamed = (key: string): keyof TrainConfig | undefined => FIELD_OF_NAME.get(key);

/**
 * A field's value as written on a command line or in a sweep: text that the field's flag parses
 * (a schedule's name, `0.9,0.99` for betas) becomes the field's value; anything else is kept.
 */
export function valueFromText(field: keyof TrainConfig, v: unknown): unknown {
  const flag = FIELDS[field].flag as Flag<unknown> | undefined;
  return typeof v === 'string' && flag?.parse && !flag.array ? flag.parse(v) : v;
}

// ---- config files -------------------------------------------------------------------------------

const KINDS: Record<string, Kind<unknown>> = Object.fromEntries(TABLE.map(([name, f]) => [name, f.kind]));

const shown = (v: unknown): string => `${typeof v === 'string' ? 'the string ' : ''}${JSON.stringify(v)}`;

function checkKinds(o: Record<string, unknown>, kinds: Record<string, Kind<unknown>>, where: string): void {
  for (const [k, v] of Object.entries(o)) {
    const kind = kinds[k];
    if (!kind) throw new Error(`${where}: unknown field "${k}"; the fields are ${Object.keys(kinds).join(', ')}`);
    if (v === undefined) continue;
    if (!kind.holds(v)) throw new Error(`${where}: "${k}" must be ${kind.expected}, got ${shown(v)}`);
    if (kind.fields) checkKinds(v as Record<string, unknown>, kind.fields, `${where}, "${k}"`);
  }
}

/** Throws, naming `where` and the field, unless every field of `o` is a config field holding its JSON type. */
export const checkConfigFields = (o: Record<string, unknown>, where: string): void => checkKinds(o, KINDS, where);

/**
 * A training config read from a file (`source` names it in errors): every field is checked for
 * its type (a quoted number is refused, not coerced), then resolved as from the command line.
 */
export function parseConfig(raw: unknown, source: string): TrainConfig {
  if (!isObject(raw)) throw new Error(`${source}: a training config must be a JSON object, got ${shown(raw)}`);
  checkConfigFields(raw, source);
  for (const [k, f] of TABLE) if (f.presence === 'required' && raw[k] === undefined) throw new Error(`${source}: "${k}" is required`);
  try {
    return resolveConfig(raw as unknown as TrainConfig);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}
