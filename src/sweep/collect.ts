/**
 * `ilr sweep collect`: one row per run with its final metrics and its equilibrium ones, the
 * means over the last `window` of its steps (the angular update and |w| arithmetic, the
 * effective LR geometric, as the figures read them), beside the angular update the theory
 * predicts there, √(2ηλ/(1+β)) at the window's end, and whether the window is at equilibrium at
 * all (and why not). Written as results.csv and results.md.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_WINDOW, EquilibriumVerdict, equilibriumVerdict, windowGeoMean, windowMean } from '../analysis/equilibrium';
import { predictedAngle } from '../programs/optimizers';
import { optimizerOf } from '../train/config';
import { fmt } from '../util/format';
import { EvalRecord, readMetrics, StepRecord } from '../train/metrics';
import { runFiles } from '../train/run-dir';
import { readManifest, SweepManifest, sweepRunDir } from './manifest';
import { RunStatus, sweepStatus } from './status';
import { writeFileAtomic } from '../io/files';

export interface SweepRow {
  name: string;
  /** The values the run overrides, by field. */
  point: Record<string, unknown>;
  status: RunStatus;
  steps: number;
  /** η, λ and β at the end of the run (a schedule may have changed η and λ). */
  lr: number;
  wd: number;
  momentum: number;
  lambdaEta: number;
  final: { wNorm: number; effLr: number; angular: number; testAcc: number };
  /** The means over the window, and whether the window is at equilibrium (when it is not, the means are no equilibrium's). */
  equilibrium: { wNorm: number; effLr: number; angular: number; predictedAngular: number; testAcc: number; verdict: EquilibriumVerdict };
  /** The step records, for the plots. */
  records: StepRecord[];
}

function rowOf(dir: string, run: SweepManifest['runs'][number], status: RunStatus, window: number): SweepRow | undefined {
  const file = runFiles(sweepRunDir(dir, run.name)).metrics;
  if (!fs.existsSync(file)) return undefined;
  const records = readMetrics(file);
  const steps = records.filter((r): r is StepRecord => r.type === 'step');
  const evals = records.filter((r): r is EvalRecord => r.type === 'eval');
  const last = steps.at(-1);
  if (!last) return undefined;
  const [from, to] = [last.step * (1 - window), last.step];
  const x = steps.map((r) => r.step);
  const inWindow = evals.filter((e) => e.step > from && e.step <= to);
  const testAcc = inWindow.length > 0 ? inWindow.reduce((s, e) => s + e.test_acc, 0) / inWindow.length : (evals.at(-1)?.test_acc ?? NaN);
  return {
    name: run.name,
    point: run.overrides,
    status,
    steps: last.step,
    lr: last.lr,
    wd: last.wd,
    momentum: run.config.momentum,
    lambdaEta: Number((last.lr * last.wd).toPrecision(6)),
    final: { wNorm: last.si_w_norm, effLr: last.eff_lr, angular: last.angular_update, testAcc: evals.at(-1)?.test_acc ?? NaN },
    equilibrium: {
      wNorm: windowMean(x, steps.map((r) => r.si_w_norm), from, to),
      effLr: windowGeoMean(x, steps.map((r) => r.eff_lr), from, to),
      angular: windowMean(x, steps.map((r) => r.angular_update), from, to),
      predictedAngular: predictedAngle(optimizerOf(run.config), last.lr, last.wd) ?? NaN,
      testAcc,
      verdict: equilibriumVerdict(steps, from, to),
    },
    records: steps,
  };
}

/** The rows of every run that has written metrics (unfinished ones too, marked by their status). */
export function collectSweep(dir: string, window = DEFAULT_WINDOW): SweepRow[] {
  if (!(window > 0 && window <= 1)) throw new Error(`--window ${window}: expected a fraction of the run in (0, 1]`);
  const m = readManifest(dir);
  const status = new Map(sweepStatus(dir).map((s) => [s.name, s.status]));
  return m.runs.flatMap((r) => rowOf(dir, r, status.get(r.name)!, window) ?? []);
}

