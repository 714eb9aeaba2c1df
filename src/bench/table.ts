/** Combining rounds and printing the benchmark table: pure functions, unit-tested in test/bench. */
import { SideResult } from './ours';
import { median } from '../util/stats';

export interface BenchRow {
  model: string;
  input: readonly number[];
  batch: number;
  threads: number;
  ours: SideResult;
  torch?: SideResult;
  /**
   * ours/PyTorch throughput of each round, the two sides measured one right after the other: the
   * machine's speed drifts by more than ±10% over minutes, and each pair sees the same drift.
   */
  speedRounds?: number[];
}

/** Each round's ours/PyTorch throughput ratio, pairing the rounds in the order they ran. */
export function speedRounds(ours: readonly SideResult[], torch: readonly SideResult[]): number[] {
  if (ours.length !== torch.length) throw new Error(`speedRounds: ${ours.length} rounds of ours against ${torch.length} of PyTorch`);
  return ours.map((o, i) => o.images_per_s / torch[i].images_per_s);
}

/** Several rounds of one side: the median of the rounds' median step times, the largest peak RSS. */
export function combineRounds(batch: number, rounds: readonly SideResult[]): SideResult {
  if (!rounds.length) throw new Error('combineRounds: no rounds');
  const ms = median(rounds.map((r) => r.ms_per_step));
  return {
    images_per_s: (batch * 1000) / ms,
    ms_per_step: ms,
    ms_per_step_min: Math.min(...rounds.map((r) => r.ms_per_step_min)),
    ms_per_step_max: Math.max(...rounds.map((r) => r.ms_per_step_max)),
    peak_rss_mb: Math.max(...rounds.map((r) => r.peak_rss_mb)),
    threads: rounds[0].threads,
    ...(rounds[0].device ? { device: rounds[0].device } : {}),
  };
}

/**
 * ours/PyTorch: throughput ratio (≥ 1 means we are at least as fast; the median of the rounds'
 * ratios where they are known) and peak-memory ratio (≤ 1 means we use no more).
 */
export function ratios(row: BenchRow): { speed: number; memory: number } | undefined {
  if (!row.torch) return undefined;
  const speed = row.speedRounds?.length ? median(row.speedRounds) : row.ours.images_per_s / row.torch.images_per_s;
  return { speed, memory: row.ours.peak_rss_mb / row.torch.peak_rss_mb };
}

/** The lowest and highest round's speed ratio, e.g. `0.78–0.86`; '-' for fewer than two rounds. */
function speedRange(row: BenchRow): string {
  const r = row.speedRounds ?? [];
  return r.length < 2 ? '-' : `${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)}`;
}

function render(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatTable(rows: readonly BenchRow[]): string {
  const vs = rows.some((r) => r.torch);
  const header = ['model', 'input', 'batch', 'threads', 'ours img/s', 'ms/step', 'peak MB'];
  if (vs) header.push('torch img/s', 'ms/step', 'peak MB', 'speed ours/torch', 'rounds', 'mem ours/torch');
  const body = rows.map((r) => {
    const cells = [r.model, r.input.join('x'), String(r.batch), String(r.threads), r.ours.images_per_s.toFixed(0), r.ours.ms_per_step.toFixed(1), r.ours.peak_rss_mb.toFixed(0)];
    if (vs) {
      const q = ratios(r);
      cells.push(
        r.torch ? r.torch.images_per_s.toFixed(0) : '-',
        r.torch ? r.torch.ms_per_step.toFixed(1) : '-',
        r.torch ? r.torch.peak_rss_mb.toFixed(0) : '-',
        q ? q.speed.toFixed(2) : '-',
        speedRange(r),
        q ? q.memory.toFixed(2) : '-',
      );
    }
    return cells;
  });
  return render(header, body);
}
