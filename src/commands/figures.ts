/** One command per figure (`ilr toy`, `ilr decay`, …) and `ilr reproduce`, which runs them all and writes the report. */
import * as path from 'path';
import { CommandModule } from 'yargs';
import { DATASET_NAMES, DatasetName } from '../data';
import { describePlan, Experiment, FigureOptimizer, figurePlan, Scale, SCALES } from '../experiments/frame';
import { figureContext, FigureOptions, reproduce } from '../experiments/reproduce';
import { EXPERIMENTS } from '../experiments/registry';
import { formatVerdictTable } from '../plot/report';
import { colorEnabled } from '../util/progress';
import { RunsSubmitted } from '../experiments/runs';
import { describeCost } from '../launch/cost';
import { LaunchArgs, launchOptions, parseLauncher } from './launch-options';
import { ADAM_DEFAULTS, OptimizerName, OPTIMIZERS } from '../programs/optimizers';
import { commonOptions, OPTIMIZER_FLAGS, parseEp, refuseForeignOptimizerFlags } from './options';
import { parseBetas } from '../train/config';

interface FigureArgs extends LaunchArgs {
  scale: string;
  out: string;
  dataset?: string;
  'data-dir'?: string;
  ep: string;
  threads: number;
  seed: number;
  jobs: number;
  'dry-run': boolean;
  quiet: boolean;
  only?: string[];
  optimizer?: string;
  model?: string;
  momentum?: number;
  nesterov?: boolean;
  betas?: string;
  'adam-eps'?: number;
}

const figureOptions = {
  scale: { choices: SCALES as unknown as string[], default: 'cpu', describe: 'smoke (seconds), cpu (minutes on a laptop), paper (the paper\'s settings)' },
  out: { type: 'string', default: 'reports', describe: 'report directory; each figure writes to <out>/<figure>/' },
  dataset: { type: 'string', describe: `override the preset's data set (${DATASET_NAMES.join(', ')})` },
  'data-dir': { type: 'string', describe: 'directory with the data set files' },
  ep: commonOptions.ep,
  threads: commonOptions.threads,
  seed: commonOptions.seed,
  jobs: { type: 'number', default: 1, describe: 'independent runs in parallel worker processes (each gets cores/jobs threads)' },
  'dry-run': { type: 'boolean', default: false, describe: 'print the planned runs, their steps and estimated time (from a measured, cached step time per model), run nothing' },
  quiet: { type: 'boolean', default: false, describe: 'no progress bars' },
  optimizer: { choices: Object.keys(OPTIMIZERS), describe: 'train every run of the figures with this optimizer instead of their own (SGD); the checks, calibrated for SGD, are then reported as information. Written to <out>/<figure>-<optimizer>/. Refused by figures whose runs are not trainer runs (toy, explr) and by rotational' },
  model: { type: 'string', describe: 'train every run of the figures with this model instead of their own: a preset, or path/to/net.onnx (README, "Your own network"); the checks are then reported as information. Written to <out>/<figure>-<model>/. Refused by figures whose runs are not trainer runs (toy, explr, rotational)' },
  momentum: { type: 'number', describe: 'with --optimizer sgd or sgdw: heavy-ball momentum β (default 0)' },
  nesterov: { type: 'boolean', describe: 'with --optimizer sgd or sgdw and --momentum: Nesterov momentum' },
  betas: { type: 'string', describe: `with --optimizer adam or adamw: β₁,β₂ (default ${ADAM_DEFAULTS.betas.join(',')})` },
  'adam-eps': { type: 'number', describe: `with --optimizer adam or adamw: ε added to √v̂ (default ${ADAM_DEFAULTS.eps})` },
  ...launchOptions,
} as const;

