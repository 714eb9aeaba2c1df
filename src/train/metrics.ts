/**
 * What the loop reports, computed from the per-tensor statistics the train-step program returns
 * (|w|², |g|², ⟨w,g⟩, |Δw|², ⟨w,Δw⟩ per trainable tensor; see programs/update.ts), and the
 * metrics.jsonl log that holds them.
 */
import * as fs from 'fs';
import { StepLines } from '../io/step-lines';
import { EventWriter } from '../io/tensorboard';
import type { Equilibrium } from '../programs/optimizers';
import { STAT_COLUMNS } from '../programs/update';

export interface NormStats {
  w2: number;
  g2: number;
  wg: number;
  dw2: number;
  wdw: number;
}

export function sumStats(stats: ArrayLike<number>, rows: readonly number[]): NormStats {
  const s = { w2: 0, g2: 0, wg: 0, dw2: 0, wdw: 0 };
  const k = STAT_COLUMNS.length;
  for (const r of rows) {
    s.w2 += stats[r * k];
    s.g2 += stats[r * k + 1];
    s.wg += stats[r * k + 2];
    s.dw2 += stats[r * k + 3];
    s.wdw += stats[r * k + 4];
  }
  return s;
}

/**
 * The angle between w and w + Δw, from |w|², ⟨w,Δw⟩ and |Δw|² without forming w + Δw: split Δw
 * into its parts along and across w; tan θ = |Δw⊥| / (|w| + Δw∥). Stable for tiny angles, where
 * 1 − cos θ would cancel.
 */
export function angularUpdate(s: Pick<NormStats, 'w2' | 'dw2' | 'wdw'>): number {
  const w = Math.sqrt(s.w2);
  const along = s.wdw / w;
  const across = Math.sqrt(Math.max(s.dw2 - along * along, 0));
  return Math.atan2(across, w + along);
}

export interface StepRecord {
  type: 'step';
  step: number;
  epoch: number;
  lr: number;
  wd: number;
  /** λ·η, the intrinsic LR. */
  lambda_eta: number;
  loss: number;
  /** Mean training loss since the previous record. */
  loss_avg: number;
  acc: number;
  w_norm: number;
  g_norm: number;
  /** |w| of the scale-invariant set (the weights that feed a normalization layer). */
  si_w_norm: number;
  /** η/|w|² of the scale-invariant set, with |w| before the step. */
  eff_lr: number;
  /** Angle (radians) between the scale-invariant set before and after this step. */
  angular_update: number;
  cos_wg: number;
  /** Per trainable tensor, by parameter name (every `layerEvery` steps). */
  layers?: Record<string, LayerRecord>;
}

/** One trainable tensor's norms in one step. */
export interface LayerNorms {
  w_norm: number;
  g_norm: number;
  /** Angle (radians) between the tensor before and after the step. */
  angular_update: number;
  /** η/|w|², with |w| before the step. */
  eff_lr: number;
}

export interface LayerRecord extends LayerNorms {
  /** For a tensor that is scale-invariant alone: its rotational equilibrium under the run's optimizer, where the theory gives one. */
  predicted_angular_update?: number;
  equilibrium_norm?: number;
}

/** The norms of a set of tensors (rows of the program's stats): the one definition every record uses. */
export function setNorms(stats: ArrayLike<number>, rows: readonly number[], lr: number) {
  const s = sumStats(stats, rows);
  return {
    w_norm: Math.sqrt(s.w2),
    g_norm: Math.sqrt(s.g2),
    eff_lr: lr / s.w2,
    angular_update: angularUpdate(s),
    cos_wg: s.wg / Math.sqrt(s.w2 * s.g2),
  };
}

/** What a step record says of the run's state: the fields of StepRecord the loop does not know by itself. */
export interface StepContext {
  step: number;
  epoch: number;
  lr: number;
  wd: number;
  loss: number;
  /** Loss summed over the steps since the previous record, and their count. */
  window: { loss: number; count: number };
  acc: number;
}

/**
 * The metrics line of a step, from the program's stats and the trainable tensors (in stats row
 * order); the scale-invariant set is the tensors marked `scaleInvariant`. With `layers`, each
 * tensor's own norms by name.
 */
export function stepRecord(
  stats: ArrayLike<number>,
  tensors: readonly { name: string; scaleInvariant: boolean }[],
  s: StepContext,
  layers = false,
  equilibrium?: (tensor: number) => Equilibrium | undefined,
): StepRecord {
  const all = setNorms(stats, tensors.map((_, i) => i), s.lr);
  const si = setNorms(stats, tensors.flatMap((t, i) => (t.scaleInvariant ? [i] : [])), s.lr);
  const record: StepRecord = {
    type: 'step',
    step: s.step,
    epoch: s.epoch,
    lr: s.lr,
    wd: s.wd,
    lambda_eta: s.lr * s.wd,
    loss: s.loss,
    loss_avg: s.window.loss / s.window.count,
    acc: s.acc,
    w_norm: all.w_norm,
    g_norm: all.g_norm,
    si_w_norm: si.w_norm,
    eff_lr: si.eff_lr,
    angular_update: si.angular_update,
    cos_wg: si.cos_wg,
  };
  if (layers) {
    record.layers = Object.fromEntries(tensors.map((t, i) => {
      const n = setNorms(stats, [i], s.lr);
      const layer: LayerRecord = { w_norm: n.w_norm, g_norm: n.g_norm, angular_update: n.angular_update, eff_lr: n.eff_lr };
      const e = equilibrium?.(i);
      if (e) Object.assign(layer, { predicted_angular_update: e.angularUpdate }, e.norm !== undefined ? { equilibrium_norm: e.norm } : {});
      return [t.name, layer];
    }));
  }
  return record;
}

