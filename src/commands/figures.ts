/** One command per figure (`ilr toy`, `ilr decay`, …) and `ilr reproduce`, which runs them all and writes the report. */
import * as path from 'path';
import { CommandModule } from 'yargs';
import { DATASET_NAMES, DatasetName } from '../data';
import { describePlan, Experiment, Scale, SCALES } from '../experiments/frame';
import { figureContext, FigureOptions, reproduce } from '../experiments/reproduce';
import { EXPERIMENTS } from '../experiments/registry';
import { formatVerdictTable } from '../plot/report';
import { colorEnabled } from '../util/progress';
import { RunsSubmitted } from '../experiments/runs';
import { describeCost } from '../launch/cost';
import { LaunchArgs, launchOptions, parseLauncher } from './launch-options';
import { commonOptions, parseEp } from './options';

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
    quiet: a.quiet,
  };
}

async function runFigures(experiments: Experiment[], a: FigureArgs): Promise<void> {
  const o = options(a);
  if (a['dry-run']) {
    for (const e of experiments) {
      const ctx = figureContext(o, e.id);
      console.log(describePlan(e, ctx));
      console.log((await describeCost(e.plan(e.preset(ctx.scale, ctx), ctx), o.threads)).join('\n'));
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
  if (a.scale !== 'smoke' && verdicts.some((v) => !v.passed)) process.exitCode = 1;
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
  builder: (y) => y.options(figureOptions).option('only', { type: 'string', array: true, describe: `run only these figures (${EXPERIMENTS.map((e) => e.id).join(', ')})` }),
  handler: (a) => runFigures(a.only ? EXPERIMENTS.filter((e) => a.only!.includes(e.id)) : EXPERIMENTS, a),
};
