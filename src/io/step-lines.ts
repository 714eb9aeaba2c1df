/**
 * The append-only JSONL logs of a run (metrics.jsonl, predictions.jsonl, channels.jsonl): one
 * record per line, each with the step it belongs to. A resumed run first cuts what was written
 * after its checkpoint, so the log of an interrupted run ends up as an uninterrupted one's.
 */
import * as fs from 'fs';
import { appendLine, writeFileAtomic } from './files';

export class StepLines<R extends { step: number }> {
  constructor(readonly file: string) {}

  append(r: R): void {
    appendLine(this.file, JSON.stringify(r));
  }

  /** The records in step order; a last line without its newline (being written, or cut by a crash) is left out. */
  read(): R[] {
    const lines = fs.readFileSync(this.file, 'utf8').split('\n');
    lines.pop(); // empty after the last newline, or a line still being written
    return lines.filter((l) => l.trim()).map((l) => JSON.parse(l) as R);
  }

  /**
   * Keeps the records of steps < `step`, and those at `step` that `keepAtStep` accepts (all by
   * default); a line cut by a crash goes. The rewrite is atomic: a kill during it leaves the old
   * log, which the next resume cuts again.
   */
  truncateAfter(step: number, keepAtStep: (r: R) => boolean = () => true): void {
    if (!fs.existsSync(this.file)) return;
    const kept = fs.readFileSync(this.file, 'utf8').split('\n').filter((line) => {
      if (!line.trim()) return false;
      try {
        const r = JSON.parse(line) as R;
        return r.step < step || (r.step === step && keepAtStep(r));
      } catch {
        return false; // a line cut by a crash
      }
    });
    writeFileAtomic(this.file, kept.map((l) => l + '\n').join(''));
  }
}
