/**
 * The dashboard's panels for the runs picked, as the figures' chart specs (plot/spec.ts): train
 * and test loss and accuracy, |w|, the effective LR η/|w|², the angular update against the
 * equilibrium √(2ηλ/(1+β)) the theory predicts, the LR/WD schedule with λη, and, per run, |w|
 * and the angular update of each parameter tensor by name. For runs trained with
 * --sharpness-every (sharpness.jsonl), the sharpness: η·λ_max against 2, above which gradient
 * descent is unstable along the Hessian's top direction; λ_max against that limit 2/η (η of each
 * measurement, so the limit follows the LR schedule); and the spherical sharpness |w|²·λ_max.
 *
 * Several runs share the scalar panels: a colour per run, its second kind of line (test, the
 * prediction) dashed, named after the run by the part of its path that tells it from the others.
 * The per-layer panels are one pair per run, since a legend of every tensor of every run would
 * be unreadable. The measured angular update's legend says whether the run's last quarter (so
 * far) is at equilibrium, and if not, why (analysis/equilibrium.ts, as `ilr sweep collect`).
 */
import { DEFAULT_WINDOW, equilibriumVerdict } from '../analysis/equilibrium';
import { OptimizerConfig, predictedAngle } from '../programs/optimizers';
import { ChartSpec, PALETTE, Series, VLine } from '../plot/spec';
import type { SharpnessRecord } from '../train/hessian';
import { LayerNorms } from '../train/metrics';
import { RunRecords } from './tail';

export interface RunView {
  name: string;
  momentum: number;
  optimizer: OptimizerConfig;
  records: RunRecords;
  /** sharpness.jsonl's measurements; none for a run trained without --sharpness-every. */
  sharpness: SharpnessRecord[];
}

export interface Panel {
  /** Stable across updates, so the page redraws a panel in place. */
  key: string;
  chart: ChartSpec;
}

const SIZE = { width: 420, height: 220 };

/** Parameter names matching this are drawn in the per-layer panels (all by default). */
export interface PanelOptions {
  layers?: RegExp;
}

/** A picked run as drawn: its label in legends and, when there are several, its colour. */
interface Drawn extends RunView {
  label: string;
  color?: string;
}

function named(run: Drawn, many: boolean, what: string): string {
  return many ? `${run.label} · ${what}` : what;
}

/** The names without the folders they all share (`fig/decay/lr0.1`, `fig/decay/lr0.2` → `lr0.1`, `lr0.2`). */
export function distinctLabels(names: readonly string[]): string[] {
  const parts = names.map((n) => n.split('/'));
  let shared = 0;
  while (parts.every((p) => p.length > shared + 1 && p[shared] === parts[0][shared])) shared++;
  return parts.map((p) => p.slice(shared).join('/'));
}

/** Rules where the LR or the WD changes (a schedule's milestones). */
function scheduleRules(run: Drawn): VLine[] {
  const rules: VLine[] = [];
  const s = run.records.steps;
  for (let i = 1; i < s.length; i++) {
    const parts: string[] = [];
    if (s[i].lr !== s[i - 1].lr) parts.push(`η ${s[i].lr.toPrecision(2)}`);
    if (s[i].wd !== s[i - 1].wd) parts.push(`λ ${s[i].wd.toPrecision(2)}`);
    // A schedule that moves every step (cosine, exponential) would draw a wall of rules.
    if (parts.length > 0 && rules.length < 6) rules.push({ x: s[i].step, label: parts.join(', ') });
  }
  return rules;
}

function stepSeries(run: Drawn, many: boolean, what: string, y: (r: RunRecords['steps'][number]) => number, dashed = false): Series {
  const steps = run.records.steps;
  return { name: named(run, many, what), x: steps.map((r) => r.step), y: steps.map(y), dashed, color: run.color };
}

function evalSeries(run: Drawn, many: boolean, what: string, y: (r: RunRecords['evals'][number]) => number | undefined, dashed = false): Series[] {
  const evals = run.records.evals.filter((r) => y(r) !== undefined);
  return evals.length === 0 ? [] : [{ name: named(run, many, what), x: evals.map((r) => r.step), y: evals.map((r) => y(r)!), dashed, color: run.color }];
}

