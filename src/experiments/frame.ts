/**
 * The experiment frame. Every figure is an Experiment with the same four parts: presets for the
 * three scales, run (skipping work already done, so an interrupted `make reproduce` continues),
 * plot, and check (the claim turned into measured numbers and pass/fail verdicts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { batchesPerEpoch, DatasetName } from '../data';
import type { LauncherChoice } from '../launch/launcher';
import type { FigureSection, Verdict } from '../plot/report';
import type { ExecutionProvider } from '../train/engine';
import type { TrainConfig } from '../train/config';
import { figureOptimizerLabel, withFigureOptimizer } from './runs';

export type Scale = 'smoke' | 'cpu' | 'paper';
export const SCALES: readonly Scale[] = ['smoke', 'cpu', 'paper'];

/** Why a larger λη at cpu scale is faithful (docs/science.md, Scales); quoted in every report. */
export const SCALE_RATIONALE: Record<Scale, string> = {
  smoke: 'smoke: a few steps of every code path, for tests and CI. The phenomena need not show at this scale, and the checks are reported but not expected to pass.',
  cpu:
    'cpu: a smaller network, a subset of Fashion-MNIST and a larger intrinsic LR λη, so that the time to equilibrium, O(1/λη) steps, is a few thousand steps and a figure runs in minutes on two cores. ' +
    'The theory says the dynamics of a scale-invariant net depend on η and λ only through λη (and on time in units of 1/λη), so a larger λη makes the same phenomena happen sooner; this is a change of time scale, not a shortcut. ' +
    'The calibration in docs/science.md keeps λη ≲ 1e-3, where SGD reaches equilibrium, except in the full-batch and toy figures, whose subject is the unstable regime.',
  paper: 'paper: the paper\'s settings (PreResNet-32 on CIFAR-10, batch 128, λ = 5e-4, η = 0.1, its epoch counts), for a GPU or for patience.',
};

/** Each figure's time budget on this 2-core machine: 1 minute at smoke scale, 15 at cpu. */
export const BUDGET_SECONDS: Partial<Record<Scale, number>> = { smoke: 60, cpu: 15 * 60 };

/** Steps per epoch of the paper's CIFAR-10 runs: 50 000 training images at batch 128, the last partial batch dropped. */
export const PAPER_STEPS_PER_EPOCH = batchesPerEpoch(50000, 128);

export interface Context {
  scale: Scale;
  /** This figure's output directory (reports/<id>). */
  dir: string;
  seed: number;
  ep: ExecutionProvider;
  threads: number;
  /** Override of the preset's data set. */
  dataset?: DatasetName;
  dataDir?: string;
  /** Independent training runs at a time in worker processes (the local launcher). */
  jobs: number;
  /** Where the training runs execute (default: here, the local launcher). */
  launcher?: LauncherChoice;
  /** Another optimizer for every training run than the figure's own (`--optimizer`): its checks then are informative only. */
  optimizer?: FigureOptimizer;
  quiet: boolean;
}

/** The optimizer fields of a TrainConfig that `--optimizer` and its companions set on a figure's runs. */
export type FigureOptimizer = Pick<TrainConfig, 'optimizer' | 'momentum' | 'nesterov' | 'betas' | 'adamEps'>;

/** The model and data fields of every training figure's preset. */
export interface TrainingPreset {
  model: string;
  dataset: DatasetName;
  dataDir?: string;
  trainSubset: number | null;
  testSubset: number | null;
  batchSize: number;
  bnEps: number;
  /** Evaluate with BN statistics recomputed on this many train images (config.bnRecompute; default 0: running statistics). */
  bnRecompute?: number;
}

/** The TrainConfig fields a TrainingPreset fixes, to spread into resolveConfig. */
export function presetFields(p: TrainingPreset): Pick<TrainConfig, 'model' | 'bnEps' | 'dataset' | 'dataDir' | 'trainSubset' | 'testSubset' | 'batchSize' | 'bnRecompute'> {
  return { model: p.model, bnEps: p.bnEps, dataset: p.dataset, dataDir: p.dataDir, trainSubset: p.trainSubset, testSubset: p.testSubset, batchSize: p.batchSize, bnRecompute: p.bnRecompute ?? 0 };
}

/** How test accuracy is measured, for a figure's settings. */
export function bnEvaluation(bnRecompute: number | undefined): string {
  return bnRecompute ? `with BN statistics recomputed on ${bnRecompute} train images (update_bn)` : 'with BN running statistics';
}

export interface PlannedRun {
  /** Subdirectory of the figure's directory. */
  name: string;
  config: TrainConfig;
}

