/** `ilr train`: one training run, written to a run directory; `--resume DIR` continues one. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import yargs, { Arguments, Argv, CommandModule } from 'yargs';
import { batchesPerEpoch, DATASET_NAMES, DatasetName, loadSubset } from '../data';
import { readJsonFile, WriteError } from '../io/files';
import { PRESET_HELP } from '../nn/spec';
import { OptimizerName, OPTIMIZERS } from '../programs/optimizers';
import { DEFAULTS, parseConfig, resolveConfig, TrainConfig, WdGroup } from '../train/config';
import { readRunConfig, ResumeChanges, rollingCheckpointsOf, runFiles } from '../train/run-dir';
import { parseSchedule } from '../train/schedule';
import { train } from '../train/trainer';
import { prepareRunDir } from '../launch/task';
import { commonOptions, parseBetas, parseEp, refuseForeignOptimizerFlags } from './options';

export interface TrainArgs {
  model?: string;
  dataset: string;
  'data-dir'?: string;
  'train-subset'?: number;
  'test-subset'?: number;
  'eval-train-subset': number;
  'bn-recompute': number;
  'data-seed': number;
  augment?: boolean;
  'batch-size': number;
  'chunk-size': number;
  lr: number;
  wd: number;
  optimizer: string;
  momentum: number;
  nesterov: boolean;
  betas: string;
  'adam-eps': number;
  'wd-group': string[];
  epochs?: number;
  steps?: number;
  schedule: string;
  seed: number;
  'bn-eps'?: number;
  'fc-scale'?: number;
  'log-every': number;
  'layer-every': number;
  'channel-every': number;
  'eval-every': number;
  'eval-batch': number;
  'checkpoint-every': number;
  'snapshot-epochs': number[];
  keep: number;
  out?: string;
  ep: string;
  threads: number;
  resume?: string;
  config?: string;
  continue: boolean;
  quiet: boolean;
  tensorboard: boolean;
  /** The options given on the command line (not defaulted); set by a middleware. */
  given?: string[];
}

/** What `--resume` accepts: none changes the trajectory, only its length, where it runs, what it shows. */
const RESUME_OPTIONS = ['resume', 'steps', 'epochs', 'ep', 'threads', 'quiet', 'tensorboard'];
/** What `--config` accepts: the file holds the whole config; where it runs may be chosen here. */
const CONFIG_OPTIONS = ['config', 'out', 'continue', 'ep', 'threads', 'quiet', 'tensorboard'];

/** Options that the mode (`--resume`, `--config`) would not use are refused by name, not ignored. */
function refuseOthers(a: TrainArgs, allowed: readonly string[], mode: string, effect: string): void {
  const refused = (a.given ?? []).filter((k) => !allowed.includes(k));
  if (refused.length > 0) {
    throw new Error(`${mode}; ${refused.map((k) => `--${k}`).join(', ')} ${effect}. ` +
      `It takes only ${allowed.slice(1).map((k) => `--${k}`).join(', ')}; for other settings start a new run (another --out)`);
  }
}

function parseWdGroup(text: string): WdGroup {
  const i = text.lastIndexOf('=');
  const scale = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isFinite(scale)) throw new Error(`--wd-group "${text}": expected REGEX=SCALE, e.g. "bn|fc=0" (no WD on BN and the last layer)`);
  return { match: text.slice(0, i), scale };
}

async function epochSteps(c: Pick<TrainConfig, 'dataset' | 'trainSubset' | 'dataSeed' | 'synthetic' | 'dataDir' | 'batchSize'>, epochs: number): Promise<number> {
  if (c.batchSize === 0) return epochs;
  const train = await loadSubset({ dataset: c.dataset, split: 'train', size: c.trainSubset, seed: c.dataSeed, synthetic: c.synthetic }, { dataDir: c.dataDir, synthetic: c.synthetic });
  return Math.round(epochs * batchesPerEpoch(train.count, c.batchSize));
}

