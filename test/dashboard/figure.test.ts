/** The dashboard's panels for several runs: short legends, a colour per run, its test line dashed. */
import { dashboardPanels, distinctLabels, RunView } from '../../src/dashboard/figure';
import { StepRecord } from '../../src/train/metrics';

const run = (name: string, lr: number): RunView => ({
  name,
  momentum: 0,
  optimizer: { name: 'sgd', momentum: 0 },
  records: {
    steps: [10, 20].map((step) => ({ type: 'step', step, lr, wd: 5e-4, loss_avg: 1, acc: 0.5 }) as StepRecord),
    evals: [{ type: 'eval', step: 20, epoch: 2, test_loss: 1.2, test_acc: 0.4 }],
  },
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
