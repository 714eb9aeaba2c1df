/**
 * The experiment frame. Every figure is an Experiment with the same four parts: presets for the
 * three scales, run (skipping work already done, so an interrupted `make reproduce` continues),
 * plot, and check (the claim turned into measured numbers and pass/fail verdicts).
 */
import { batchesPerEpoch, DatasetName, resolveSyntheticSpec, storedTrainSplit } from '../data';
import type { LauncherChoice } from '../launch/launcher';
import type { Verdict } from '../plot/report';
import type { ExecutionProvider } from '../train/engine';
import type { TrainConfig } from '../train/config';
import { withFigureOverrides } from './runs';

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
  /** Another model for every training run (`--model`: a preset, or path/to/net.onnx): its checks then are informative only. */
  model?: string;
  quiet: boolean;
}

/** The optimizer fields of a TrainConfig that `--optimizer` and its companions set on a figure's runs. */
export type FigureOptimizer = Pick<TrainConfig, 'optimizer' | 'momentum' | 'nesterov' | 'betas' | 'adamEps'>;

/** The model and data fields of every training figure's preset, by their TrainConfig names. */
export interface TrainingPreset {
  /** A model preset (`cnn4-si`, `preresnet32-si`, …). */
  model: string;
  /** For cnn4 presets: other conv widths than the preset's 32/64/128. */
  widths?: [number, number, number];
  /** BatchNorm's ε (default: the model's). */
  bnEps?: number;
  dataset: DatasetName;
  dataDir?: string;
  /** Class-balanced subsets (null: the whole split). */
  trainSubset: number | null;
  testSubset: number | null;
  /** Images are average-pooled by this factor (default 1: as stored; 2: 28×28 → 14×14), to make a step cheaper at cpu scale. */
  pool?: number;
  /** 0: the full batch. */
  batchSize: number;
  /** Evaluate with BN statistics recomputed on this many train images (config.bnRecompute; default 0: running statistics). */
  bnRecompute?: number;
}

/** The TrainConfig fields a TrainingPreset fixes, to spread into resolveConfig: the one way a preset becomes a config. */
export function presetFields(p: TrainingPreset): Pick<TrainConfig, 'model' | 'dataset' | 'trainSubset' | 'testSubset' | 'batchSize' | 'bnRecompute'> & Partial<TrainConfig> {
  // Fields the preset leaves out keep resolveConfig's defaults (a key with the value undefined would override them).
  const optional = Object.fromEntries(Object.entries({ widths: p.widths, bnEps: p.bnEps, dataDir: p.dataDir, pool: p.pool }).filter(([, v]) => v !== undefined));
  return { model: p.model, dataset: p.dataset, trainSubset: p.trainSubset, testSubset: p.testSubset, batchSize: p.batchSize, bnRecompute: p.bnRecompute ?? 0, ...optional, ...syntheticSized(p) };
}

/**
 * A figure on synthetic data (`--dataset synthetic`: 3×32×32 images, for a network that takes
 * them) draws at least as many images as its subsets take; its presets' subsets are sized for the
 * real data sets, larger than the synthetic splits' defaults.
 */
function syntheticSized(p: Pick<TrainingPreset, 'dataset' | 'trainSubset' | 'testSubset'>): Partial<TrainConfig> {
  if (p.dataset !== 'synthetic') return {};
  const d = resolveSyntheticSpec();
  return { synthetic: { trainCount: Math.max(d.trainCount, p.trainSubset ?? 0), testCount: Math.max(d.testCount, p.testSubset ?? 0) } };
}

/** The data set a preset trains on: `--dataset` (from `--data-dir`) when given, else the figure's own at this scale. */
export function presetDataset(ctx: Pick<Context, 'dataset' | 'dataDir'>, own: DatasetName): Pick<TrainingPreset, 'dataset' | 'dataDir'> {
  return { dataset: ctx.dataset ?? own, dataDir: ctx.dataDir };
}

/** The paper's training setup: PreResNet-32 (fully scale-invariant), CIFAR-10 (or `--dataset`) in full, batch 128. */
export function paperTraining(ctx: Pick<Context, 'dataset' | 'dataDir'>): TrainingPreset & { bnEps: number } {
  return { model: 'preresnet32-si', ...presetDataset(ctx, 'cifar10'), trainSubset: null, testSubset: null, batchSize: 128, bnEps: 1e-8 };
}

/** Training steps per epoch of a preset: its training images (the subset, or the whole split) at its batch size, the last partial batch dropped. */
export function stepsPerEpoch(p: Pick<TrainingPreset, 'dataset' | 'trainSubset' | 'batchSize'>): number {
  const images = p.trainSubset ?? storedTrainSplit(p.dataset).count;
  return batchesPerEpoch(images, p.batchSize);
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
  /** Does the work (default: the planned training runs, runPlanned); skips what is done and current, resumes what was interrupted. */
  run?(p: P, ctx: Context): Promise<void>;
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

/** `--optimizer` or `--model` on a figure that cannot take them (its runs are not trainer runs) is refused, with the reason. */
export function refuseOverrides(exp: Experiment, ctx: Pick<Context, 'optimizer' | 'model'>): void {
  const flags = [ctx.model && '--model', ctx.optimizer && '--optimizer'].filter(Boolean).join(' and ');
  if (flags && exp.optimizerRefusal) throw new Error(`${flags} does not apply to ${exp.id}: ${exp.optimizerRefusal}`);
}

/** The training runs a figure plans, with `--optimizer` applied: what it runs, and what --dry-run shows and prices. */
export function figurePlan(exp: Experiment, ctx: Context): PlannedRun[] {
  refuseOverrides(exp, ctx);
  return withFigureOverrides(exp.plan(exp.preset(ctx.scale, ctx), ctx), ctx);
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
      `${c.optimizer}${c.svag > 1 ? ` under SVAG L = ${c.svag}` : ''}, η ${c.lr}, λ ${c.wd}, β ${c.momentum}, ${c.steps} ${c.svag > 1 ? 'units of SDE time' : 'steps'}, schedule ${JSON.stringify(c.schedule)}`);
  }
  const settings = exp.settings(exp.preset(ctx.scale, ctx));
  lines.push(`  settings: ${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join(', ')}`);
  return lines.join('\n');
}
