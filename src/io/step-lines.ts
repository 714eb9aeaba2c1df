/**
 * The append-only JSONL logs of a run (metrics.jsonl, predictions.jsonl, channels.jsonl): one
 * record per line, each with the step it belongs to. A resumed run first cuts what was written
 * after its checkpoint, so the log of an interrupted run ends up as an uninterrupted one's.
 *
 * Every reader of these logs reads through here. A last line without its newline (a run still
 * writing it, or cut by a crash) is not a record yet and is left out; a line before it that does
 * not parse was damaged otherwise, and is an error naming the file and the line.
 */
import * as fs from 'fs';
import { appendLine, writeFileAtomic } from './files';

export class StepLines<R extends { step: number }> {
  constructor(readonly file: string) {}

  append(r: R): void {
    appendLine(this.file, JSON.stringify(r));
  }

  /** The records in step order, complete lines only. */
  read(): R[] {
    return this.lines().map((l) => l.record);
  }

  /**
   * The last complete record, read from the end of the file (a log follower's or a status line's
   * question, asked often of long logs); none when the file is missing or has none yet.
   */
  last(): R | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return undefined;
    }
    try {
      const size = fs.fstatSync(fd).size;
      const tail = Buffer.alloc(Math.min(size, 64 * 1024));
      fs.readSync(fd, tail, 0, tail.length, size - tail.length);
      const lines = tail.toString('utf8').split('\n');
      lines.pop(); // empty after the last newline, or a line still being written
      for (let i = lines.length - 1; i >= 0; i--) {
        try {
          return JSON.parse(lines[i]) as R;
        } catch {
          // the first line of the tail may start mid-record
        }
      }
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Keeps the records of steps < `step`, and those at `step` that `keepAtStep` accepts (all by
   * default); a line cut by a crash goes. The rewrite is atomic: a kill during it leaves the old
   * log, which the next resume cuts again.
   */
  truncateAfter(step: number, keepAtStep: (r: R) => boolean = () => true): void {
    if (!fs.existsSync(this.file)) return;
    const kept = this.lines().filter(({ record: r }) => r.step < step || (r.step === step && keepAtStep(r)));
    writeFileAtomic(this.file, kept.map((l) => l.text + '\n').join(''));
  }

  /** Each complete line, as written and parsed. */
  private lines(): { text: string; record: R }[] {
    const lines = fs.readFileSync(this.file, 'utf8').split('\n');
    lines.pop(); // empty after the last newline, or a line still being written
    return lines.flatMap((text, i) => {
      if (!text.trim()) return [];
      try {
        return [{ text, record: JSON.parse(text) as R }];
      } catch (e) {
        throw new Error(`${this.file}, line ${i + 1} is not a JSON record (${(e as Error).message}); the log is damaged: delete that line, or the lines from it on`);
      }
    });
  }
}
