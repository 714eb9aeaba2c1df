/**
 * Figure 5 and Table 1 (claim 3 in docs/science.md): five runs with random LR/WD schedules in a first phase,
 * then the same LR and WD for at least 3/λη steps, then an LR decay with WD off. At the end of the
 * common phase the five have the same weight norm and effective LR (the equilibrium of claim 2
 * does not remember the path), and after the final decay they reach the same test accuracy.
 *
 * The runs are ordinary training runs planned as the fast-equilibrium figure plans its own (a
 * narrow cnn4-si on pooled images at cpu scale).
 */
import * as path from 'path';
import { spread, windowMean } from '../analysis/equilibrium';
import { writeChart } from '../plot/chart';
import { Schedule, scheduleAt } from '../train/schedule';
import { Rng } from '../util/rng';
import { fmt } from '../util/format';
import { Context, Experiment, presetDataset, stepsPerEpoch, TrainingPreset, verdict } from './frame';
import { plannedRunsOf, readRunTrace, RunPlan, RunTrace } from './runs';

export interface RandomSchedulesPreset extends TrainingPreset {
  pool: number;
  /** Number of random schedules. */
  runs: number;
  /** The random phase: `phases` phases of `phaseSteps` steps, each with its own LR and WD. */
  phases: number;
  phaseSteps: number;
  /** log10 ranges of the random phases' LR and λη, relative to the common phase's. */
  lrRange: [number, number];
  lambdaEtaRange: [number, number];
  /** The common phase: LR `lr`, WD `wd` for `commonSteps` steps (at least 3/λη). */
  lr: number;
  wd: number;
  commonSteps: number;
  /** The final phase: LR × `decay`, WD off, for `decaySteps` steps. */
  decay: number;
  decaySteps: number;
  evalEvery: number;
}

export interface Phase {
  lr: number;
  wd: number;
}

/** The random phases of run `i`: LR and λη log-uniform in the preset's ranges around the common phase's. */
export function randomPhases(p: RandomSchedulesPreset, seed: number, i: number): Phase[] {
  const rng = new Rng([seed, 'random-schedules', i]);
  return Array.from({ length: p.phases }, () => {
    const lr = p.lr * 10 ** rng.uniform(...p.lrRange);
    const lambdaEta = p.lr * p.wd * 10 ** rng.uniform(...p.lambdaEtaRange);
    return { lr: Number(lr.toPrecision(3)), wd: Number((lambdaEta / lr).toPrecision(3)) };
  });
}

const commonStart = (p: RandomSchedulesPreset) => p.phases * p.phaseSteps;
const decayStart = (p: RandomSchedulesPreset) => commonStart(p) + p.commonSteps;
const totalSteps = (p: RandomSchedulesPreset) => decayStart(p) + p.decaySteps;

export function scheduleOfPhases(p: RandomSchedulesPreset, phases: Phase[]): Schedule {
  return {
    kind: 'piecewise',
    unit: 'step',
    points: [
      ...phases.map((ph, k) => ({ at: k * p.phaseSteps, lr: ph.lr, wd: ph.wd })),
      { at: commonStart(p), lr: p.lr, wd: p.wd },
      { at: decayStart(p), lr: Number((p.lr * p.decay).toPrecision(6)), wd: 0 },
    ],
  };
}

function plannedRuns(p: RandomSchedulesPreset, seed: number): RunPlan[] {
  return Array.from({ length: p.runs }, (_, i) => ({
    name: `schedule-${i + 1}`, seed: seed * 100 + i, lr: p.lr, wd: p.wd, schedule: scheduleOfPhases(p, randomPhases(p, seed, i)),
    steps: totalSteps(p), evalEvery: p.evalEvery, keepLabels: false,
  }));
}

export interface RandomSchedulesSummary {
  /** Per run: |w| and effective LR at the end of the random phase and of the common phase, and the final test accuracy. */
  wEndRandom: number[];
  effEndRandom: number[];
  wEndCommon: number[];
  effEndCommon: number[];
  finalAcc: number[];
}

const cv = (xs: number[]) => {
  const s = spread(xs);
  return s.std / s.mean;
};

/**
 * Window means over each run's evaluations: the last `window` steps of the random phase, of the
 * common phase and of the decay phase.
 */
