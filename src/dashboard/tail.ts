/**
 * Following a metrics.jsonl as a run writes it: each read takes only the bytes added since the
 * last one, and complete lines only (a line still being written waits for its newline).
 *
 * A run that resumes cuts the file back to its checkpoint and appends again, so the file can
 * shrink, or be replaced, or grow past where we were with other bytes before that point. The
 * reader notices each case — another inode, a smaller size, or other bytes just before its
 * offset than it read there — and reads the file again from the start.
 */
import * as fs from 'fs';
import { EvalRecord, MetricsRecord, StepRecord } from '../train/metrics';

/** Bytes before the offset compared on each read, to tell "appended to" from "rewritten". */
const CHECK = 256;

export interface RunRecords {
  steps: StepRecord[];
  evals: EvalRecord[];
  /** The message of a diverged run. */
  diverged?: string;
}

export class MetricsTail {
  private offset = 0;
  private ino = -1;
  private before = Buffer.alloc(0);
  private records: RunRecords = { steps: [], evals: [] };

  constructor(readonly file: string) {}

  /** The records now in the file, and whether they changed since the last read. */
  read(): { records: RunRecords; changed: boolean } {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      const changed = this.offset > 0;
      this.reset(-1);
      return { records: this.records, changed }; // not started yet, or removed
    }
    try {
      const { ino, size } = fs.fstatSync(fd);
      let changed = false;
      if (ino !== this.ino || size < this.offset || !this.sameBefore(fd)) {
        changed = this.offset > 0;
        this.reset(ino);
      }
      if (size === this.offset) return { records: this.records, changed };
      const added = Buffer.alloc(size - this.offset);
      const got = fs.readSync(fd, added, 0, added.length, this.offset);
      const lastNewline = added.subarray(0, got).lastIndexOf(0x0a);
      if (lastNewline < 0) return { records: this.records, changed };
      const complete = added.subarray(0, lastNewline + 1);
      this.take(complete.toString('utf8'));
      this.offset += complete.length;
      this.before = Buffer.from(this.lastBytes(complete));
      return { records: this.records, changed: true };
    } finally {
      fs.closeSync(fd);
    }
  }

  private reset(ino: number): void {
    this.ino = ino;
    this.offset = 0;
    this.before = Buffer.alloc(0);
    this.records = { steps: [], evals: [] };
  }

  /** The last CHECK bytes read, including those of earlier reads when this one added fewer. */
  private lastBytes(complete: Buffer): Buffer {
    const joined = complete.length >= CHECK ? complete : Buffer.concat([this.before, complete]);
    return joined.subarray(Math.max(0, joined.length - CHECK));
  }

  private sameBefore(fd: number): boolean {
    if (this.before.length === 0) return true;
    const now = Buffer.alloc(this.before.length);
    fs.readSync(fd, now, 0, now.length, this.offset - now.length);
    return now.equals(this.before);
  }

  private take(text: string): void {
    // New arrays, so a caller holding the previous records sees them unchanged.
    const steps = [...this.records.steps];
    const evals = [...this.records.evals];
    let diverged = this.records.diverged;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let r: MetricsRecord;
      try {
        r = JSON.parse(line) as MetricsRecord;
      } catch {
        continue; // a line cut by a crash; a resumed run removes it
      }
      if (r.type === 'step') steps.push(r);
      else if (r.type === 'eval') evals.push(r);
      else if (r.type === 'diverged') diverged = r.message;
    }
    this.records = { steps, evals, ...(diverged !== undefined ? { diverged } : {}) };
  }
}