function chart(title: string, yLabel: string, series: Series[], extra: Partial<ChartSpec> = {}): ChartSpec {
  return { title, xLabel: 'step', yLabel, series, ...SIZE, ...extra };
}

function scalarPanels(runs: Drawn[]): Panel[] {
  const many = runs.length > 1;
  const rules = runs.length === 1 ? scheduleRules(runs[0]) : [];
  const per = (f: (run: Drawn) => Series[]) => runs.flatMap(f);
  return [
    {
      key: 'loss',
      chart: chart('Loss', 'cross-entropy', per((r) => [
        stepSeries(r, many, 'train (mean since last record)', (s) => s.loss_avg),
        ...evalSeries(r, many, 'test', (e) => e.test_loss, many),
        // With several runs, one colour each holds two lines at most.
        ...(many ? [] : evalSeries(r, many, 'train subset (eval)', (e) => e.train_loss)),
      ]), { logY: true, vlines: rules }),
    },
    {
      key: 'accuracy',
      chart: chart('Accuracy', 'accuracy', per((r) => [
        stepSeries(r, many, 'train (batch)', (s) => s.acc),
        ...evalSeries(r, many, 'test', (e) => e.test_acc, many),
        ...(many ? [] : evalSeries(r, many, 'train subset (eval)', (e) => e.train_acc)),
      ]), { vlines: rules }),
    },
    { key: 'w-norm', chart: chart('|w| of the scale-invariant weights', '|w|', per((r) => [stepSeries(r, many, '|w|', (s) => s.si_w_norm)]), { vlines: rules }) },
    { key: 'eff-lr', chart: chart('Effective LR η/|w|²', 'η/|w|²', per((r) => [stepSeries(r, many, 'η/|w|²', (s) => s.eff_lr)]), { logY: true, vlines: rules }) },
    {
      key: 'angular',
      chart: chart('Angular update per step', 'radians', per((r) => [
        stepSeries(r, many, `measured (${lastWindowVerdict(r)})`, (s) => s.angular_update),
        // The run's optimizer's prediction; none is drawn where the theory gives none (Adam with L2, Nesterov).
        ...(predictedAngle(r.optimizer, 0.1, 1e-3) === undefined ? [] : [stepSeries(r, many, predictionLabel(r), (s) => predictedAngle(r.optimizer, s.lr, s.wd) ?? NaN, true)]),
      ]), { logY: true, vlines: rules }),
    },
    {
      key: 'schedule',
      chart: chart(many ? 'Schedule: LR η and λη' : 'Schedule: LR η, WD λ and λη', 'value', per((r) => [
        stepSeries(r, many, 'η', (s) => s.lr),
        ...(many ? [] : [stepSeries(r, many, 'λ', (s) => s.wd)]),
        stepSeries(r, many, 'λη (intrinsic LR)', (s) => s.lambda_eta, many),
      ]), { logY: true }),
    },
  ];
}

function sharpnessSeries(run: Drawn, many: boolean, what: string, y: (r: SharpnessRecord) => number, dashed = false): Series {
  return { name: named(run, many, what), x: run.sharpness.map((r) => r.step), y: run.sharpness.map(y), dashed, color: run.color };
}