export interface Experiment<P = unknown> {
  id: string;
  /** The CLI command, when it cannot be the id (`ilr swa` is the averaging tool). */
  command?: string;
  title: string;
  /** The paper's claim, one or two sentences. */
  claim: string;
  preset(scale: Scale, ctx: Context): P;
  /** The settings shown in the report. */
  settings(p: P): Record<string, string | number>;
  /** The training runs it launches (for --dry-run); experiments that do not train return []. */
  plan(p: P, ctx: Context): PlannedRun[];
  run(p: P, ctx: Context): Promise<void>;
  /** Writes the figures; returns the image files (absolute paths). */
  plot(p: P, ctx: Context): Promise<string[]>;
  check(p: P, ctx: Context): Verdict[];
  /**
   * Why `--optimizer` does not apply, for figures whose runs are not trainer runs with the
   * optimizer as a free choice (the toy, ExpLR, the comparison of optimizers itself).
   */
  optimizerRefusal?: string;
  /** Extra sentences for the report (e.g. predicted time constants, how far a recovery went). */
  notes?(p: P, ctx: Context): string[];
}

export function verdict(figure: string, check: string, passed: boolean, measured: string, expected: string): Verdict {
  return { figure, check, passed, measured, expected };
}

/** Formats a number for a verdict: 3 significant digits, exponent form when small or large. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : Number(x.toPrecision(3)).toString();
}

/** Runs one figure from start to verdicts; `reportDir` is where image paths are made relative to. */
export async function runExperiment(exp: Experiment, ctx: Context, reportDir: string): Promise<FigureSection> {
  refuseOptimizer(exp, ctx);
  fs.mkdirSync(ctx.dir, { recursive: true });
  const p = exp.preset(ctx.scale, ctx);
  const started = Date.now();
  await exp.run(p, ctx);
  const images = await exp.plot(p, ctx);
  const verdicts = exp.check(p, ctx);
  // `--optimizer` naming the figure's own optimizer changes nothing, and the checks stay checks.
  const own = exp.plan(p, ctx);
  const changed = JSON.stringify(withFigureOptimizer(own, ctx)) !== JSON.stringify(own);
  const other = ctx.optimizer && changed ? figureOptimizerLabel(ctx.optimizer) : undefined;
  const section: FigureSection = {
    id: exp.id,
    title: exp.title,
    claim: exp.claim,
    settings: { scale: ctx.scale, ...exp.settings(p), ...(other ? { optimizer: `${other} for every run (--optimizer), instead of the figure's own` } : {}) },
    rationale: SCALE_RATIONALE[ctx.scale],
    images: images.map((f) => path.relative(reportDir, f)),
    verdicts: other ? verdicts.map((v) => ({ ...v, informative: true, expected: `${v.expected} (calibrated for the figure's own optimizer; this run: ${other})` })) : verdicts,
    seconds: (Date.now() - started) / 1000,
    notes: [
      ...(other ? [`Every run of this figure trained with ${other} instead of the figure's own optimizer. Its checks and their thresholds were calibrated for that one (SGD) and are reported as information: they are not pass/fail for ${other}, whose equilibrium can differ (docs/science.md).`] : []),
      ...(exp.notes?.(p, ctx) ?? []),
    ],
  };
  fs.writeFileSync(path.join(ctx.dir, 'section.json'), JSON.stringify(section, null, 2) + '\n');
  return section;
}

/** `--optimizer` on a figure that cannot take it is refused, with the reason. */
export function refuseOptimizer(exp: Experiment, ctx: Pick<Context, 'optimizer'>): void {
  if (ctx.optimizer && exp.optimizerRefusal) throw new Error(`--optimizer does not apply to ${exp.id}: ${exp.optimizerRefusal}`);
}

/** The training runs a figure plans, with `--optimizer` applied: what it runs, and what --dry-run shows and prices. */
export function figurePlan(exp: Experiment, ctx: Context): PlannedRun[] {
  refuseOptimizer(exp, ctx);
  return withFigureOptimizer(exp.plan(exp.preset(ctx.scale, ctx), ctx), ctx);
}

/** The planned runs of a figure, for --dry-run: names, models, steps. */
export function describePlan(exp: Experiment, ctx: Context): string {
  const runs = figurePlan(exp, ctx);
  const lines = [`${exp.id} at ${ctx.scale} scale: ${runs.length} training run(s)`];
  for (const r of runs) {
    const c = r.config;
    const model = `${c.model}${c.widths ? ` (conv widths ${c.widths.join('/')})` : ''}`;
    const data = `${c.dataset}${c.trainSubset ? ` (${c.trainSubset} images)` : ''}${c.pool > 1 ? `, pooled ${c.pool}×${c.pool}` : ''}`;
    lines.push(`  ${r.name}: ${model} on ${data}, batch ${c.batchSize || 'full'}, ` +
      `${c.optimizer}, η ${c.lr}, λ ${c.wd}, β ${c.momentum}, ${c.steps} steps, schedule ${JSON.stringify(c.schedule)}`);
  }
  const settings = exp.settings(exp.preset(ctx.scale, ctx));
  lines.push(`  settings: ${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join(', ')}`);
  return lines.join('\n');
}