export async function configFromArgs(a: TrainArgs): Promise<TrainConfig> {
  if (a.config) {
    refuseOthers(a, CONFIG_OPTIONS, `--config ${a.config} holds the whole training config`, 'would not be used');
    if (!fs.existsSync(a.config)) throw new Error(`--config ${a.config}: no such file`);
    const c = parseConfig(readJsonFile(a.config, 'fix it (a training config as in a run\'s config.json "config")'), a.config);
    const given = a.given ?? [];
    return resolveConfig({ ...c, ep: given.includes('ep') ? parseEp(a.ep) : c.ep, threads: given.includes('threads') ? a.threads : c.threads });
  }
  if (!a.model) throw new Error('--model is required (or --resume RUN_DIR)');
  if (!DATASET_NAMES.includes(a.dataset as DatasetName)) throw new Error(`--dataset "${a.dataset}": expected one of ${DATASET_NAMES.join(', ')}`);
  if ((a.epochs === undefined) === (a.steps === undefined)) throw new Error('give exactly one of --epochs and --steps');
  refuseForeignOptimizerFlags(a.optimizer, a.given ?? []);
  const dataset = a.dataset as DatasetName;
  const steps = a.steps ?? (await epochSteps({ dataset, trainSubset: a['train-subset'] ?? null, dataSeed: a['data-seed'], dataDir: a['data-dir'], batchSize: a['batch-size'] }, a.epochs!));
  return resolveConfig({
    model: a.model,
    dataset,
    dataDir: a['data-dir'],
    trainSubset: a['train-subset'] ?? null,
    testSubset: a['test-subset'] ?? null,
    evalTrainSubset: a['eval-train-subset'],
    bnRecompute: a['bn-recompute'],
    dataSeed: a['data-seed'],
    augment: a.augment,
    batchSize: a['batch-size'],
    chunkSize: a['chunk-size'],
    lr: a.lr,
    wd: a.wd,
    optimizer: a.optimizer as OptimizerName,
    momentum: a.momentum,
    nesterov: a.nesterov,
    betas: parseBetas(a.betas),
    adamEps: a['adam-eps'],
    wdGroups: a['wd-group'].map(parseWdGroup),
    schedule: parseSchedule(a.schedule),
    steps,
    seed: a.seed,
    bnEps: a['bn-eps'],
    fcScale: a['fc-scale'],
    logEvery: a['log-every'],
    layerEvery: a['layer-every'],
    channelEvery: a['channel-every'],
    evalEvery: a['eval-every'],
    evalBatch: a['eval-batch'],
    checkpointEvery: a['checkpoint-every'],
    snapshotEpochs: a['snapshot-epochs'],
    keepCheckpoints: a.keep,
    ep: parseEp(a.ep),
    threads: a.threads,
  });
}

/**
 * What a resume may change, from the flags given with --resume. Flags that would change the
 * trajectory are refused by name, rather than ignored.
 */
async function resumeChanges(a: TrainArgs, runDir: string): Promise<ResumeChanges> {
  refuseOthers(a, RESUME_OPTIONS, `--resume continues the run in ${runDir} as ${runFiles(runDir).config} describes it`, 'would change its trajectory or its directory');
  const given = a.given ?? [];
  if (a.steps !== undefined && a.epochs !== undefined) throw new Error('give at most one of --epochs and --steps');
  return {
    steps: a.steps ?? (a.epochs !== undefined ? await epochSteps(readRunConfig(runDir), a.epochs) : undefined),
    ep: given.includes('ep') ? parseEp(a.ep) : undefined,
    threads: given.includes('threads') ? a.threads : undefined,
  };
}

/** Records which options the command line gave (yargs fills the others with their defaults). */
function recordGiven(argv: Arguments, y?: unknown): void {
  const defaulted = (y as { parsed?: { defaulted?: Record<string, boolean> } } | undefined)?.parsed?.defaulted ?? {};
  // yargs lists each option under its own name and its camelCase alias; the names have no capitals.
  argv.given = Object.keys(argv).filter((k) => /^[a-z][a-z-]*$/.test(k) && argv[k] !== undefined && !defaulted[k]);
}

/** The shell's convention for a process ended by a signal. */
const exitCodeOf = (signal: NodeJS.Signals): number => 128 + os.constants.signals[signal];