/** The sharpness panels of the runs that measured it; none when no run did. */
function sharpnessPanels(runs: Drawn[]): Panel[] {
  const measured = runs.filter((r) => r.sharpness.length > 0);
  if (measured.length === 0) return [];
  const many = runs.length > 1;
  const rules = runs.length === 1 ? scheduleRules(runs[0]) : [];
  const per = (f: (run: Drawn) => Series[]) => measured.flatMap(f);
  // Which weights the Hessian is over, in the legend: a run measures the same ones throughout.
  const over = (r: Drawn) => (r.sharpness[0].params === 'si' ? 'scale-invariant weights' : 'all weights');
  const steps = measured.flatMap((r) => r.sharpness.map((s) => s.step));
  const span = [Math.min(...steps), Math.max(...steps)];
  return [
    {
      key: 'sharpness',
      chart: chart('sharpness η·λ_max', 'η·λ_max', [
        ...per((r) => [sharpnessSeries(r, many, `η·λ_max (${over(r)})`, (s) => s.lr_lambda_max)]),
        { name: 'GD is unstable along the top direction above 2', x: span, y: [2, 2], dashed: true, color: '#000000' },
      ], { logY: true, vlines: rules }),
    },
    {
      key: 'lambda-max',
      chart: chart('λ_max', 'λ_max', per((r) => [
        sharpnessSeries(r, many, `λ_max (${over(r)})`, (s) => s.lambda_max),
        sharpnessSeries(r, many, 'stability limit 2/η', (s) => 2 / s.lr, true),
      ]), { logY: true, vlines: rules }),
    },
    { key: 'spherical', chart: chart('spherical sharpness |w|²·λ_max', '|w|²·λ_max', per((r) => [sharpnessSeries(r, many, `|w|²·λ_max (${over(r)})`, (s) => s.spherical)]), { logY: true, vlines: rules }) },
  ];
}

/** The parameter names of a run's per-layer records, in the order the model declares them. */
function layerNames(run: Drawn, filter?: RegExp): string[] {
  const last = [...run.records.steps].reverse().find((s) => s.layers);
  return Object.keys(last?.layers ?? {}).filter((n) => !filter || filter.test(n));
}

function layerPanels(run: Drawn, index: number, many: boolean, opts: PanelOptions): Panel[] {
  const names = layerNames(run, opts.layers);
  if (names.length === 0) return [];
  const withLayers = run.records.steps.filter((s) => s.layers);
  const series = (k: keyof LayerNorms) =>
    names.map((n) => {
      const rows = withLayers.filter((s) => s.layers![n] !== undefined);
      return { name: n, x: rows.map((s) => s.step), y: rows.map((s) => s.layers![n][k]) };
    });
  const suffix = many ? ` — ${run.label}` : '';
  return [
    { key: `layers-w-${index}`, chart: chart(`|w| per layer${suffix}`, '|w|', series('w_norm'), { logY: true }) },
    { key: `layers-angular-${index}`, chart: chart(`Angular update per layer${suffix}`, 'radians', series('angular_update'), { logY: true }) },
  ];
}

/** Every panel for `runs` (none when no run has a record yet). */
export function dashboardPanels(runs: RunView[], opts: PanelOptions = {}): Panel[] {
  const withData = runs.filter((r) => r.records.steps.length > 0 || r.records.evals.length > 0);
  if (withData.length === 0) return [];
  const many = withData.length > 1;
  const labels = distinctLabels(withData.map((r) => r.name));
  const drawn: Drawn[] = withData.map((r, i) => ({ ...r, label: labels[i], ...(many ? { color: PALETTE[i % PALETTE.length] } : {}) }));
  return [...scalarPanels(drawn), ...sharpnessPanels(drawn), ...drawn.flatMap((r, i) => layerPanels(r, i, many, opts))];
}

/** Whether the run's last DEFAULT_WINDOW of steps so far is at equilibrium, in words. */
function lastWindowVerdict(run: RunView): string {
  const last = run.records.steps.at(-1)?.step ?? 0;
  const v = equilibriumVerdict(run.records.steps, last * (1 - DEFAULT_WINDOW), last);
  const window = `last ${100 * DEFAULT_WINDOW}%`;
  return v.atEquilibrium ? `${window} at equilibrium` : `${window} not at equilibrium: ${v.reason}`;
}

/** What the dashed line is: SGD's formula with its β (and SVAG's L, whose steps take η/L), or the optimizer whose formula it is. */
function predictionLabel(r: RunView): string {
  if (r.optimizer.name !== 'sgd') return `predicted equilibrium (${r.optimizer.name})`;
  const l = r.optimizer.svag ?? 1;
  return l === 1 ? `predicted √(2ηλ/(1+β)), β = ${r.momentum}` : `predicted √(2(η/L)λ/(1+β)), L = ${l}, β = ${r.momentum}`;
}