const COLUMNS: [string, (r: SweepRow) => number | string][] = [
  ['status', (r) => r.status],
  ['steps', (r) => r.steps],
  ['lr', (r) => r.lr],
  ['wd', (r) => r.wd],
  ['lambda_eta', (r) => r.lambdaEta],
  ['momentum', (r) => r.momentum],
  ['final_w_norm', (r) => r.final.wNorm],
  ['final_eff_lr', (r) => r.final.effLr],
  ['final_angular_update', (r) => r.final.angular],
  ['final_test_acc', (r) => r.final.testAcc],
  ['at_equilibrium', (r) => (r.equilibrium.verdict.atEquilibrium ? 'yes' : 'no')],
  ['equilibrium_reason', (r) => r.equilibrium.verdict.reason],
  ['eq_w_norm', (r) => r.equilibrium.wNorm],
  ['eq_eff_lr', (r) => r.equilibrium.effLr],
  ['eq_angular_update', (r) => r.equilibrium.angular],
  ['predicted_angular_update', (r) => r.equilibrium.predictedAngular],
  ['eq_angular_over_predicted', (r) => r.equilibrium.angular / r.equilibrium.predictedAngular],
  ['eq_test_acc', (r) => r.equilibrium.testAcc],
];

/** The table's header and cells: the run, the swept values, then COLUMNS. */
function cells(rows: readonly SweepRow[], format: (v: number) => string): string[][] {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.point)))];
  const value = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v) ?? '');
  return [
    ['run', ...keys, ...COLUMNS.map(([h]) => h)],
    ...rows.map((r) => [r.name, ...keys.map((k) => value(r.point[k])), ...COLUMNS.map(([, f]) => f(r)).map((v) => (typeof v === 'number' ? format(v) : v))]),
  ];
}

/** One CSV cell, quoted where it holds a comma, a quote or a newline. */
export const csvCell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function writeSweepTable(dir: string, rows: readonly SweepRow[]): { csv: string; md: string } {
  const out = { csv: path.join(dir, 'results.csv'), md: path.join(dir, 'results.md') };
  const csv = cells(rows, (v) => String(v)).map((line) => line.map(csvCell).join(',')).join('\n') + '\n';
  const [head, ...body] = cells(rows, fmt);
  // A "|" inside a cell (|w| in a reason) would end the cell.
  const md = [head, head.map(() => '---'), ...body].map((line) => `| ${line.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`).join('\n') + '\n';
  writeFileAtomic(out.csv, csv);
  writeFileAtomic(out.md, md);
  return out;
}

/** A short text table for the terminal. */
export function formatSweepTable(rows: readonly SweepRow[]): string {
  const table = [
    ['run', 'status', 'λη', 'at equilibrium', '|w|', 'η/|w|²', 'angular', '÷ √(2ηλ/(1+β))', 'test acc'],
    ...rows.map((r) => [r.name, r.status, fmt(r.lambdaEta), r.equilibrium.verdict.atEquilibrium ? 'yes' : 'no', fmt(r.equilibrium.wNorm), fmt(r.equilibrium.effLr), fmt(r.equilibrium.angular), fmt(r.equilibrium.angular / r.equilibrium.predictedAngular), `${fmt(100 * r.equilibrium.testAcc)}%`]),
  ];
  const widths = table[0].map((_, j) => Math.max(...table.map((row) => [...row[j]].length)));
  const lines = table.map((row) => row.map((c, j) => c + ' '.repeat(widths[j] - [...c].length)).join('  ').trimEnd());
  const not = rows.filter((r) => !r.equilibrium.verdict.atEquilibrium);
  // The table's means of such runs are no equilibrium's: say why, run by run.
  return [...lines, ...(not.length > 0 ? ['', `not at equilibrium (${not.length} of ${rows.length}; kept out of the collapse's lines):`, ...not.map((r) => `  ${r.name}: ${r.equilibrium.verdict.reason}`)] : [])].join('\n');
}
