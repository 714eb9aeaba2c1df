/**
 * Figure 4 (claim 3 in docs/science.md, the fast equilibrium conjecture): three LR/WD schedules whose
 * intrinsic LR λη differs until step E and is equal from then on. Many independent runs of each
 * schedule give, for every input of a fixed evaluation set, a distribution of the predicted
 * label over the SGD noise. The ℓ1 distance between two schedules' distributions, averaged over
 * inputs, falls within O(1/λη) steps after E to the level of two independent halves of the same
 * schedule, although the schedules took different paths until E.
 *
 * Many runs are needed (72 at cpu scale, 1500 at paper scale). Each is an ordinary training run
 * (its own directory, resumable, `--jobs` and launchers apply) that records its predicted labels on
 * the evaluation set at every evaluation (config.recordPredictions). At cpu scale they train
 * cnn4-si at a quarter of its width on 14×14 pooled images, ≈6× cheaper per image than cnn4-si on
 * 28×28. The random-schedules figure plans its runs the same way.
 */
import * as path from 'path';
import { spread, windowMean } from '../analysis/equilibrium';
import { crossDistance, halvesDistance, Labels } from '../analysis/predictions';
import { writeChart } from '../plot/chart';
import { Schedule } from '../train/schedule';
import { fmt } from '../util/format';
import { Rng } from '../util/rng';
import { Context, Experiment, presetDataset, stepsPerEpoch, TrainingPreset, verdict } from './frame';
import { plannedRunsOf, readRunTrace, RunPlan, RunTrace } from './runs';

export interface FastEqSchedule {
  name: string;
  /** LR and WD from each `at` step on, before E (the first at 0); from E on every schedule uses `FastEqPreset.after`. */
  phases: { at: number; lr: number; wd: number }[];
}

export interface FastEqPreset extends TrainingPreset {
  pool: number;
  /** Test images whose predicted labels are recorded. */
  testSubset: number;
  schedules: FastEqSchedule[];
  /** LR and WD of every schedule from step E on. */
  after: { lr: number; wd: number };
  /** E: the step from which λη is equal. */
  equalizeStep: number;
  steps: number;
  evalEvery: number;
  /** Independent runs per schedule. */
  runs: number;
  /** Random draws of runs averaged in each distance estimate. */
  draws: number;
  /** The check's windows, in units of 1/λη: after E + settle/λη the distance is at the baseline; over [E − before/λη, E] it is clearly above. */
  settle: number;
  before: number;
}

/** The schedule as data: piecewise in steps, equal from E on. */
export const scheduleOf = (s: FastEqSchedule, p: Pick<FastEqPreset, 'after' | 'equalizeStep'>): Schedule => ({
  kind: 'piecewise',
  unit: 'step',
  points: [...s.phases, { at: p.equalizeStep, lr: p.after.lr, wd: p.after.wd }],
});

/**
 * The figure's three schedules, equal from E on at (lr, wd): A keeps (lr, wd) throughout; B decays
 * the LR ÷10 at `decayAt` (< E), so it is colder than A until E; C runs at 2.5× the WD, so it is
 * hotter (λη 2.5× larger, still below the unstable regime at cpu scale) until E.
 */
export function threeSchedules(lr: number, wd: number, decayAt: number): FastEqSchedule[] {
  return [
    { name: 'A', phases: [{ at: 0, lr, wd }] },
    { name: 'B', phases: [{ at: 0, lr, wd }, { at: decayAt, lr: Number((lr / 10).toPrecision(6)), wd }] },
    { name: 'C', phases: [{ at: 0, lr, wd: Number((2.5 * wd).toPrecision(6)) }] },
  ];
}

const rho = (p: Pick<FastEqPreset, 'after'>) => p.after.lr * p.after.wd;
const seedOf = (schedule: number, run: number) => 1000 * (schedule + 1) + run;

/** The runs, schedule by schedule: seeds differ across schedules too, so every run is independent. */
function plannedRuns(p: FastEqPreset): RunPlan[][] {
  return p.schedules.map((s, i) => Array.from({ length: p.runs }, (_, j) => ({
    name: `${s.name}-s${seedOf(i, j)}`, seed: seedOf(i, j), lr: s.phases[0].lr, wd: s.phases[0].wd, schedule: scheduleOf(s, p), steps: p.steps, evalEvery: p.evalEvery, keepLabels: true,
  })));
}

