/** The dashboard's panels for several runs: short legends, a colour per run, its test line dashed; the sharpness panels of runs that measured it. */
import { dashboardPanels, distinctLabels, RunView } from '../../src/dashboard/figure';
import { SharpnessRecord } from '../../src/train/hessian';
import { StepRecord } from '../../src/train/metrics';

const run = (name: string, lr: number): RunView => ({
  name,
  momentum: 0,
  optimizer: { name: 'sgd', momentum: 0 },
  records: {
    steps: [10, 20].map((step) => ({ type: 'step', step, lr, wd: 5e-4, loss_avg: 1, acc: 0.5 }) as StepRecord),
    evals: [{ type: 'eval', step: 20, epoch: 2, test_loss: 1.2, test_acc: 0.4 }],
  },
  sharpness: [],
});

test('labels drop the folders every run shares', () => {
  expect(distinctLabels(['fig/decay/lr0.1', 'fig/decay/lr0.2'])).toEqual(['lr0.1', 'lr0.2']);
  expect(distinctLabels(['a/x/r', 'b/x/r'])).toEqual(['a/x/r', 'b/x/r']);
  expect(distinctLabels(['fig/decay/lr0.1'])).toEqual(['lr0.1']);
});

test('several runs: one colour each, the test line dashed; one run: the palette by series', () => {
  const loss = (runs: RunView[]) => dashboardPanels(runs).find((p) => p.key === 'loss')!.chart.series;
  const two = loss([run('fig/a', 0.1), run('fig/b', 0.2)]);
  expect(two.map((s) => [s.name, s.color, s.dashed])).toEqual([
    ['a · train (mean since last record)', '#0072B2', false],
    ['a · test', '#0072B2', true],
    ['b · train (mean since last record)', '#E69F00', false],
    ['b · test', '#E69F00', true],
  ]);
  expect(loss([run('fig/a', 0.1)]).map((s) => [s.name, s.color])).toEqual([['train (mean since last record)', undefined], ['test', undefined]]);
  expect(dashboardPanels([{ ...run('fig/a', 0.1), records: { steps: [], evals: [] } }])).toEqual([]);
});

test("the dashed prediction is the run's own optimizer's: AdamW's √(2ηλ(1−β₁)/(1+β₁)); none for Adam with L2", () => {
  const angular = (v: RunView) => dashboardPanels([v]).find((p) => p.key === 'angular')!.chart.series;
  const adamw = { ...run('fig/a', 1e-3), optimizer: { name: 'adamw' as const, momentum: 0, betas: [0.9, 0.999] as [number, number] } };
  adamw.records = { ...adamw.records, steps: adamw.records.steps.map((s) => ({ ...s, wd: 0.5 })) };
  const predicted = angular(adamw).find((s) => s.dashed)!;
  expect(predicted.name).toBe('predicted equilibrium (adamw)');
  expect(predicted.y[0]).toBeCloseTo(Math.sqrt((2 * 1e-3 * 0.5 * 0.1) / 1.9), 9);
  expect(angular({ ...adamw, optimizer: { ...adamw.optimizer, name: 'adam' } }).filter((s) => s.dashed)).toEqual([]);
  expect(angular(run('fig/a', 0.1)).find((s) => s.dashed)!.name).toBe('predicted √(2ηλ/(1+β)), β = 0');
  // Under SVAG each optimizer step takes η/L.
  const svag = angular({ ...run('fig/a', 0.1), optimizer: { name: 'sgd', momentum: 0, svag: 4 } }).find((s) => s.dashed)!;
  expect(svag.name).toBe('predicted √(2(η/L)λ/(1+β)), L = 4, β = 0');
  expect(svag.y[0]).toBeCloseTo(Math.sqrt((2 * (0.1 / 4) * 5e-4) / 1), 12);
});

