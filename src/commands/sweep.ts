/**
 * `ilr sweep`: a grid (or list) over training options, one run directory per point under a
 * sweep directory with a manifest, launched here or on Slurm; `ilr sweep status DIR` and
 * `ilr sweep collect DIR` (the table and the λη-collapse plots).
 */
import * as path from 'path';
import { CommandModule } from 'yargs';
import { describeCost } from '../launch/cost';
import { launcherFor } from '../launch/launcher';
import { DEFAULT_WINDOW } from '../analysis/equilibrium';
import { collectSweep, formatSweepTable, writeSweepTable } from '../sweep/collect';
import { readManifest, SweepManifest, sweepTasks, writeManifest } from '../sweep/manifest';
import { plotSweep } from '../sweep/plots';
import { expandSweep, normalise, parseGridOption, parseListOption, parseSeeds, readSweepFile, SweepSpec } from '../sweep/spec';
import { formatStatus, sweepStatus } from '../sweep/status';
import { resolveConfig, TrainConfig } from '../train/config';
import { LaunchArgs, launchOptions, parseLauncher } from './launch-options';
import { commonOptions, parseEp } from './options';
import { configFromArgv } from './train';

interface SweepArgs extends LaunchArgs {
  out: string;
  file?: string;
  grid: string[];
  list: string[];
  seeds?: string;
  jobs: number;
  ep: string;
  threads: number;
  'dry-run': boolean;
  quiet: boolean;
  '--'?: (string | number)[];
}

/** The sweep the command line gives: the file's, with --grid, --list, --seeds and the train options after `--` added. */
function specOf(a: SweepArgs): SweepSpec {
  const file = a.file ? readSweepFile(a.file) : {};
  const train = (a['--'] ?? []).map(String);
  return {
    ...file,
    ...(train.length > 0 ? { train: [...(file.train ?? []), ...train] } : {}),
    grid: { ...file.grid, ...Object.fromEntries(a.grid.map(parseGridOption)) },
    list: [...(file.list ?? []), ...a.list.map(parseListOption)],
    seeds: a.seeds ? parseSeeds(a.seeds) : file.seeds,
  };
}

const isEmpty = (s: SweepSpec): boolean => !s.train?.length && !s.base && !Object.keys(s.grid ?? {}).length && !s.list?.length && !s.seeds?.length;

async function baseConfig(s: SweepSpec): Promise<TrainConfig> {
  const fromArgs = s.train?.length ? await configFromArgv(s.train, 'the ilr train options after --') : {};
  return resolveConfig({ ...fromArgs, ...normalise(s.base ?? {}, 'base') } as TrainConfig);
}

async function launchSweep(a: SweepArgs): Promise<void> {
  const spec = specOf(a);
  const command = `ilr ${process.argv.slice(2).join(' ')}`;
  const runs = isEmpty(spec) ? readManifest(a.out).runs : expandSweep(spec, await baseConfig(spec));
  if (a['dry-run']) return console.log([`${a.out}: ${runs.length} runs`, ...(await describeCost(runs, a.threads))].join('\n'));
  const m: SweepManifest = isEmpty(spec) ? readManifest(a.out) : writeManifest(a.out, spec, runs, command);
  const launcher = launcherFor(parseLauncher(a));
  const result = await launcher.launch(sweepTasks(a.out, m), { dir: a.out, name: `ilr-sweep-${path.basename(path.resolve(a.out))}`, jobs: a.jobs, threads: a.threads, ep: parseEp(a.ep), quiet: a.quiet });
  console.log(result.kind === 'submitted' ? result.message : `${a.out}: all ${m.runs.length} runs finished; the table and plots: ilr sweep collect ${a.out}`);
}

const launch: CommandModule<object, SweepArgs> = {
  command: '$0',
  describe: 'expand the sweep and run (or submit) every run not finished: ilr sweep --out DIR --grid lr=0.1,0.2 --seeds 0-2 -- --model cnn4 --steps 500',
  builder: (y) =>
    y
      .parserConfiguration({ 'populate--': true })
      .options({
        out: { type: 'string', demandOption: true, describe: 'the sweep directory (sweep.json, runs/<name>/); given alone, continues the sweep there' },
        file: { type: 'string', describe: 'a sweep file (JSON: train, base, grid, list, seeds)' },
        grid: { type: 'string', array: true, default: [] as string[], describe: 'KEY=V1,V2,…: one run per value (keys: ilr train options, e.g. lr, wd, batch-size, momentum, schedule); several --grid make a product' },
        list: { type: 'string', array: true, default: [] as string[], describe: '"KEY=V KEY=V": one explicit point (the grid is applied to each)' },
        seeds: { type: 'string', describe: 'seeds of every point: a range 0-2 or a list 0,3,5' },
        jobs: { type: 'number', default: 1, describe: 'local: runs in parallel worker processes (each gets cores/jobs threads)' },
        ep: commonOptions.ep,
        threads: commonOptions.threads,
        'dry-run': { type: 'boolean', default: false, describe: 'print the runs, their steps and estimated time (measured step times, cached), run nothing' },
        quiet: { type: 'boolean', default: false, describe: 'no progress bars' },
        ...launchOptions,
      }),
  handler: launchSweep,
};

const status: CommandModule<object, { dir: string }> = {
  command: 'status <dir>',
  describe: 'done / running / failed / pending per run (failed ones with their log)',
  builder: (y) => y.positional('dir', { type: 'string', demandOption: true, describe: 'the sweep directory' }),
  handler: (a) => console.log(formatStatus(a.dir, sweepStatus(a.dir))),
};

const collect: CommandModule<object, { dir: string; window: number }> = {
  command: 'collect <dir>',
  describe: 'results.csv / results.md (final and equilibrium metrics per run) and the λη-collapse plots',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'the sweep directory' })
      .option('window', { type: 'number', default: DEFAULT_WINDOW, describe: 'the equilibrium window: this last fraction of each run' }),
  handler: async (a) => {
    const rows = collectSweep(a.dir, a.window);
    if (rows.length === 0) throw new Error(`${a.dir}: no run has written metrics yet (ilr sweep status ${a.dir})`);
    const table = writeSweepTable(a.dir, rows);
    const images = await plotSweep(a.dir, rows, path.basename(path.resolve(a.dir)));
    console.log(formatSweepTable(rows));
    console.log(`table: ${table.csv}, ${table.md}\nplots: ${images.join(', ')}`);
  },
};

export const sweepCommand: CommandModule = {
  command: 'sweep',
  describe: 'a grid of training runs, here or on Slurm; sweep status DIR, sweep collect DIR',
  builder: (y) => y.command(status).command(collect).command(launch as unknown as CommandModule),
  handler: () => undefined,
};
