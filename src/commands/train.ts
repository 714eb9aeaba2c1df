/** `ilr train`: one training run, written to a run directory; `--resume DIR` continues one. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import yargs, { Arguments, Argv, CommandModule } from 'yargs';
import { batchesPerEpoch, loadSubset } from '../data';
import { readJsonFile, WriteError } from '../io/files';
import { CONFIG_FLAGS, DEFAULTS, fieldsFromFlags, parseConfig, resolveConfig, TrainConfig } from '../train/config';
import { readRunConfig, ResumeChanges, rollingCheckpointsOf, runFiles } from '../train/run-dir';
import { train } from '../train/trainer';
import { prepareRunDir } from '../launch/task';
import { parseEp, refuseForeignOptimizerFlags } from './options';

/** The parsed command line: each config field's flag by name (`fieldsFromFlags` reads them), and the command's own options. */
export interface TrainArgs {
  [flag: string]: unknown;
  model?: string;
  optimizer: string;
  ep: string;
  threads: number;
  epochs?: number;
  steps?: number;
  out?: string;
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
  if ((a.epochs === undefined) === (a.steps === undefined)) throw new Error('give exactly one of --epochs and --steps');
  refuseForeignOptimizerFlags(a.optimizer, a.given ?? []);
  const fields = fieldsFromFlags(a);
  const steps = a.steps ?? (await epochSteps({ ...DEFAULTS, ...fields, dataset: fields.dataset! }, a.epochs!));
  return resolveConfig({ ...fields, model: a.model, dataset: fields.dataset!, steps });
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
export function trainOptions(y: Argv): Argv<TrainArgs> {
  for (const { flag, default: value } of CONFIG_FLAGS) {
    y = y.option(flag.name, { type: flag.type, array: flag.array, choices: flag.choices, describe: flag.describe, ...(value !== undefined && { default: value }) });
  }
  return y
      .option('epochs', { type: 'number', describe: 'length in epochs (or --steps)' })
      .option('out', { type: 'string', describe: 'run directory (default runs/<model>-<dataset>-lr<lr>-wd<wd>-s<seed>)' })
      .option('resume', { type: 'string', describe: 'continue the run in this directory from its newest checkpoint (or from step 0 if it has none); takes --steps/--epochs (a new length), --ep, --threads' })
      .option('config', { type: 'string', describe: 'a JSON file with the whole training config (as in a run\'s config.json "config"); takes only --out, --continue, --ep, --threads, --quiet and --tensorboard besides' })
      .option('continue', { type: 'boolean', default: false, describe: 'with --config and --out: do nothing if --out holds this run finished, resume it if interrupted, else start it (what launchers run)' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar' })
      .option('tensorboard', { type: 'boolean', default: true, describe: 'also write the metrics as a TensorBoard event file (events.out.tfevents.*) in the run directory; --no-tensorboard: not' }) as unknown as Argv<TrainArgs>;
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