test("the angular update's legend says whether the run's last quarter is at equilibrium, and why not", () => {
  const measured = (v: RunView) => dashboardPanels([v]).find((p) => p.key === 'angular')!.chart.series.find((s) => !s.dashed)!.name;
  // 400 steps at λη 1e-3, |w| shrinking at the pure-WD rate.
  const steps = (count: number, w: (step: number) => number) =>
    Array.from({ length: count / 10 }, (_, i) => ({ type: 'step', step: 10 * (i + 1), lr: 0.1, wd: 0.01, lambda_eta: 1e-3, si_w_norm: w(10 * (i + 1)), angular_update: 0.045 }) as StepRecord);
  const short = { ...run('fig/a', 0.1), records: { steps: steps(400, (s) => 12 * Math.exp(-1e-3 * s)), evals: [] } };
  expect(measured(short)).toMatch(/^measured \(last 25% not at equilibrium: λη·step 0\.30 < 1\.25 at the window's start; \|w\| drifts -1\.00/);
  const settled = { ...run('fig/a', 0.1), records: { steps: steps(4000, () => 12), evals: [] } };
  expect(measured(settled)).toBe('measured (last 25% at equilibrium)');
});

/** Measured at steps 0, 10, 20 with the LR dropped to a tenth at step 20. */
const withSharpness = (name: string): RunView => ({
  ...run(name, 0.1),
  sharpness: [[0, 0.1, 15], [10, 0.1, 19], [20, 0.01, 150]].map(([step, lr, lambda]) =>
    ({ step, lr, lambda_max: lambda, lr_lambda_max: lr * lambda, weight_norm: 2, spherical: 4 * lambda, iterations: 20, residual: 1e-6, params: 'si' }) as SharpnessRecord),
});

test('a run with sharpness.jsonl gets η·λ_max against 2, λ_max against 2/η of each measurement, and |w|²·λ_max; one without gets none', () => {
  const keys = (runs: RunView[]) => dashboardPanels(runs).map((p) => p.key);
  expect(keys([run('fig/a', 0.1)]).filter((k) => ['sharpness', 'lambda-max', 'spherical'].includes(k))).toEqual([]);
  const panels = dashboardPanels([withSharpness('fig/a')]);
  const chart = (key: string) => panels.find((p) => p.key === key)!.chart;
  expect(panels.map((p) => p.key)).toEqual(['loss', 'accuracy', 'w-norm', 'eff-lr', 'angular', 'schedule', 'sharpness', 'lambda-max', 'spherical']);
  for (const key of ['sharpness', 'lambda-max', 'spherical']) expect(chart(key).logY).toBe(true);

  const points = (key: string) => chart(key).series.map((s) => [s.name, !!s.dashed, Array.from(s.x), Array.from(s.y)]);
  expect(points('sharpness')).toEqual([
    ['η·λ_max (scale-invariant weights)', false, [0, 10, 20], [0.1 * 15, 0.1 * 19, 0.01 * 150]],
    ['GD is unstable along the top direction above 2', true, [0, 20], [2, 2]],
  ]);
  expect(points('lambda-max')).toEqual([
    ['λ_max (scale-invariant weights)', false, [0, 10, 20], [15, 19, 150]],
    ['stability limit 2/η', true, [0, 10, 20], [20, 20, 200]],
  ]);
  expect(points('spherical')).toEqual([['|w|²·λ_max (scale-invariant weights)', false, [0, 10, 20], [60, 76, 600]]]);
});

test('several runs: the sharpness of those that measured it, in their colours, with one line at 2', () => {
  const panels = dashboardPanels([withSharpness('fig/a'), run('fig/b', 0.2), withSharpness('fig/c')]);
  const series = (key: string) => panels.find((p) => p.key === key)!.chart.series.map((s) => [s.name, s.color, !!s.dashed]);
  expect(series('sharpness')).toEqual([
    ['a · η·λ_max (scale-invariant weights)', '#0072B2', false],
    ['c · η·λ_max (scale-invariant weights)', '#009E73', false],
    ['GD is unstable along the top direction above 2', '#000000', true],
  ]);
  expect(series('lambda-max')).toEqual([
    ['a · λ_max (scale-invariant weights)', '#0072B2', false],
    ['a · stability limit 2/η', '#0072B2', true],
    ['c · λ_max (scale-invariant weights)', '#009E73', false],
    ['c · stability limit 2/η', '#009E73', true],
  ]);
});