function readTraces(p: FastEqPreset, ctx: Context): RunTrace[][] {
  return plannedRuns(p).map((runs) => runs.map((r) => readRunTrace(ctx, r)));
}

/** The distance curves of the figure, from labels[schedule][evaluation][run]. */
export interface DistanceCurves {
  steps: number[];
  /** Per pair of schedules: n/2 runs of one against n/2 of the other. */
  pairs: { name: string; d: number[] }[];
  /** The mean over pairs. */
  cross: number[];
  /** Per schedule: two disjoint halves of its runs. */
  halves: { name: string; d: number[] }[];
  /** The baseline: the mean over schedules of `halves`. */
  base: number[];
}

export function distanceCurves(steps: number[], names: string[], labels: Labels[][][], classes: number, draws: number, seed: number): DistanceCurves {
  const rng = new Rng([seed, 'fast-equilibrium', 'draws']);
  const pairs: DistanceCurves['pairs'] = [];
  for (let a = 0; a < names.length; a++) {
    for (let b = a + 1; b < names.length; b++) {
      pairs.push({ name: `${names[a]} vs ${names[b]}`, d: steps.map((_, t) => crossDistance(labels[a][t], labels[b][t], classes, draws, rng)) });
    }
  }
  const halves = names.map((name, a) => ({ name, d: steps.map((_, t) => halvesDistance(labels[a][t], classes, draws, rng)) }));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return {
    steps,
    pairs,
    cross: steps.map((_, t) => mean(pairs.map((q) => q.d[t]))),
    halves,
    base: steps.map((_, t) => mean(halves.map((q) => q.d[t]))),
  };
}

export interface FastEqWindows {
  /** E: the step from which λη is equal. */
  equalizeStep: number;
  /** 1/λη in steps. */
  timeScale: number;
  settle: number;
  before: number;
}

/**
 * The error bar of one baseline estimate: the standard deviation of the halves distances of every
 * schedule at every evaluation in (from, to] — a window at equilibrium, where all schedules and
 * evaluations estimate the same level.
 */
export function baselineError(c: DistanceCurves, from: number, to: number): number {
  const xs = c.halves.flatMap((h) => h.d.filter((_, i) => c.steps[i] > from && c.steps[i] <= to));
  return spread(xs).std;
}

/**
 * After E + settle/λη the schedules' distance is at the baseline (window means; ≤ baseline + one
 * error bar); over (E − before/λη, E] it is clearly above (≥ baseline + 3 error bars). The error
 * bar is `baselineError` over the late window.
 */
export function checkFastEquilibrium(c: DistanceCurves, w: FastEqWindows) {
  const last = c.steps[c.steps.length - 1];
  const lateFrom = w.equalizeStep + w.settle * w.timeScale;
  const earlyFrom = w.equalizeStep - w.before * w.timeScale;
  const err = baselineError(c, lateFrom, last);
  // Windows (from, to]: the evaluation at E itself belongs to the "before" window (λη changes after it).
  const over = (from: number, to: number) => ({
    cross: windowMean(c.steps, c.cross, from, to),
    base: windowMean(c.steps, c.base, from, to),
    count: c.steps.filter((s) => s > from && s <= to).length,
  });
  const early = over(earlyFrom, w.equalizeStep);
  const late = over(lateFrom, last);
  const earlyOk = early.count > 0 && late.count > 1 && early.cross >= early.base + 3 * err;
  const lateOk = late.count > 1 && late.cross <= late.base + err;
  const span = (from: number, to: number, n: number) => `steps ${Math.round(from)}–${Math.round(to)} (${n} evaluations)`;
  return [
    verdict('fast-equilibrium', 'before E the schedules\' distance is clearly above the baseline', earlyOk,
      `${fmt(early.cross)} vs baseline ${fmt(early.base)} ± ${fmt(err)} over ${span(earlyFrom, w.equalizeStep, early.count)}`,
      '≥ baseline + 3 error bars'),
    verdict('fast-equilibrium', `from E + ${w.settle}/λη on the distance is at the baseline`, lateOk,
      `${fmt(late.cross)} vs baseline ${fmt(late.base)} ± ${fmt(err)} over ${span(lateFrom, last, late.count)}`,
      '≤ baseline + 1 error bar'),
  ];
}

/** The first evaluation at or after E from which the distance stays within baseline ± `err` (or undefined). */
export function settleStep(c: DistanceCurves, equalizeStep: number, err: number): number | undefined {
  let first: number | undefined;
  for (let i = 0; i < c.steps.length; i++) {
    if (c.steps[i] < equalizeStep) continue;
    if (c.cross[i] <= c.base[i] + err) first ??= c.steps[i];
    else first = undefined;
  }
  return first;
}