export interface EvalRecord {
  type: 'eval';
  step: number;
  epoch: number;
  test_loss: number;
  test_acc: number;
  train_loss?: number;
  train_acc?: number;
}

export type MetricsRecord = StepRecord | EvalRecord | { type: 'diverged'; step: number; epoch: number; message: string };

/** Another place the records go as they are logged (TensorBoard event files). */
export interface MetricsSink {
  append(r: MetricsRecord): void;
  /** The run resumes from `step`: drop what came after it; `kept` are the records up to it. */
  resumeAt(step: number, kept: readonly MetricsRecord[]): void;
}

/** Which records at the step a run resumes from stay in its log: those the run had written before its checkpoint there. */
export interface AtStep {
  step: boolean;
  evaluation: boolean;
}

/** Append-only JSONL (StepLines), copied to the sinks. A resumed run first cuts the lines written after its checkpoint. */
export class MetricsLog {
  private readonly lines: StepLines<MetricsRecord>;

  constructor(readonly file: string, private readonly sinks: readonly MetricsSink[] = []) {
    this.lines = new StepLines(file);
  }

  append(r: MetricsRecord): void {
    this.lines.append(r);
    for (const s of this.sinks) s.append(r);
  }

  /** Cuts the log and every sink back to `step`, where a run resumes (see truncateAfter). */
  resumeAt(step: number, atStep: AtStep): void {
    this.truncateAfter(step, atStep);
    if (this.sinks.length === 0) return;
    const kept = fs.existsSync(this.file) ? this.lines.read() : [];
    for (const s of this.sinks) s.resumeAt(step, kept);
  }

  /** Keeps the records of steps < `step` (the checkpoint a run resumes from), and those at `step` of the kinds `atStep` keeps. */
  truncateAfter(step: number, atStep: AtStep = { step: true, evaluation: true }): void {
    this.lines.truncateAfter(step, (r) => (r.type === 'step' ? atStep.step : r.type === 'eval' ? atStep.evaluation : true));
  }
}

/** The step of the last complete record in `file` (0 when there is none yet). */
export const lastLoggedStep = (file: string): number => lastRecord(file)?.step ?? 0;

/** The last complete record in `file` (a line cut by a crash, or still being written, is skipped). */
export const lastRecord = (file: string): MetricsRecord | undefined => new StepLines<MetricsRecord>(file).last();

/** The records of a run's metrics.jsonl, complete lines only (the run may still be writing it). */
export function readMetrics(file: string): MetricsRecord[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: no metrics; has the run started?`);
  return new StepLines<MetricsRecord>(file).read();
}

/** Where each step record's field goes in TensorBoard: its group, then the field name. */
const STEP_TAGS = {
  loss: 'train/loss', loss_avg: 'train/loss_avg', acc: 'train/acc',
  lr: 'schedule/lr', wd: 'schedule/wd', lambda_eta: 'schedule/lambda_eta',
  w_norm: 'norm/w_norm', g_norm: 'norm/g_norm', si_w_norm: 'norm/si_w_norm', eff_lr: 'norm/eff_lr',
  angular_update: 'norm/angular_update', cos_wg: 'norm/cos_wg', epoch: 'epoch',
} satisfies Partial<Record<keyof StepRecord, string>>;

const EVAL_TAGS = { test_loss: 'test/loss', test_acc: 'test/acc', train_loss: 'eval_train/loss', train_acc: 'eval_train/acc' } satisfies Partial<Record<keyof EvalRecord, string>>;


/** The TensorBoard scalars of a record; `predict` gives the run's optimizer's equilibrium angular update at (η, λ), where there is one. */
export function tensorBoardScalars(r: MetricsRecord, predict: (lr: number, wd: number) => number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (r.type === 'step') {
    for (const [key, tag] of Object.entries(STEP_TAGS)) out[tag] = r[key as keyof typeof STEP_TAGS];
    const predicted = predict(r.lr, r.wd);
    if (predicted !== undefined) out['norm/angular_update_predicted'] = predicted;
    // Per layer, grouped by quantity: `layer_w_norm/conv1.weight`.
    for (const [name, layer] of Object.entries(r.layers ?? {})) for (const [key, v] of Object.entries(layer)) out[`layer_${key}/${name}`] = v;
  } else if (r.type === 'eval') {
    for (const [key, tag] of Object.entries(EVAL_TAGS)) {
      const v = r[key as keyof typeof EVAL_TAGS];
      if (v !== undefined) out[tag] = v;
    }
  }
  return out;
}

/** Writes the records as TensorBoard scalars to an event file in the run directory. */
export class TensorBoardSink implements MetricsSink {
  private readonly writer: EventWriter;

  constructor(runDir: string, private readonly predict: (lr: number, wd: number) => number | undefined) {
    this.writer = new EventWriter(runDir);
  }

  append(r: MetricsRecord): void {
    const scalars = tensorBoardScalars(r, this.predict);
    if (Object.keys(scalars).length > 0) this.writer.scalars(r.step, scalars);
  }

  /**
   * A new event file (the run predates them, or it was deleted) gets the records so far. An old
   * one is cut before `step` and given the kept records of `step` itself, so it drops what the log
   * dropped there too (an evaluation that is done again).
   */
  resumeAt(step: number, kept: readonly MetricsRecord[]): void {
    if (!this.writer.created) this.writer.truncateBefore(step);
    for (const r of kept) if (this.writer.created || r.step === step) this.append(r);
  }
}