export function summarize(traces: Pick<RunTrace, 'steps' | 'wNorm' | 'effLr' | 'acc'>[], p: Pick<RandomSchedulesPreset, 'phases' | 'phaseSteps' | 'commonSteps' | 'decaySteps'>, window: number): RandomSchedulesSummary {
  const q = p as RandomSchedulesPreset;
  const at = (t: Pick<RunTrace, 'steps'>, y: number[], end: number) => windowMean(t.steps, y, end - window, end);
  return {
    wEndRandom: traces.map((t) => at(t, t.wNorm, commonStart(q))),
    effEndRandom: traces.map((t) => at(t, t.effLr, commonStart(q))),
    wEndCommon: traces.map((t) => at(t, t.wNorm, decayStart(q))),
    effEndCommon: traces.map((t) => at(t, t.effLr, decayStart(q))),
    finalAcc: traces.map((t) => at(t, t.acc, totalSteps(q))),
  };
}

/** The claim in numbers: apart after the random phase, together (CV < 10%) after the common one, final accuracies within 1.5 points. */
export function checkRandomSchedules(s: RandomSchedulesSummary) {
  const id = 'random-schedules';
  const list = (xs: number[], f: (x: number) => string) => xs.map(f).join(', ');
  const pct = (x: number) => (100 * x).toFixed(2);
  const accRange = Math.max(...s.finalAcc) - Math.min(...s.finalAcc);
  return [
    verdict(id, 'the random phase leaves the effective LRs apart', cv(s.effEndRandom) >= 0.2,
      `CV ${fmt(cv(s.effEndRandom))} (${list(s.effEndRandom, fmt)})`, '≥ 0.2'),
    verdict(id, 'same |w| at the end of the common phase', cv(s.wEndCommon) < 0.1,
      `CV ${fmt(cv(s.wEndCommon))} (${list(s.wEndCommon, fmt)})`, '< 0.1'),
    verdict(id, 'same effective LR at the end of the common phase', cv(s.effEndCommon) < 0.1,
      `CV ${fmt(cv(s.effEndCommon))} (${list(s.effEndCommon, fmt)})`, '< 0.1'),
    verdict(id, 'same test accuracy after the final decay', accRange <= 0.015,
      `range ${pct(accRange)} points (${list(s.finalAcc, pct)} %)`, '≤ 1.5 points'),
  ];
}

const readTraces = (p: RandomSchedulesPreset, ctx: Context) => plannedRuns(p, ctx.seed).map((r) => readRunTrace(ctx, r));
/** Window of the summary: the last quarter of the decay phase, and as long at the ends of the other phases. */
const windowOf = (p: RandomSchedulesPreset) => p.decaySteps / 4;

