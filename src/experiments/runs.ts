/**
 * A figure's training runs: each lives in its own directory under the figure's, and goes to the
 * launcher the command line chose (src/launch/): finished runs are skipped, interrupted ones
 * resumed from their newest checkpoint, and a run made with another config (the preset changed
 * since) is started again.
 */
import * as path from 'path';
import { launcherFor } from '../launch/launcher';
import { ADAM_DEFAULTS } from '../programs/optimizers';
import { resolveConfig } from '../train/config';
import { readMetrics, MetricsRecord, EvalRecord, StepRecord } from '../train/metrics';
import type { Context, FigureOptimizer, PlannedRun } from './frame';

export const runDir = (ctx: Context, name: string): string => path.join(ctx.dir, name);

/** Thrown when the runs were submitted to a queue rather than run: the figure continues when they are done. */
export class RunsSubmitted extends Error {}

/** Runs every planned run that is not finished, or submits them (throwing RunsSubmitted) with a launcher that queues. */
export async function runPlanned(runs: PlannedRun[], ctx: Context): Promise<void> {
  const tasks = withFigureOptimizer(runs, ctx).map((r) => ({ name: r.name, dir: runDir(ctx, r.name), config: r.config }));
  const launcher = launcherFor(ctx.launcher ?? { kind: 'local' });
  const result = await launcher.launch(tasks, { dir: ctx.dir, name: `ilr-${path.basename(ctx.dir)}`, jobs: ctx.jobs, threads: ctx.threads, ep: ctx.ep, quiet: ctx.quiet });
  if (result.kind === 'submitted') throw new RunsSubmitted(result.message);
}

/** The runs with `--optimizer` (and its companions) in place of their own optimizer, where one was chosen. */
export function withFigureOptimizer(runs: PlannedRun[], ctx: Pick<Context, 'optimizer'>): PlannedRun[] {
  const o = ctx.optimizer;
  if (!o) return runs;
  return runs.map((r) => {
    try {
      return { ...r, config: resolveConfig({ ...r.config, ...o }) };
    } catch (e) {
      throw new Error(`--optimizer ${figureOptimizerLabel(o)}, run ${r.name}: ${(e as Error).message}`);
    }
  });
}

/** A short name of the chosen optimizer, e.g. `adamw`, `sgd-m0.9-nesterov`, `adam-b0.8,0.99`: the figure's directory suffix. */
export function figureOptimizerLabel(o: FigureOptimizer): string {
  const adam = o.betas[0] !== ADAM_DEFAULTS.betas[0] || o.betas[1] !== ADAM_DEFAULTS.betas[1] ? `-b${o.betas.join(',')}` : '';
  const eps = o.adamEps !== ADAM_DEFAULTS.eps ? `-eps${o.adamEps}` : '';
  return `${o.optimizer}${o.momentum ? `-m${o.momentum}` : ''}${o.nesterov ? '-nesterov' : ''}${adam}${eps}`;
}

export interface RunMetrics {
  steps: StepRecord[];
  evals: EvalRecord[];
}

/** The step and eval records of a run. */
export function runMetrics(ctx: Context, name: string): RunMetrics {
  const records: MetricsRecord[] = readMetrics(path.join(runDir(ctx, name), 'metrics.jsonl'));
  return {
    steps: records.filter((r): r is StepRecord => r.type === 'step'),
    evals: records.filter((r): r is EvalRecord => r.type === 'eval'),
  };
}
