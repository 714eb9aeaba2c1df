/**
 * The sweep's figures. `collapse`: the equilibrium angular update, effective LR and test
 * accuracy of each run against λη, one line per η through its λη values (seeds averaged), and
 * the predicted angular update √(2λη/(1+β)) dashed. For a scale-invariant net the runs of
 * equal λη land on one point whatever their η: the intrinsic-LR view of any sweep. Only runs
 * whose window is at equilibrium (analysis/equilibrium.ts) make the lines; the others are grey
 * hollow dots, named as such, since their means are no equilibrium's.
 * `trajectories`: the angular update and the effective LR of each run against λη·step.
 */
import * as path from 'path';
import { blockMeans } from '../analysis/equilibrium';
import { ChartSpec, Series, writeChart } from '../plot/chart';
import type { SweepRow } from './collect';

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function groupBy<T>(xs: readonly T[], key: (x: T) => string | number): Map<string | number, T[]> {
  const m = new Map<string | number, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

/** One series per η: the seed means at each λη, in order of λη. */
function perEta(rows: readonly SweepRow[], y: (r: SweepRow) => number): Series[] {
  return [...groupBy(rows, (r) => r.lr).entries()].map(([lr, runs]) => {
    const points = [...groupBy(runs, (r) => r.lambdaEta).entries()].map(([le, rs]) => [le as number, mean(rs.map(y))]).sort((a, b) => a[0] - b[0]);
    return { name: `η ${lr}`, x: points.map((p) => p[0]), y: points.map((p) => p[1]), points: true };
  });
}

function predicted(rows: readonly SweepRow[]): Series[] {
  const les = rows.map((r) => r.lambdaEta);
  const [lo, hi] = [Math.min(...les) / 1.25, Math.max(...les) * 1.25];
  return [...new Set(rows.map((r) => r.momentum))].map((beta) => ({
    name: `√(2λη/(1+β)), β = ${beta}`,
    x: [lo, hi],
    y: [lo, hi].map((le) => Math.sqrt((2 * le) / (1 + beta))),
    dashed: true,
    color: '#000000',
  }));
}

/** The runs not at equilibrium, one grey dot each (seeds not averaged), joined by no line. */
function notAtEquilibrium(rows: readonly SweepRow[], y: (r: SweepRow) => number): Series[] {
  return rows.length === 0 ? [] : [{ name: `not at equilibrium (${rows.length} runs, kept out of the lines)`, x: rows.map((r) => r.lambdaEta), y: rows.map(y), scatter: true, color: '#999999' }];
}

/** The collapse's panels: the lines through the runs at equilibrium, the other runs as loose dots. */
export function collapsePanels(rows: readonly SweepRow[]): ChartSpec[] {
  const xLabel = 'λη (at the end of the run)';
  const at = rows.filter((r) => r.equilibrium.verdict.atEquilibrium);
  const not = rows.filter((r) => !r.equilibrium.verdict.atEquilibrium);
  const series = (y: (r: SweepRow) => number) => [...perEta(at, y), ...notAtEquilibrium(not, y)];
  return [
    { title: 'equilibrium angular update', xLabel, yLabel: 'radians per step (log)', logX: true, logY: true, series: [...series((r) => r.equilibrium.angular), ...predicted(rows)] },
    { title: 'equilibrium effective LR', xLabel, yLabel: 'η/|w|² (log)', logX: true, logY: true, series: series((r) => r.equilibrium.effLr) },
    { title: 'test accuracy over the window', xLabel, yLabel: 'accuracy', logX: true, series: series((r) => r.equilibrium.testAcc) },
  ];
}

export async function plotSweep(dir: string, rows: readonly SweepRow[], title: string): Promise<string[]> {
  const collapse = collapsePanels(rows);
  const time = (r: SweepRow, steps: number[]) => steps.map((s) => s * r.lambdaEta);
  const smooth = (r: SweepRow, y: (s: SweepRow['records'][number]) => number) => {
    const b = blockMeans(r.records.map((s) => s.step), r.records.map(y), Math.max(1, r.steps / 40));
    return { x: time(r, b.x), y: b.y };
  };
  const trajectories: ChartSpec[] = [
    { title: 'angular update (block means)', xLabel: 'λη · step', yLabel: 'radians per step (log)', logY: true, series: rows.map((r) => ({ name: r.name, ...smooth(r, (s) => s.angular_update) })) },
    { title: 'effective LR', xLabel: 'λη · step', yLabel: 'η/|w|² (log)', logY: true, series: rows.map((r) => ({ name: r.name, x: time(r, r.records.map((s) => s.step)), y: r.records.map((s) => s.eff_lr) })) },
  ];
  const atEquilibrium = rows.filter((r) => r.equilibrium.verdict.atEquilibrium).length;
  const a = await writeChart({ title: `${title}: the λη collapse (${atEquilibrium} of ${rows.length} runs at equilibrium)`, panels: collapse, columns: 3 }, path.join(dir, 'collapse'));
  const b = await writeChart({ title: `${title}: each run over time`, panels: trajectories, columns: 2 }, path.join(dir, 'trajectories'));
  return [a.png, b.png];
}