export const randomSchedules: Experiment<RandomSchedulesPreset> = {
  id: 'random-schedules',
  title: 'Random LR/WD schedules reach the same equilibrium once LR and WD are equal',
  claim: 'Runs with different random LR/WD schedules, then the same LR and WD for O(1/λη) steps, arrive at the same weight norm, effective LR and test accuracy, and reach the same accuracy after the final LR decay: the equilibrium does not depend on the path (claim 3 in docs/science.md, Fig. 5, Table 1).',
  preset(scale, ctx) {
    const ranges = { lrRange: [-1, 0.7] as [number, number], lambdaEtaRange: [-1, 0.2] as [number, number], runs: 5, decay: 0.1 };
    if (scale === 'paper') {
      // PreResNet32 on CIFAR-10, batch 128 (390 steps per epoch): five phases of 100 epochs with
      // random LR and WD (?), 500 epochs at LR 0.1 and WD 5e-4, then LR ÷10 and WD off for 100 epochs (?).
      const data = { ...presetDataset(ctx, 'cifar10'), model: 'preresnet32', trainSubset: null, pool: 1, testSubset: null, batchSize: 128 };
      const epoch = stepsPerEpoch(data);
      return {
        ...ranges, ...data,
        phases: 5, phaseSteps: 100 * epoch, lr: 0.1, wd: 5e-4, commonSteps: 500 * epoch, decaySteps: 100 * epoch, evalEvery: 5 * epoch,
      };
    }
    // cpu: cnn4-si at half width on Fashion-MNIST pooled to 14×14 (all 60000 training and 10000
    // test images), batch 32, λη = 2e-3 in the common phase (1/λη = 500 steps); the random phases'
    // λη stays ≤ 3.2e-3 (stable). The final accuracy is read on all 10000 test images: on a common
    // test set of n images two equally good nets that disagree on 15% of it differ by ≈ √(0.15/n)
    // in accuracy (0.4 points at n = 10000), which the 1.5-point criterion must leave room for.
    // Measured here: at quarter width (8/16/32) the five final accuracies spread over 2.7 points,
    // each run flat at its own level after the decay; at half width over 1.2 points (85.2–86.3%).
    const base = { ...ranges, ...presetDataset(ctx, 'fashion-mnist'), model: 'cnn4-si', widths: [16, 32, 64] as [number, number, number], trainSubset: null, testSubset: null, pool: 2, batchSize: 32, lr: 0.1, wd: 0.02 };
    if (scale === 'smoke') return { ...base, trainSubset: 1000, testSubset: 500, phases: 2, phaseSteps: 40, commonSteps: 80, decaySteps: 40, evalEvery: 20 };
    return { ...base, phases: 3, phaseSteps: 250, commonSteps: 1500, decaySteps: 1000, evalEvery: 125 };
  },
  settings: (p) => ({
    model: `${p.model}${p.widths ? `, conv widths ${p.widths.join('/')}` : ''}`,
    data: `${p.dataset}${p.pool > 1 ? ` pooled ${p.pool}×${p.pool}` : ''}${p.trainSubset ? `, ${p.trainSubset}-image training subset` : ''}; test accuracy on ${p.testSubset ?? 'all'} test images`,
    batch: p.batchSize,
    'random phase': `${p.phases} × ${p.phaseSteps} steps, LR = ${p.lr} × 10^U(${p.lrRange.join(', ')}), λη = ${fmt(p.lr * p.wd)} × 10^U(${p.lambdaEtaRange.join(', ')})`,
    'common phase': `η ${p.lr}, λ ${p.wd} (λη ${fmt(p.lr * p.wd)}) for ${p.commonSteps} steps = ${fmt(p.commonSteps * p.lr * p.wd)}/λη`,
    'final phase': `η ${fmt(p.lr * p.decay)}, WD off, ${p.decaySteps} steps`,
    runs: p.runs,
    'measured at': `window means over the last ${windowOf(p)} steps of each phase; evaluation every ${p.evalEvery} steps`,
  }),
  plan: (p, ctx) => plannedRunsOf(p, plannedRuns(p, ctx.seed)),
  async plot(p, ctx) {
    const traces = readTraces(p, ctx);
    const runs = plannedRuns(p, ctx.seed);
    const vlines = [{ x: commonStart(p), label: 'same LR, WD' }, { x: decayStart(p), label: 'LR decay, WD off' }];
    const fine = Array.from({ length: Math.ceil(totalSteps(p) / 10) + 1 }, (_, i) => Math.min(10 * i, totalSteps(p) - 1));
    const series = (f: (t: RunTrace) => number[]) => traces.map((t) => ({ name: t.name, x: t.steps, y: f(t) }));
    const files = await writeChart(
      {
        title: `${p.runs} random LR/WD schedules, then η ${p.lr}, λ ${p.wd} from step ${commonStart(p)}, then LR × ${p.decay} and WD off from step ${decayStart(p)}`,
        columns: 2,
        panels: [
          { title: 'schedule: λη (log; 0 after WD off is not drawn)', xLabel: 'step', yLabel: 'λη', logY: true, vlines,
            series: runs.map((r) => ({ name: r.name, x: fine, y: fine.map((t) => { const h = scheduleAt(r.schedule, { lr: r.lr, wd: r.wd }, t, 1); return h.lr * h.wd; }) })) },
          { title: 'test accuracy', xLabel: 'step', yLabel: 'accuracy', series: series((t) => t.acc), vlines },
          { title: 'weight norm |w| (all conv weights)', xLabel: 'step', yLabel: '|w|', series: series((t) => t.wNorm), vlines },
          { title: 'effective LR η/|w|²', xLabel: 'step', yLabel: 'η/|w|² (log)', logY: true, series: series((t) => t.effLr), vlines },
        ],
      },
      path.join(ctx.dir, 'random-schedules'),
    );
    return [files.png];
  },
  check(p, ctx) {
    return checkRandomSchedules(summarize(readTraces(p, ctx), p, windowOf(p)));
  },
  notes(p, ctx) {
    const runs = plannedRuns(p, ctx.seed);
    return [
      'The random phases (η, λ per phase): ' + runs.map((r) => `${r.name}: ${(r.schedule as Extract<Schedule, { kind: 'piecewise' }>).points.slice(0, p.phases).map((q) => `(${q.lr}, ${q.wd})`).join(' ')}`).join('; ') + '.',
      'Every run starts from its own random initialisation (a different seed), so the common equilibrium forgets the initialisation as well as the schedule.',
    ];
  },
};
