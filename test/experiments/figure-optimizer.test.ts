/**
 * `--optimizer` on the figures: it reaches every trainer run's config, the figure writes to its
 * own directory, its checks become informative (calibrated for SGD), and the figures whose runs
 * are not trainer runs refuse it with their reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Experiment, FigureOptimizer, figurePlan, verdict } from '../../src/experiments/frame';
import { runExperiment } from '../../src/experiments/run-experiment';
import { experimentById } from '../../src/experiments/registry';
import { figureContext } from '../../src/experiments/reproduce';
import { figureOptimizerLabel } from '../../src/experiments/runs';
import { runCli as runCliIn, tmpDir } from '../cli';
import { verdictNamed } from './verdicts';

const adamw: FigureOptimizer = { optimizer: 'adamw', momentum: 0, nesterov: false, betas: [0.9, 0.999], adamEps: 1e-8 };
const base = { scale: 'smoke' as const, out: '/tmp/unused', seed: 0, ep: 'cpu' as const, threads: 1, jobs: 1, quiet: true };

it('reaches the config of every trainer run, in a directory of its own', () => {
  const decay = experimentById('decay');
  const own = figurePlan(decay, figureContext(base, 'decay'));
  const ctx = figureContext({ ...base, optimizer: adamw }, 'decay');
  expect(ctx.dir).toBe(path.join('/tmp/unused', 'decay-adamw'));
  const runs = figurePlan(decay, ctx);
  expect(runs.map((r) => r.name)).toEqual(own.map((r) => r.name));
  for (const [i, r] of runs.entries()) {
    expect(own[i].config.optimizer).toBe('sgd');
    expect(r.config.optimizer).toBe('adamw');
    expect({ ...r.config, optimizer: 'sgd' }).toEqual(own[i].config); // nothing else changes
  }
  const sgdm: FigureOptimizer = { ...adamw, optimizer: 'sgd', momentum: 0.9, nesterov: true };
  expect(figurePlan(decay, figureContext({ ...base, optimizer: sgdm }, 'decay'))[0].config).toMatchObject({ optimizer: 'sgd', momentum: 0.9, nesterov: true });
  expect(figureOptimizerLabel(sgdm)).toBe('sgd-m0.9-nesterov');
  expect(figureOptimizerLabel({ ...adamw, betas: [0.8, 0.99] })).toBe('adamw-b0.8,0.99');
  // A setting the optimizer refuses names the option and the run.
  expect(() => figurePlan(decay, figureContext({ ...base, optimizer: { ...adamw, momentum: 0.9 } }, 'decay'))).toThrow(/--optimizer adamw-m0.9, run .*: .*momentum and nesterov belong to sgd/);
});

it('is refused by the figures that are not trainer runs of a free optimizer, with their reason', () => {
  for (const id of ['toy', 'explr', 'rotational']) {
    const e = experimentById(id);
    expect(() => figurePlan(e, figureContext({ ...base, optimizer: adamw }, id))).toThrow(new RegExp(`--optimizer does not apply to ${id}: ${e.optimizerRefusal!.slice(0, 20)}`));
  }
});

it('marks the checks informative: calibrated for the figure\'s own optimizer', async () => {
  const dir = tmpDir('ilr-figure-optimizer-');
  try {
    // The decay figure's plan, without its training: a check that fails, to see how it is reported.
    const decay = experimentById('decay');
    const stub: Experiment = { ...decay, run: async () => undefined, plot: async () => [], notes: undefined, check: () => [verdict('decay', 'a check', false, '1', '2')] };
    const section = await runExperiment(stub, figureContext({ ...base, out: dir, optimizer: adamw }, 'decay'), dir);
    expect(verdictNamed(section.verdicts, 'a check')).toMatchObject({ passed: false, informative: true, expected: '2 (calibrated for the figure\'s own optimizer; this run: adamw)' });
    expect(section.settings.optimizer).toMatch(/^adamw for every run/);
    expect(section.notes![0]).toMatch(/reported as information/);
    const own = await runExperiment(stub, figureContext({ ...base, out: dir }, 'decay'), dir);
    expect(verdictNamed(own.verdicts, 'a check').informative).toBeUndefined();
    // Naming the figure's own optimizer changes no run: the checks stay checks.
    const sgd = await runExperiment(stub, figureContext({ ...base, out: dir, optimizer: { ...adamw, optimizer: 'sgd' } }, 'decay'), dir);
    expect(verdictNamed(sgd.verdicts, 'a check').informative).toBeUndefined();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('the command line', () => {
  it('shows the chosen optimizer in the dry run and refuses what does not apply', async () => {
    // The dry run measures step times and caches them under ILR_CACHE_DIR: a temp dir, not the real home.
    const cache = tmpDir('ilr-figure-optimizer-cache-');
    const runCli = (args: string[]) => runCliIn(args, { ILR_CACHE_DIR: cache });
    try {
      const dry = await runCli(['decay', '--scale', 'smoke', '--dry-run', '--optimizer', 'adamw', '--betas', '0.8,0.99']);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/: cnn4-si.* adamw, η/);
      const toy = await runCli(['reproduce', '--scale', 'smoke', '--dry-run', '--optimizer', 'adamw']);
      expect(toy.code).not.toBe(0);
      expect(toy.stderr).toMatch(/--optimizer does not apply to toy \(.*\); explr \(.*\); rotational \(.*\)\. The figures that take it: full-batch, decay, .* \(choose them with --only\)/);
      const alone = await runCli(['decay', '--scale', 'smoke', '--dry-run', '--momentum', '0.9']);
      expect(alone.stderr).toMatch(/--momentum set the optimizer of a figure's runs: give --optimizer too/);
      const misplaced = await runCli(['decay', '--scale', 'smoke', '--dry-run', '--optimizer', 'adamw', '--nesterov']);
      expect(misplaced.stderr).toMatch(/--nesterov does not apply to --optimizer adamw/);
      expect(fs.existsSync(path.join(cache, 'step-times.json'))).toBe(true);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  }, 60_000);
});

it('an --optimizer the figure\'s runs cannot take (Adam under SVAG in sde) is refused in one line before anything is written', async () => {
  const out = tmpDir('ilr-figure-refused-');
  try {
    const ctx = figureContext({ ...base, out, optimizer: adamw }, 'sde');
    await expect(runExperiment(experimentById('sde'), ctx, out)).rejects.toThrow(/^--optimizer adamw, run svag2: .*svag \(--svag\) applies to sgd and sgdw only/);
    expect(fs.readdirSync(out)).toEqual([]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
