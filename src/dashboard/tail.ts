/**
 * Following a run's JSONL logs (metrics.jsonl, sharpness.jsonl) as the run writes them: each read
 * takes only the bytes added since the last one, and complete lines only (a line still being
 * written waits for its newline).
 *
 * A run that resumes cuts its logs back to its checkpoint and appends again, so a file can
 * shrink, or be replaced, or grow past where we were with other bytes before that point. The
 * reader notices each case — another inode, a smaller size, or other bytes just before its
 * offset than it read there — and reads the file again from the start.
 */
import * as fs from 'fs';
import type { SharpnessRecord } from '../train/hessian';
import { EvalRecord, MetricsRecord, StepRecord } from '../train/metrics';
import { runFiles } from '../train/run-dir';

/** Bytes before the offset compared on each read, to tell "appended to" from "rewritten". */
const CHECK = 256;

/**
 * One JSONL file followed as it grows, its records folded into a value of type T by `add`, which
 * returns a new value, so a caller holding the previous one sees it unchanged.
 */
export class JsonlTail<T> {
  private offset = 0;
  private ino = -1;
  private before = Buffer.alloc(0);
  private records: T;

  constructor(readonly file: string, private readonly empty: T, private readonly add: (records: T, lines: unknown[]) => T) {
    this.records = empty;
  }

  /** The records now in the file, and whether they changed since the last read. */
  read(): { records: T; changed: boolean } {
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
      this.records = this.add(this.records, parsed(complete.toString('utf8')));
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
    this.records = this.empty;
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
}

/** The records of complete lines; a garbled line (cut by a crash, which a resumed run removes) is skipped. */
function parsed(text: string): unknown[] {
  return text.split('\n').flatMap((line) => {
    if (!line.trim()) return [];
    try {
      return [JSON.parse(line) as unknown];
    } catch {
      return [];
    }
  });
}

export interface RunRecords {
  steps: StepRecord[];
  evals: EvalRecord[];
  /** The message of a diverged run. */
  diverged?: string;
}

function addMetrics(old: RunRecords, lines: unknown[]): RunRecords {
  const steps = [...old.steps];
  const evals = [...old.evals];
  let diverged = old.diverged;
  for (const r of lines as MetricsRecord[]) {
    if (r.type === 'step') steps.push(r);
    else if (r.type === 'eval') evals.push(r);
    else if (r.type === 'diverged') diverged = r.message;
  }
  return { steps, evals, ...(diverged !== undefined ? { diverged } : {}) };
}

/** metrics.jsonl: its step and eval records, and the message of a diverged run. */
export class MetricsTail extends JsonlTail<RunRecords> {
  constructor(file: string) {
    super(file, { steps: [], evals: [] }, addMetrics);
  }
}

/** A run directory's logs, followed together: a change to either is a change of the run. */
export class RunTail {
  private readonly metrics: MetricsTail;
  /** Empty for a run without sharpness.jsonl (trained without --sharpness-every). */
  private readonly sharpness: JsonlTail<SharpnessRecord[]>;

  constructor(readonly dir: string) {
    const files = runFiles(dir);
    this.metrics = new MetricsTail(files.metrics);
    this.sharpness = new JsonlTail<SharpnessRecord[]>(files.sharpness, [], (old, lines) => [...old, ...(lines as SharpnessRecord[])]);
  }

  read(): { records: RunRecords; sharpness: SharpnessRecord[]; changed: boolean } {
    const m = this.metrics.read();
    const s = this.sharpness.read();
    return { records: m.records, sharpness: s.records, changed: m.changed || s.changed };
  }
}
