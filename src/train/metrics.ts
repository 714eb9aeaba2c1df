/**
 * What the loop reports, computed from the per-tensor statistics the train-step program returns
 * (|w|², |g|², ⟨w,g⟩, |Δw|², ⟨w,Δw⟩ per trainable tensor; see programs/update.ts), and the
 * metrics.jsonl log that holds them.
 */
import * as fs from 'fs';
import { appendLine, writeFileAtomic } from '../io/files';
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
  /** |w| of the scale-invariant set (all conv weights). */
  si_w_norm: number;
  /** η/|w|² of the scale-invariant set. */
  eff_lr: number;
  /** Angle (radians) between the scale-invariant set before and after this step. */
  angular_update: number;
  cos_wg: number;
  layers?: Record<string, [number, number]>;
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

/** Append-only JSONL. A resumed run first cuts the lines written after its checkpoint. */
export class MetricsLog {
  constructor(readonly file: string) {}

  append(r: MetricsRecord): void {
    appendLine(this.file, JSON.stringify(r));
  }

  /**
   * Keeps the records of steps ≤ `step` (the checkpoint a run resumes from), without the
   * evaluations at `step` itself unless `evalsAtStep`. The rewrite is atomic: a kill during it
   * leaves the old log, which the next resume cuts again.
   */
  truncateAfter(step: number, { evalsAtStep = true } = {}): void {
    if (!fs.existsSync(this.file)) return;
    const kept = fs.readFileSync(this.file, 'utf8').split('\n').filter((line) => {
      if (!line.trim()) return false;
      try {
        const r = JSON.parse(line) as MetricsRecord;
        return r.step < step || (r.step === step && (evalsAtStep || r.type !== 'eval'));
      } catch {
        return false; // a line cut by a crash
      }
    });
    writeFileAtomic(this.file, kept.map((l) => l + '\n').join(''));
  }
}

export function readMetrics(file: string): MetricsRecord[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: no metrics; has the run started?`);
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as MetricsRecord);
}
