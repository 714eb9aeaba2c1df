/**
 * predictions.jsonl: the predicted label of every test image at each evaluation of a run
 * (config.recordPredictions), one line per evaluation, labels as base64 of one byte per image.
 * The fast-equilibrium figure compares the distribution of these labels over many runs.
 */
import * as fs from 'fs';
import { StepLines } from '../io/step-lines';
import type { AtStep } from './metrics';

export interface PredictionRecord {
  step: number;
  /** base64 of one byte per evaluated image, in the test set's order. */
  labels: string;
}

export class PredictionLog {
  private readonly lines: StepLines<PredictionRecord>;

  constructor(readonly file: string) {
    this.lines = new StepLines(file);
  }

  append(step: number, labels: Uint8Array): void {
    this.lines.append({ step, labels: Buffer.from(labels).toString('base64') });
  }

  /** Keeps the evaluations of steps < `step` (the checkpoint a run resumes from), and that at `step` if `atStep.evaluation`. */
  truncateAfter(step: number, atStep: Pick<AtStep, 'evaluation'>): void {
    this.lines.truncateAfter(step, () => atStep.evaluation); // every line is an evaluation
  }
}

/** The predicted labels of a run by evaluation step (complete lines only: the run may still be writing). */
export function readPredictions(file: string): { steps: number[]; labels: Uint8Array[] } {
  if (!fs.existsSync(file)) throw new Error(`${file}: no predictions; was the run trained with recordPredictions?`);
  const records = new StepLines<PredictionRecord>(file).read();
  return { steps: records.map((r) => r.step), labels: records.map((r) => new Uint8Array(Buffer.from(r.labels, 'base64'))) };
}