/** The options of `ilr train`, which `ilr sweep` also parses for the base of its runs. */
export function trainOptions(y: Argv) {
  return y
      .option('model', { type: 'string', describe: PRESET_HELP })
      .option('dataset', { type: 'string', default: 'fashion-mnist', describe: `data set: ${DATASET_NAMES.join(', ')}` })
      .option('data-dir', { type: 'string', describe: 'directory with the data set files (default: ILR_DATA_DIR, system, cache)' })
      .option('train-subset', { type: 'number', describe: 'class-balanced training subset size (default: the whole split)' })
      .option('test-subset', { type: 'number', describe: 'class-balanced test subset size (default: the whole split)' })
      .option('eval-train-subset', { type: 'number', default: DEFAULTS.evalTrainSubset, describe: 'fixed train subset evaluated like the test set (0: none)' })
      .option('bn-recompute', { type: 'number', default: DEFAULTS.bnRecompute, describe: 'evaluate with BN statistics recomputed on this many train images (update_bn) instead of the running ones (0: running)' })
      .option('data-seed', { type: 'number', default: DEFAULTS.dataSeed, describe: 'seed of the subset choices' })
      .option('augment', { type: 'boolean', describe: 'crop+flip augmentation (default: on for cifar10 only)' })
      .option('batch-size', { type: 'number', default: DEFAULTS.batchSize, describe: 'images per step; 0 = full-batch gradient descent' })
      .option('chunk-size', { type: 'number', default: DEFAULTS.chunkSize, describe: 'full-batch mode: images per program run' })
      .option('lr', { type: 'number', default: DEFAULTS.lr, describe: 'learning rate η' })
      .option('wd', { type: 'number', default: DEFAULTS.wd, describe: 'weight decay λ (coupled for sgd and adam, decoupled for sgdw and adamw)' })
      .option('optimizer', { choices: Object.keys(OPTIMIZERS), default: DEFAULTS.optimizer, describe: 'sgd (coupled WD, torch.optim.SGD), sgdw (decoupled WD), adamw (torch.optim.AdamW), adam (torch.optim.Adam: WD as L2)' })
      .option('momentum', { type: 'number', default: DEFAULTS.momentum, describe: 'sgd, sgdw: heavy-ball momentum β (0: plain SGD, the paper\'s main setting)' })
      .option('nesterov', { type: 'boolean', default: DEFAULTS.nesterov, describe: 'sgd, sgdw: Nesterov momentum' })
      .option('betas', { type: 'string', default: DEFAULTS.betas.join(','), describe: 'adam, adamw: β₁,β₂' })
      .option('adam-eps', { type: 'number', default: DEFAULTS.adamEps, describe: 'adam, adamw: ε added to √v̂' })
      .option('wd-group', { type: 'string', array: true, default: [] as string[], describe: 'REGEX=SCALE: multiply WD of matching parameters, e.g. "bn|fc=0"' })
      .option('epochs', { type: 'number', describe: 'length in epochs (or --steps)' })
      .option('steps', { type: 'number', describe: 'length in steps (or --epochs)' })
      .option('schedule', { type: 'string', default: 'constant', describe: 'LR/WD schedule: constant, wd_x_y_lr_z_u, JSON, or a JSON file' })
      .option('seed', commonOptions.seed)
      .option('bn-eps', { type: 'number', describe: 'ε of the norm layers (default 1e-5)' })
      .option('fc-scale', { type: 'number', describe: 'last layer init scale (default 1, 10 for -si models)' })
      .option('log-every', { type: 'number', default: DEFAULTS.logEvery, describe: 'metrics line every N steps' })
      .option('layer-every', { type: 'number', default: DEFAULTS.layerEvery, describe: 'per-layer norms every N steps (0: never)' })
      .option('channel-every', { type: 'number', default: DEFAULTS.channelEvery, describe: 'every N steps, the angular update of each output channel of every scale-invariant weight, in float64, to channels.jsonl (0: never)' })
      .option('eval-every', { type: 'number', default: DEFAULTS.evalEvery, describe: 'test evaluation every N steps (0: at the end only)' })
      .option('eval-batch', { type: 'number', default: DEFAULTS.evalBatch, describe: 'evaluation batch size' })
      .option('checkpoint-every', { type: 'number', default: DEFAULTS.checkpointEvery, describe: 'checkpoint every N steps' })
      .option('snapshot-epochs', { type: 'number', array: true, default: [] as number[], describe: 'also keep checkpoints after these epochs (SWA)' })
      .option('keep', { type: 'number', default: DEFAULTS.keepCheckpoints, describe: 'rolling checkpoints to keep' })
      .option('out', { type: 'string', describe: 'run directory (default runs/<model>-<dataset>-lr<lr>-wd<wd>-s<seed>)' })
      .option('ep', commonOptions.ep)
      .option('threads', commonOptions.threads)
      .option('resume', { type: 'string', describe: 'continue the run in this directory from its newest checkpoint (or from step 0 if it has none); takes --steps/--epochs (a new length), --ep, --threads' })
      .option('config', { type: 'string', describe: 'a JSON file with the whole training config (as in a run\'s config.json "config"); takes only --out, --continue, --ep, --threads, --quiet and --tensorboard besides' })
      .option('continue', { type: 'boolean', default: false, describe: 'with --config and --out: do nothing if --out holds this run finished, resume it if interrupted, else start it (what launchers run)' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar' })
      .option('tensorboard', { type: 'boolean', default: true, describe: 'also write the metrics as a TensorBoard event file (events.out.tfevents.*) in the run directory; --no-tensorboard: not' });
}

/** The training config that `ilr train ARGV` would run (for `ilr sweep -- ARGV`). */
export async function configFromArgv(argv: readonly string[], what: string): Promise<TrainConfig> {
  const y = trainOptions(yargs([...argv])).middleware(recordGiven).strict().exitProcess(false).fail((msg, err) => {
    throw new Error(`${what}: ${err?.message ?? msg}`);
  });
  const a = (await y.parseAsync()) as unknown as TrainArgs & { _: (string | number)[] };
  if (a._.length > 0) throw new Error(`${what}: unexpected ${a._.join(' ')}`);
  if (a.resume || a.config || a.continue) throw new Error(`${what}: give training options, not --resume, --config or --continue`);
  return configFromArgs(a);
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'train a model with SGD, AdamW, … and WD; writes config.json, metrics.jsonl and checkpoints/ to --out',
  builder: (y) => trainOptions(y).middleware(recordGiven),
  handler: async (a) => {
    const changes = a.resume !== undefined ? await resumeChanges(a, a.resume) : undefined;
    const config = a.resume !== undefined ? undefined : await configFromArgs(a);
    const runDir = a.resume ?? a.out ?? path.join('runs', `${config!.model}-${config!.dataset}-lr${config!.lr}-wd${config!.wd}-s${config!.seed}`);
    let resume = a.resume !== undefined;
    if (a.continue) {
      if (!a.config || !a.out) throw new Error('--continue needs --config FILE and --out DIR');
      const state = prepareRunDir(a.out, config!);
      if (state === 'finished') return console.log(`${a.out}: finished already`);
      resume = state === 'resume';
      if (resume) console.log(`${a.out}: resuming from ${path.basename(rollingCheckpointsOf(a.out)[0])}`);
    }
    const result = await train(config as TrainConfig, runDir, { resume, changes, quiet: a.quiet, tensorboard: a.tensorboard }).catch((e: Error) => {
      // A write that failed mid-run (a full disk) left the run resumable: say how.
      if (e instanceof WriteError) e.message += `\nThe run stopped there; once that is fixed, continue it with: ilr train --resume ${runDir}`;
      throw e;
    });
    if (result.status === 'diverged') {
      console.error(`error: ${result.message}`);
      process.exitCode = 3;
    } else if (result.status === 'stopped') {
      console.error(`stopped by ${result.signal} at step ${result.step}; continue with: ilr train --resume ${runDir}`);
      process.exitCode = exitCodeOf(result.signal!);
    } else {
      const e = result.lastEval!;
      console.log(`${runDir}: ${result.step} steps, test loss ${e.test_loss.toFixed(4)}, test accuracy ${(100 * e.test_acc).toFixed(2)}%`);
    }
  },
};