function options(a: FigureArgs): FigureOptions {
  if (a.dataset && !DATASET_NAMES.includes(a.dataset as DatasetName)) throw new Error(`--dataset "${a.dataset}": expected one of ${DATASET_NAMES.join(', ')}`);
  return {
    scale: a.scale as Scale,
    out: a.out,
    seed: a.seed,
    ep: parseEp(a.ep),
    threads: a.threads,
    dataset: a.dataset as DatasetName | undefined,
    dataDir: a['data-dir'],
    jobs: a.jobs,
    launcher: parseLauncher(a),
    optimizer: figureOptimizer(a),
    model: a.model,
    quiet: a.quiet,
  };
}

/** The optimizer `--optimizer` and its companions choose for every run, or undefined for the figures' own. */
function figureOptimizer(a: FigureArgs): FigureOptimizer | undefined {
  const companions = OPTIMIZER_FLAGS.filter((k) => a[k] !== undefined);
  if (!a.optimizer) {
    if (companions.length) throw new Error(`${companions.map((k) => `--${k}`).join(', ')} set the optimizer of a figure's runs: give --optimizer too`);
    return undefined;
  }
  refuseForeignOptimizerFlags(a.optimizer, companions);
  return {
    optimizer: a.optimizer as OptimizerName,
    momentum: a.momentum ?? 0,
    nesterov: a.nesterov ?? false,
    betas: a.betas ? parseBetas(a.betas) : [...ADAM_DEFAULTS.betas],
    adamEps: a['adam-eps'] ?? ADAM_DEFAULTS.eps,
  };
}

async function runFigures(experiments: Experiment[], a: FigureArgs): Promise<void> {
  const o = options(a);
  const refusing = experiments.filter((e) => e.optimizerRefusal);
  const flags = [o.model && '--model', o.optimizer && '--optimizer'].filter(Boolean).join(' and ');
  if (flags && refusing.length > 0) {
    const takers = EXPERIMENTS.filter((e) => !e.optimizerRefusal).map((e) => e.id);
    throw new Error(`${flags} does not apply to ${refusing.map((e) => `${e.id} (${e.optimizerRefusal})`).join('; ')}. ` +
      `The figures that take it: ${takers.join(', ')}${experiments.length > 1 ? ' (choose them with --only)' : ''}`);
  }
  if (a['dry-run']) {
    for (const e of experiments) {
      const ctx = figureContext(o, e.id);
      console.log(describePlan(e, ctx));
      console.log((await describeCost(figurePlan(e, ctx), o.threads)).join('\n'));
    }
    return;
  }
  let sections;
  try {
    sections = await reproduce(experiments, o, `ilr ${process.argv.slice(2).join(' ')}`);
  } catch (e) {
    if (!(e instanceof RunsSubmitted)) throw e;
    return console.log(e.message);
  }
  const verdicts = sections.flatMap((s) => s.verdicts);
  console.log(formatVerdictTable(verdicts, { color: colorEnabled(process.stdout) }));
  console.log(`report: ${path.join(a.out, 'index.html')}`);
  // At smoke scale the phenomena need not show: the verdicts are printed, not enforced.
  // Checks made informative by --optimizer are shown, not enforced either.
  if (a.scale !== 'smoke' && verdicts.some((v) => !v.passed && !v.informative)) process.exitCode = 1;
}

export const figureCommands: CommandModule<object, FigureArgs>[] = EXPERIMENTS.map((e) => ({
  command: e.command ?? e.id,
  describe: e.title,
  builder: (y) => y.options(figureOptions),
  handler: (a) => runFigures([e], a),
}));

export const reproduceCommand: CommandModule<object, FigureArgs> = {
  command: 'reproduce',
  describe: 'run every figure at --scale and write <out>/index.html and <out>/summary.md',
  builder: (y) => y.options(figureOptions).option('only', { type: 'string', array: true, choices: EXPERIMENTS.map((e) => e.id), describe: `run only these figures (${EXPERIMENTS.map((e) => e.id).join(', ')})` }),
  handler: (a) => runFigures(a.only ? EXPERIMENTS.filter((e) => a.only!.includes(e.id)) : EXPERIMENTS, a),
};
