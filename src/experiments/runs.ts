/**
 * A figure's training runs: each lives in its own directory under the figure's, and goes to the
 * launcher the command line chose (src/launch/): finished runs are skipped, interrupted ones
 * resumed from their newest checkpoint, and a run made with another config (the preset changed
 * since) is started again.
 */
import * as path from 'path';
import { launcherFor } from '../launch/launcher';
import { isImportedName } from '../nn/imported';
import { ADAM_DEFAULTS } from '../programs/optimizers';
import { resolveConfig, TrainConfig } from '../train/config';
import { readMetrics, MetricsRecord, EvalRecord, StepRecord } from '../train/metrics';
import { readPredictions } from '../train/predictions';
import { runFiles } from '../train/run-dir';
import type { Schedule } from '../train/schedule';
import { Context, FigureOptimizer, PlannedRun, presetFields, TrainingPreset } from './frame';

export const runDir = (ctx: Context, name: string): string => path.join(ctx.dir, name);

/** Thrown when the runs were submitted to a queue rather than run: the figure continues when they are done. */
export class RunsSubmitted extends Error {}

/** Runs every planned run that is not finished, or submits them (throwing RunsSubmitted) with a launcher that queues. */
export async function runPlanned(runs: PlannedRun[], ctx: Context): Promise<void> {
  const tasks = withFigureOverrides(runs, ctx).map((r) => ({ name: r.name, dir: runDir(ctx, r.name), config: r.config }));
  const launcher = launcherFor(ctx.launcher ?? { kind: 'local' });
  const result = await launcher.launch(tasks, { dir: ctx.dir, name: `ilr-${path.basename(ctx.dir)}`, jobs: ctx.jobs, threads: ctx.threads, ep: ctx.ep, quiet: ctx.quiet });
  if (result.kind === 'submitted') throw new RunsSubmitted(result.message);
}

/**
 * The runs with `--optimizer` (and its companions) in place of their own optimizer, and `--model`
 * in place of their model (the preset's cnn4 widths go with its model), where chosen.
 */
export function withFigureOverrides(runs: PlannedRun[], ctx: Pick<Context, 'optimizer' | 'model'>): PlannedRun[] {
  const { optimizer, model } = ctx;
  if (!optimizer && !model) return runs;
  return runs.map((r) => {
    try {
      return { ...r, config: resolveConfig({ ...r.config, ...optimizer, ...(model ? { model, widths: undefined } : {}) }) };
    } catch (e) {
      const flags = [model && `--model ${model}`, optimizer && `--optimizer ${figureOptimizerLabel(optimizer)}`].filter(Boolean).join(' ');
      throw new Error(`${flags}, run ${r.name}: ${(e as Error).message}`);
    }
  });
}

/** `--model` and `--optimizer` as short names joined by `sep`: `vgg11_bn-adamw` names the figure's directory `<figure>-vgg11_bn-adamw`. */
export function figureOverridesLabel({ optimizer, model }: Pick<Context, 'optimizer' | 'model'>, sep = '-'): string {
  const modelName = model && (isImportedName(model) ? path.basename(model, '.onnx') : model);
  return [modelName, optimizer && figureOptimizerLabel(optimizer)].filter(Boolean).join(sep);
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

/** A run of the figures that plan many alike (fast-equilibrium, random-schedules): its seed, schedule and length. */
export interface RunPlan {
  name: string;
  seed: number;
  /** Base LR and WD, and the schedule over them (as for the trainer). */
  lr: number;
  wd: number;
  schedule: Schedule;
  steps: number;
  evalEvery: number;
  /** Record the predicted labels at every evaluation. */
  keepLabels: boolean;
}

/** A run as the trainer runs it: plain SGD + WD, evaluated (and its metrics logged) every evalEvery steps. */
export function runConfig(p: TrainingPreset, r: RunPlan): TrainConfig {
  return resolveConfig({
    ...presetFields(p), evalTrainSubset: 0, lr: r.lr, wd: r.wd, schedule: r.schedule, steps: r.steps, seed: r.seed,
    evalEvery: r.evalEvery, logEvery: r.evalEvery, recordPredictions: r.keepLabels,
  });
}

export const plannedRunsOf = (p: TrainingPreset, runs: RunPlan[]): PlannedRun[] => runs.map((r) => ({ name: r.name, config: runConfig(p, r) }));

/** What one finished run recorded at each evaluation. */
export interface RunTrace {
  name: string;
  steps: number[];
  /** The predicted test labels (runs that kept them). */
  labels: Uint8Array[];
  acc: number[];
  /** |w| of the scale-invariant weights and η/|w|², before the step that ends at each evaluation. */
  wNorm: number[];
  effLr: number[];
  lr: number[];
  wd: number[];
}

export function readRunTrace(ctx: Context, r: Pick<RunPlan, 'name' | 'keepLabels'>): RunTrace {
  const { steps, evals } = runMetrics(ctx, r.name);
  const byStep = new Map(steps.map((s) => [s.step, s]));
  const at = evals.map((e) => {
    const s = byStep.get(e.step);
    if (!s) throw new Error(`${runDir(ctx, r.name)}: no metrics line at evaluation step ${e.step}; run the figure again to redo the run`);
    return s;
  });
  return {
    name: r.name,
    steps: evals.map((e) => e.step),
    labels: r.keepLabels ? readPredictions(runFiles(runDir(ctx, r.name)).predictions).labels : [],
    acc: evals.map((e) => e.test_acc),
    wNorm: at.map((s) => s.si_w_norm),
    effLr: at.map((s) => s.eff_lr),
    lr: at.map((s) => s.lr),
    wd: at.map((s) => s.wd),
  };
}
