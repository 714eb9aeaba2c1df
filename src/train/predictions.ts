/**
 * predictions.jsonl: the predicted label of every test image at each evaluation of a run
 * (config.recordPredictions), one line per evaluation, labels as base64 of one byte per image.
 * The fast-equilibrium figure compares the distribution of these labels over many runs.
 */
import * as fs from 'fs';
import { MetricsLog } from './metrics';

export interface PredictionRecord {
  step: number;
  /** base64 of one byte per evaluated image, in the test set's order. */
  labels: string;
}

export class PredictionLog {
  private readonly log: MetricsLog;

  constructor(readonly file: string) {
    this.log = new MetricsLog(file);
  }

  append(step: number, labels: Uint8Array): void {
    fs.appendFileSync(this.file, JSON.stringify({ step, labels: Buffer.from(labels).toString('base64') } satisfies PredictionRecord) + '\n');
  }

  /** Keeps the evaluations of steps ≤ `step` (the checkpoint a run resumes from). */
  truncateAfter(step: number): void {
    this.log.truncateAfter(step);
  }
}

/** The predicted labels of a run by evaluation step. */
export function readPredictions(file: string): { steps: number[]; labels: Uint8Array[] } {
  if (!fs.existsSync(file)) throw new Error(`${file}: no predictions; was the run trained with recordPredictions?`);
  const records = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as PredictionRecord);
  return { steps: records.map((r) => r.step), labels: records.map((r) => new Uint8Array(Buffer.from(r.labels, 'base64'))) };
}