function curvesOf(p: FastEqPreset, ctx: Context) {
  const traces = readTraces(p, ctx);
  const steps = traces[0][0].steps;
  const labels = traces.map((runs) => steps.map((_, t) => runs.map((r) => r.labels[t])));
  return { traces, curves: distanceCurves(steps, p.schedules.map((s) => s.name), labels, 10, p.draws, ctx.seed) };
}

const lateError = (p: FastEqPreset, c: DistanceCurves) => baselineError(c, p.equalizeStep + p.settle / rho(p), p.steps);
const windows = (p: FastEqPreset): FastEqWindows => ({ equalizeStep: p.equalizeStep, timeScale: 1 / rho(p), settle: p.settle, before: p.before });

export const fastEquilibrium: Experiment<FastEqPreset> = {
  id: 'fast-equilibrium',
  title: 'Fast equilibrium: after λη is equalized, the prediction distributions of different schedules agree',
  claim: 'Runs with different LR/WD histories reach the same equilibrium in function space within O(1/λη) steps once their λη is equal: the distribution of predicted labels over the SGD noise of one schedule becomes indistinguishable from another\'s (claim 3 in docs/science.md, Fig. 4).',
  preset(scale, ctx) {
    if (scale === 'paper') {
      // (?) MNIST at batch 128 (468 steps per epoch); λη equalized at epoch 81 as in the paper, from LR 0.1 and WD 5e-4.
      const data = { ...presetDataset(ctx, 'mnist'), model: 'cnn4-si', widths: [32, 64, 128] as [number, number, number], trainSubset: null, pool: 1, testSubset: 10000, batchSize: 128 };
      const epoch = stepsPerEpoch(data);
      return {
        ...data,
        schedules: threeSchedules(0.1, 5e-4, 40 * epoch),
        after: { lr: 0.1, wd: 5e-4 }, equalizeStep: 81 * epoch, steps: 200 * epoch, evalEvery: 5 * epoch, runs: 500, draws: 20, settle: 3, before: 1,
      };
    }
    // cpu: cnn4-si at quarter width on a 4000-image Fashion-MNIST subset pooled to 14×14, batch 32,
    // λη = 2e-3 from E on (1/λη = 500 steps). Measured here: one run of A reaches ≈75% test
    // accuracy and two runs agree on ≈75% of the test images at equilibrium. With 8 runs per schedule and
    // E = 500 the 4-vs-4 baseline (0.45 ± 0.054) was as large as the schedules' distance before E (0.50);
    // with 16 runs and E = 750 (B 500 steps at its low LR) it was 0.33 ± 0.034 against 0.41, still short of
    // three error bars. 24 runs per schedule shrink the sampling noise further.
    const base = {
      ...presetDataset(ctx, 'fashion-mnist'), model: 'cnn4-si', widths: [8, 16, 32] as [number, number, number], trainSubset: 4000, pool: 2, testSubset: 1000, batchSize: 32,
      schedules: threeSchedules(0.1, 0.02, 250),
      after: { lr: 0.1, wd: 0.02 }, draws: 20, settle: 1.5, before: 0.5,
    };
    if (scale === 'smoke') return { ...base, schedules: threeSchedules(0.1, 0.02, 50), trainSubset: 1000, testSubset: 200, equalizeStep: 100, steps: 400, evalEvery: 50, runs: 2, settle: 0.5 };
    return { ...base, equalizeStep: 750, steps: 2000, evalEvery: 125, runs: 24 };
  },
  settings: (p) => ({
    model: `${p.model}, conv widths ${p.widths?.join('/') ?? 'as the preset'}`,
    data: `${p.dataset}${p.pool > 1 ? ` pooled ${p.pool}×${p.pool}` : ''}${p.trainSubset ? `, ${p.trainSubset}-image training subset` : ''}; predictions on ${p.testSubset} test images`,
    batch: p.batchSize,
    schedules: p.schedules.map((s) => `${s.name}: ${s.phases.map((q) => `η ${q.lr}, λ ${q.wd} (λη ${fmt(q.lr * q.wd)}) from step ${q.at}`).join(', ')}`).join('; ') + `; from E on η ${p.after.lr}, λ ${p.after.wd}`,
    'λη from E': fmt(rho(p)),
    'E (step)': p.equalizeStep,
    steps: p.steps,
    'runs per schedule': p.runs,
    evaluation: `every ${p.evalEvery} steps`,
    baseline: `${Math.floor(p.runs / 2)} runs vs ${Math.floor(p.runs / 2)} runs of one schedule, against ${Math.floor(p.runs / 2)} vs ${Math.floor(p.runs / 2)} of two schedules (${p.draws} random draws averaged)`,
  }),
  plan: (p) => plannedRunsOf(p, plannedRuns(p).flat()),
  async plot(p, ctx) {
    const { traces, curves } = curvesOf(p, ctx);
    const x = curves.steps;
    const err = lateError(p, curves);
    const r = rho(p);
    const vlines = [{ x: p.equalizeStep, label: 'E: λη equal' }, { x: p.equalizeStep + p.settle / r, label: `E + ${p.settle}/λη` }];
    // From the first evaluation after step 0: the random initial nets predict one or two classes for every input.
    const skip0 = (ys: number[]) => ys.filter((_, i) => x[i] > 0);
    const xs = skip0(x);
    const meanOver = (runs: RunTrace[], key: 'acc' | 'wNorm' | 'effLr') => x.map((_, t) => runs.reduce((s, q) => s + q[key][t], 0) / runs.length);
    const files = await writeChart(
      {
        title: `Fast equilibrium: ${p.schedules.length} schedules × ${p.runs} runs, λη = ${fmt(r)} from step ${p.equalizeStep}`,
        columns: 2,
        panels: [
          {
            title: 'ℓ1 distance between schedules (n/2 vs n/2 runs)', xLabel: 'step', yLabel: 'mean ℓ1 distance over inputs',
            series: [
              ...curves.pairs.map((q) => ({ name: q.name, x: xs, y: skip0(q.d) })),
              { name: 'baseline (halves of one schedule)', x: xs, y: skip0(curves.base), color: '#000000' },
            ],
            bands: [{ name: 'baseline (halves of one schedule)', x: xs, lo: skip0(curves.base).map((b) => b - err), hi: skip0(curves.base).map((b) => b + err) }],
            vlines,
          },
          {
            title: 'each schedule\'s own spread: halves vs halves', xLabel: 'step', yLabel: 'mean ℓ1 distance over inputs',
            series: curves.halves.map((q) => ({ name: `${q.name} vs ${q.name}`, x: xs, y: skip0(q.d) })),
            vlines,
          },
          { title: 'test accuracy (mean over runs)', xLabel: 'step', yLabel: 'accuracy', series: traces.map((runs, i) => ({ name: p.schedules[i].name, x, y: meanOver(runs, 'acc') })), vlines },
          { title: 'effective LR η/|w|² (mean over runs)', xLabel: 'step', yLabel: 'η/|w|² (log)', logY: true, series: traces.map((runs, i) => ({ name: p.schedules[i].name, x, y: meanOver(runs, 'effLr') })), vlines },
        ],
      },
      path.join(ctx.dir, 'fast-equilibrium'),
    );
    return [files.png];
  },
  check(p, ctx) {
    return checkFastEquilibrium(curvesOf(p, ctx).curves, windows(p));
  },
  notes(p, ctx) {
    const { curves } = curvesOf(p, ctx);
    const err = lateError(p, curves);
    const at = settleStep(curves, p.equalizeStep, err);
    return [
      at === undefined
        ? 'The distance between schedules did not settle within the baseline band by the end of the run.'
        : `The distance between schedules stays within the baseline band from step ${at} on, ${fmt((at - p.equalizeStep) * rho(p))}/λη after E.`,
      `Each schedule's own spread (halves vs halves) over (E − ${p.before}/λη, E]: ${curves.halves.map((h) => `${h.name} ${fmt(windowMean(curves.steps, h.d, p.equalizeStep - p.before / rho(p), p.equalizeStep))}`).join(', ')}; ` +
        `after E + ${p.settle}/λη: ${curves.halves.map((h) => `${h.name} ${fmt(windowMean(curves.steps, h.d, p.equalizeStep + p.settle / rho(p), p.steps))}`).join(', ')}.`,
      `The error bar (band) is the standard deviation of one baseline estimate, measured over every schedule and evaluation after E + ${p.settle}/λη: ${fmt(err)}.`,
      'Each schedule\'s baseline compares two disjoint halves of its runs, and each schedule pair compares half of one schedule\'s runs with half of the other\'s, so both distances carry the same finite-sample bias.',
    ];
  },
};
