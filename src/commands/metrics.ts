/**
 * `ilr metrics RUN --csv`: a run's metrics.jsonl as one table for spreadsheets and pandas, a row
 * per logged step with the evaluation of that step (if any) beside it; without `--csv`, the
 * latest values. With `--channels`, channels.jsonl instead (the per-output-channel angular
 * updates of `--channel-every`): a row per step, layer and channel. With `--sharpness`,
 * sharpness.jsonl (`--sharpness-every`): λ_max, η·λ_max and |w|²·λ_max, a row per measurement.
 */
import { csvCell } from '../sweep/collect';
import * as path from 'path';
import { CommandModule } from 'yargs';
import * as fs from 'fs';
import { RunRecords, MetricsTail } from '../dashboard/tail';
import { writeFileAtomic } from '../io/files';
import { ChannelRecord, readChannels } from '../train/channels';
import { readSharpness, SharpnessRecord } from '../train/hessian';
import { EvalRecord, StepRecord } from '../train/metrics';
import { runFiles } from '../train/run-dir';

interface Args {
  run: string;
  csv: boolean;
  channels: boolean;
  sharpness: boolean;
  out?: string;
}

const STEP_COLUMNS = ['step', 'epoch', 'lr', 'wd', 'lambda_eta', 'loss', 'loss_avg', 'acc', 'w_norm', 'g_norm', 'si_w_norm', 'eff_lr', 'angular_update', 'cos_wg'] as const satisfies readonly (keyof StepRecord)[];
const SHARPNESS_COLUMNS = ['step', 'lr', 'lambda_max', 'lr_lambda_max', 'weight_norm', 'spherical', 'iterations', 'residual'] as const satisfies readonly (keyof SharpnessRecord)[];
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

/** The per-channel angles as CSV in long form, one row per (step, layer, channel): what pandas pivots. */
export function channelCsv(records: readonly ChannelRecord[]): string {
  const lines = ['step,layer,channel,angular_update'];
  for (const r of records) for (const [name, angles] of Object.entries(r.layers)) angles.forEach((a, k) => lines.push(`${r.step},${csvCell(name)},${k},${a}`));
  return lines.join('\n') + '\n';
}

/** The last recorded step: per layer, the mean, smallest and largest channel angle. */
function latestChannels(records: readonly ChannelRecord[]): string {
  const last = records[records.length - 1];
  if (!last) return 'no per-channel records yet';
  const lines = [`per-channel angular updates at step ${last.step} (radians; mean, min, max over the output channels)`];
  for (const [name, angles] of Object.entries(last.layers)) {
    const mean = angles.reduce((s, a) => s + a, 0) / angles.length;
    lines.push(`  ${name.padEnd(24)} ${angles.length} channels: ${mean.toExponential(3)}, ${Math.min(...angles).toExponential(3)}, ${Math.max(...angles).toExponential(3)}`);
  }
  return lines.join('\n');
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
      .option('channels', { type: 'boolean', default: false, describe: 'read channels.jsonl (the per-output-channel angular updates of train --channel-every) instead of metrics.jsonl' })
      .option('sharpness', { type: 'boolean', default: false, describe: "read sharpness.jsonl (λ_max of the loss's Hessian, train --sharpness-every) instead of metrics.jsonl" })
      .option('out', { type: 'string', describe: 'write the CSV to this file instead of stdout' }),
  handler: (a) => {
    if (a.out && !a.csv) throw new Error('--out writes the CSV: add --csv');
    if (a.channels && a.sharpness) throw new Error('--channels and --sharpness read different logs: give one');
    if (a.channels) return showChannels(a);
    if (a.sharpness) return showSharpness(a);
    const file = a.run.endsWith('.jsonl') ? a.run : path.join(a.run, 'metrics.jsonl');
    if (!fs.existsSync(file)) throw new Error(`${file}: no such file; give a run directory (one holding metrics.jsonl)`);
    // A run still training may be writing its last line: only complete lines are read.
    const { records } = new MetricsTail(file).read();
    if (!a.csv) return console.log(latest(records));
    printCsv(toCsv(metricsTable(records)), a.out);
  },
};

function showChannels(a: Args): void {
  const file = a.run.endsWith('.jsonl') ? a.run : runFiles(a.run).channels;
  const records = readChannels(file);
  if (!a.csv) return console.log(latestChannels(records));
  printCsv(channelCsv(records), a.out);
}

function showSharpness(a: Args): void {
  const records = readSharpness(a.run.endsWith('.jsonl') ? a.run : runFiles(a.run).sharpness);
  const last = records[records.length - 1];
  if (!a.csv) {
    if (!last) return console.log('no sharpness measurements yet');
    return console.log([`sharpness at step ${last.step} (over the ${last.params === 'si' ? 'scale-invariant weights' : 'trainable tensors'})`, ...SHARPNESS_COLUMNS.slice(1).map((c) => `  ${c.padEnd(15)} ${last[c]}`)].join('\n'));
  }
  printCsv(toCsv({ columns: [...SHARPNESS_COLUMNS], rows: records.map((r) => SHARPNESS_COLUMNS.map((c) => r[c])) }), a.out);
}

function printCsv(csv: string, out: string | undefined): void {
  if (out) {
    writeFileAtomic(out, csv);
    console.log(`wrote ${out}`);
  } else {
    process.stdout.write(csv);
  }
}
