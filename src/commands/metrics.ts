/**
 * `ilr metrics RUN --csv`: a run's metrics.jsonl as one table for spreadsheets and pandas, a row
 * per logged step with the evaluation of that step (if any) beside it; without `--csv`, the
 * latest values.
 */
import { csvCell } from '../sweep/collect';
import * as path from 'path';
import { CommandModule } from 'yargs';
import * as fs from 'fs';
import { RunRecords, MetricsTail } from '../dashboard/tail';
import { writeFileAtomic } from '../io/files';
import { EvalRecord, StepRecord } from '../train/metrics';

interface Args {
  run: string;
  csv: boolean;
  out?: string;
}

const STEP_COLUMNS = ['step', 'epoch', 'lr', 'wd', 'lambda_eta', 'loss', 'loss_avg', 'acc', 'w_norm', 'g_norm', 'si_w_norm', 'eff_lr', 'angular_update', 'cos_wg'] as const satisfies readonly (keyof StepRecord)[];
const EVAL_COLUMNS = ['test_loss', 'test_acc', 'train_loss', 'train_acc'] as const satisfies readonly (keyof EvalRecord)[];

export interface Table {
  columns: string[];
  rows: (number | undefined)[][];
}

/** Step and eval records joined on the step; per-layer values as `layers.<name>.<value>` columns. */
export function metricsTable(records: RunRecords): Table {
  const byStep = new Map<number, Record<string, number>>();
  const row = (step: number) => byStep.get(step) ?? byStep.set(step, {}).get(step)!;
  const layerColumns = new Set<string>();
  for (const r of records.steps) {
    const out = row(r.step);
    for (const c of STEP_COLUMNS) out[c] = r[c];
    for (const [name, layer] of Object.entries(r.layers ?? {})) {
      for (const [key, v] of Object.entries(layer)) {
        const c = `layers.${name}.${key}`;
        layerColumns.add(c);
        out[c] = v;
      }
    }
  }
  for (const r of records.evals) {
    const out = row(r.step);
    out.step = r.step;
    out.epoch = r.epoch;
    for (const c of EVAL_COLUMNS) if (r[c] !== undefined) out[c] = r[c]!;
  }
  const columns = [...STEP_COLUMNS, ...EVAL_COLUMNS, ...layerColumns];
  const rows = [...byStep.keys()].sort((a, b) => a - b).map((s) => columns.map((c) => byStep.get(s)![c]));
  return { columns, rows };
}

/** RFC 4180 CSV; a missing value is an empty cell, numbers keep every digit (NaN and ±Infinity as pandas reads them). */
export function toCsv(t: Table): string {
  const cell = (v: number | undefined) => (v === undefined ? '' : Number.isNaN(v) ? 'NaN' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v));
  return [t.columns.map(csvCell).join(','), ...t.rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
}

function latest(records: RunRecords): string {
  const step = records.steps[records.steps.length - 1];
  const ev = records.evals[records.evals.length - 1];
  const lines: string[] = [];
  if (step) lines.push(`step ${step.step} (epoch ${step.epoch.toFixed(2)})`, ...STEP_COLUMNS.slice(2).map((c) => `  ${c.padEnd(15)} ${step[c]}`));
  if (ev) lines.push(`evaluation at step ${ev.step}`, ...EVAL_COLUMNS.filter((c) => ev[c] !== undefined).map((c) => `  ${c.padEnd(15)} ${ev[c]}`));
  if (records.diverged) lines.push(records.diverged);
  return lines.length > 0 ? lines.join('\n') : 'no records yet';
}

export const metricsCommand: CommandModule<object, Args> = {
  command: 'metrics <run>',
  describe: "a run's metrics: --csv for a table (a row per logged step, evaluations beside them) for spreadsheets and pandas",
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'a run directory (or its metrics.jsonl)' })
      .option('csv', { type: 'boolean', default: false, describe: 'print the whole log as CSV (default: the latest values)' })
      .option('out', { type: 'string', describe: 'write the CSV to this file instead of stdout' }),
  handler: (a) => {
    const file = a.run.endsWith('.jsonl') ? a.run : path.join(a.run, 'metrics.jsonl');
    if (!fs.existsSync(file)) throw new Error(`${file}: no such file; give a run directory (one holding metrics.jsonl)`);
    // A run still training may be writing its last line: only complete lines are read.
    const { records } = new MetricsTail(file).read();
    if (!a.csv) {
      if (a.out) throw new Error('--out writes the CSV: add --csv');
      console.log(latest(records));
      return;
    }
    const csv = toCsv(metricsTable(records));
    if (a.out) {
      writeFileAtomic(a.out, csv);
      console.log(`wrote ${a.out}`);
    } else {
      process.stdout.write(csv);
    }
  },
};
