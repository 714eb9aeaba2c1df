/**
 * A one-line progress bar for long loops (downloads, training epochs).
 *
 * On a TTY it redraws one line in place: `label [#####-----] 12.3/45.6 MB  2.1 MB/s  ETA 12.0 s  suffix`.
 * When the stream is not a TTY (logs, CI, a pipe) it prints a plain line at most every
 * `intervalMs`, plus a last one from `done()`, so log files stay readable. `log()` prints a line
 * of its own (an evaluation) above the bar.
 */

import { formatDuration } from './format';

export interface ProgressOptions {
  /** Total count; omit or 0 when unknown (no bar and no ETA are shown then). */
  total?: number;
  /** The count to start from (a resumed run's step, as tqdm's `initial`); the rate counts only what comes after it. */
  initial?: number;
  /** Printed first, e.g. `download train-images-idx3-ubyte.gz` or `epoch 3`. */
  label?: string;
  /** 'bytes' formats counts as kB/MB/GB; otherwise the unit is appended to the count (e.g. 'img'). */
  unit?: string;
  /** Defaults to process.stderr. */
  stream?: ProgressStream;
  /** Overrides the stream's own `isTTY`. */
  tty?: boolean;
  /** Minimum time between lines when not a TTY (default 10 s) or between redraws on a TTY (100 ms). */
  intervalMs?: number;
  /** Prints nothing at all. */
  quiet?: boolean;
  /** Milliseconds clock (default Date.now); tests pass a fake one. */
  clock?: () => number;
}

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressBar {
  private readonly total: number;
  private readonly label: string;
  private readonly unit: string;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly quiet: boolean;
  private readonly clock: () => number;
  private readonly start: number;
  private readonly initial: number;
  private count: number;
  private suffix = '';
  private lastDraw = 0;
  private finished = false;

  constructor(opts: ProgressOptions = {}) {
    this.total = opts.total ?? 0;
    this.initial = opts.initial ?? 0;
    this.count = this.initial;
    this.label = opts.label ?? '';
    this.unit = opts.unit ?? '';
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? !!this.stream.isTTY;
    this.intervalMs = opts.intervalMs ?? (this.tty ? 100 : 10_000);
    this.quiet = opts.quiet ?? false;
    this.clock = opts.clock ?? Date.now;
    this.start = this.clock();
  }

  /** Sets the absolute count (e.g. bytes received so far) and optionally the suffix text. */
  update(count: number, suffix?: string): void {
    this.count = count;
    if (suffix !== undefined) this.suffix = suffix;
    const now = this.clock();
    if (now - this.lastDraw >= this.intervalMs) {
      this.lastDraw = now;
      this.draw(false);
    }
  }

  /** Adds `n` to the count. */
  tick(n = 1, suffix?: string): void {
    this.update(this.count + n, suffix);
  }

  /** Prints `text` on a line of its own, and the bar again below it. */
  log(text: string): void {
    if (this.quiet) return;
    if (!this.tty) {
      this.stream.write(text + '\n');
      return;
    }
    this.stream.write(`\r\x1b[K${text}\n`);
    if (!this.finished) this.draw(false);
  }

  /** Draws the final state and ends the line. Safe to call twice. */
  done(suffix?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (suffix !== undefined) this.suffix = suffix;
    this.draw(true);
  }

  /** The text of the line as it would be drawn now (without control characters). */
  line(width = 100): string {
    const elapsed = (this.clock() - this.start) / 1000;
    const rate = elapsed > 0 ? (this.count - this.initial) / elapsed : 0;
    const parts: string[] = [];
    if (this.label) parts.push(this.label);
    const countText = this.total > 0
      ? `${this.fmt(this.count)}/${this.fmt(this.total)}`
      : this.fmt(this.count);
    parts.push(countText + (this.unit && this.unit !== 'bytes' ? ` ${this.unit}` : ''));
    if (rate > 0) parts.push(`${this.fmt(rate)}${this.unit === 'bytes' ? '' : ` ${this.unit || 'it'}`}/s`);
    if (this.total > 0 && rate > 0 && this.count < this.total) {
      parts.push(`ETA ${formatDuration((this.total - this.count) / rate)}`);
    } else if (this.finished || this.count >= this.total) {
      parts.push(`in ${formatDuration(elapsed)}`);
    }
    if (this.suffix) parts.push(this.suffix);
    let text = parts.join('  ');
    if (this.total > 0 && this.tty) {
      // The bar takes what is left of the line, between 10 and 30 characters.
      const room = Math.min(30, width - text.length - 4);
      if (room >= 10) {
        const filled = Math.round(room * Math.min(1, this.count / this.total));
        const bar = `[${'#'.repeat(filled)}${'-'.repeat(room - filled)}]`;
        const first = this.label ? parts[0].length : 0;
        text = this.label ? `${text.slice(0, first)} ${bar} ${text.slice(first + 2)}` : `${bar} ${text}`;
      }
    }
    return text.length > width ? text.slice(0, width - 1) + '…' : text;
  }

  private fmt(x: number): string {
    return this.unit === 'bytes' ? formatBytes(x) : formatCount(x);
  }

  private draw(final: boolean): void {
    if (this.quiet) return;
    if (this.tty) {
      // Some terminals (and pseudo-terminals under CI) report 0 columns: that means unknown.
      const columns = this.stream.columns || 100;
      const width = Math.max(40, columns - 1);
      this.stream.write(`\r${this.line(width)}\x1b[K${final ? '\n' : ''}`);
    } else {
      this.stream.write(this.line(200) + '\n');
    }
  }
}

/**
 * Whether to colour text written to `stream`: only on a terminal, and never when NO_COLOR is set
 * to anything but the empty string (no-color.org) or the terminal is "dumb".
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!stream.isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** Redraws `bar` every `everyMs` from `poll()` (the count and a suffix), until the returned stop function is called. */
export function pollProgress(bar: ProgressBar, poll: () => { count: number; suffix?: string }, everyMs = 1000): () => void {
  const redraw = () => {
    const p = poll();
    bar.update(p.count, p.suffix);
  };
  const timer = setInterval(redraw, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    const p = poll();
    bar.update(p.count);
    bar.done(p.suffix);
  };
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

function formatCount(n: number): string {
  return Number.isInteger(n) ? String(n) : n < 10 ? n.toFixed(2) : n.toFixed(1);
}
