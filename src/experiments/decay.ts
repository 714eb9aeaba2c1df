/**
 * LR decay vs WD decay, read through the intrinsic LR λη (claim 7 in docs/science.md). Two runs from the
 * same start: one divides the LR by 10 at a step, the other divides the WD by 10 at the same step.
 * Both lower λη 10×. At the LR decay the effective LR η/|w|² falls 10× at once (|w| has not
 * moved), then climbs back as |w|² shrinks toward its new equilibrium, √10 below the old one; the
 * angular update settles √10 below its old equilibrium, at √(2ηλ/(1+β)) of the new η. The WD decay
 * has no jump: the angular update falls gradually toward the same new level as |w| grows.
 */
import * as path from 'path';
import { blockMeans, isMonotone, logProgress, predictedAngularUpdate, windowGeoMean, windowMean } from '../analysis/equilibrium';
import { writeChart } from '../plot/chart';
import type { Verdict } from '../plot/report';
import { resolveConfig } from '../train/config';
import type { Schedule } from '../train/schedule';
import { fmt } from '../util/format';
import { bnEvaluation, Context, Experiment, paperTraining, PlannedRun, presetDataset, presetFields, Scale, stepsPerEpoch, TrainingPreset, verdict } from './frame';
import { runMetrics } from './runs';

export interface DecayPreset extends TrainingPreset {
  bnEps: number;
  lr: number;
  wd: number;
  momentum: number;
  /** The step (0-based, the first one with the new value) of the LR ÷10 in one run and the WD ÷10 in the other. */
  decayStep: number;
  steps: number;
  /** Equilibrium windows: the last `window` steps before the decay, and the last `window` steps of the run. */
  window: number;
  /** Block width for smoothing the angular update (plots, monotonicity). */
  smooth: number;
  /** Relative rise allowed between consecutive smoothed points of the WD-decay run's angular update. */
  monotoneTolerance: number;
  logEvery: number;
  evalEvery: number;
  /** Also check what only a long run shows: the effective-LR ratio and the WD-decay run's arrival (paper scale). */
  long: boolean;
  seed: number;
}

/** One run's step records, as arrays. */
export interface DecayTrace {
  step: number[];
  effLr: number[];
  angular: number[];
}

export const DECAY_FACTOR = 10;

/** The measured numbers every verdict and note of the figure is made of. */
export function decayMeasures(lrRun: DecayTrace, wdRun: DecayTrace, p: Pick<DecayPreset, 'lr' | 'wd' | 'momentum' | 'decayStep' | 'steps' | 'window' | 'smooth'>) {
  const d = p.decayStep;
  const before = (t: DecayTrace) => windowMean(t.step, t.angular, d - p.window, d);
  const late = (t: DecayTrace) => windowMean(t.step, t.angular, p.steps - p.window, p.steps);
  // The record of step s holds |w| before step s's update and the LR of that update.
  const lastBefore = lrRun.step.filter((s) => s <= d).length - 1;
  const effBefore = lrRun.effLr[lastBefore];
  const effAfter = lrRun.effLr[lastBefore + 1];
  // Right after the decay: the first `smooth` steps; at the end: the last window.
  const effEarly = windowGeoMean(lrRun.step, lrRun.effLr, d, d + p.smooth);
  const effEqBefore = windowGeoMean(lrRun.step, lrRun.effLr, d - p.window, d);
  const effLate = windowGeoMean(lrRun.step, lrRun.effLr, p.steps - p.window, p.steps);
  const oldLevel = predictedAngularUpdate(p.lr, p.wd, p.momentum);
  const newLevel = oldLevel / Math.sqrt(DECAY_FACTOR);
  const wdBlocks = blockMeans(wdRun.step, wdRun.angular, p.smooth, d, p.steps);
  return {
    oldLevel,
    newLevel,
    lrBefore: before(lrRun),
    lrLate: late(lrRun),
    wdBefore: before(wdRun),
    wdLate: late(wdRun),
    /** Angular update of the WD-decay run in the `smooth`/5 steps after the decay, over the same before it. */
    wdJump: windowMean(wdRun.step, wdRun.angular, d, d + p.smooth / 5) / windowMean(wdRun.step, wdRun.angular, d - p.smooth / 5, d),
    lrJump: windowMean(lrRun.step, lrRun.angular, d, d + p.smooth / 5) / windowMean(lrRun.step, lrRun.angular, d - p.smooth / 5, d),
    effDrop: effBefore / effAfter,
    effEqBefore,
    effEarly,
    effLate,
    /** How far the effective LR has climbed from its value right after the decay toward the √10 prediction (log scale). */
    effRecovery: logProgress(effEarly, effLate, effEqBefore / Math.sqrt(DECAY_FACTOR)),
    wdBlocks,
    /** How far the WD-decay run's angular update has fallen from its old equilibrium toward the new prediction (log scale). */
    wdProgress: logProgress(before(wdRun), late(wdRun), newLevel),
  };
}

export function checkDecay(lrRun: DecayTrace, wdRun: DecayTrace, p: DecayPreset): Verdict[] {
  const m = decayMeasures(lrRun, wdRun, p);
  const within = (x: number, target: number, tol: number) => Math.abs(x / target - 1) <= tol;
  const s10 = Math.sqrt(DECAY_FACTOR);
  const ratio = m.lrBefore / m.lrLate;
  const v = [
    verdict('decay', 'before the decays: angular update at the equilibrium √(2ηλ/(1+β))', within(m.lrBefore, m.oldLevel, 0.15) && within(m.wdBefore, m.oldLevel, 0.15),
      `${fmt(m.lrBefore)}, ${fmt(m.wdBefore)} rad (LR run, WD run)`, `${fmt(m.oldLevel)} ± 15%`),
    verdict('decay', 'LR ÷10: the effective LR falls 10× at once', within(m.effDrop, DECAY_FACTOR, 0.1), `÷${fmt(m.effDrop)}`, '÷10 ± 10%'),
    verdict('decay', 'LR ÷10: then the effective LR rises again', m.effLate > m.effEarly * 1.1,
      `${fmt(m.effEarly)} → ${fmt(m.effLate)} (×${fmt(m.effLate / m.effEarly)})`, 'rises by > 10%'),
    verdict('decay', 'LR ÷10: the angular update settles √10 lower', within(ratio, s10, 0.15),
      `${fmt(m.lrBefore)} → ${fmt(m.lrLate)} rad (÷${fmt(ratio)})`, `÷${fmt(s10)} ± 15%`),
    verdict('decay', 'WD ÷10: no jump in the angular update', m.wdJump > 0.7, `×${fmt(m.wdJump)} across the decay (${p.smooth / 5}-step windows; the LR-decay run: ×${fmt(m.lrJump)})`, '> 0.7'),
    verdict('decay', 'WD ÷10: the angular update falls monotonically', isMonotone(m.wdBlocks.y, 'down', p.monotoneTolerance),
      `${m.wdBlocks.y.map(fmt).join(', ')} rad (${p.smooth}-step means)`, `non-increasing (within ${p.monotoneTolerance * 100}%)`),
    verdict('decay', 'WD ÷10: at least halfway to the new level (log scale)', m.wdProgress >= 0.5,
      `${fmt(100 * m.wdProgress)}% (${fmt(m.wdBefore)} → ${fmt(m.wdLate)}, target ${fmt(m.newLevel)})`, '≥ 50%'),
  ];
  if (p.long) {
    const effRatio = m.effEqBefore / m.effLate;
    v.push(
      verdict('decay', 'LR ÷10: the effective LR settles √10 lower', within(effRatio, s10, 0.25), `÷${fmt(effRatio)}`, `÷${fmt(s10)} ± 25%`),
      verdict('decay', 'WD ÷10: arrives at the new level', within(m.wdLate, m.newLevel, 0.15), `${fmt(m.wdLate)} rad`, `${fmt(m.newLevel)} ± 15%`),
    );
  }
  return v;
}

const RUNS = ['lr-decay', 'wd-decay'] as const;

function plan(p: DecayPreset): PlannedRun[] {
  const schedules: Record<(typeof RUNS)[number], Schedule> = {
    'lr-decay': { kind: 'multistep', unit: 'step', lrMilestones: [p.decayStep], lrFactor: 1 / DECAY_FACTOR },
    'wd-decay': { kind: 'multistep', unit: 'step', wdMilestones: [p.decayStep], wdFactor: 1 / DECAY_FACTOR },
  };
  return RUNS.map((name) => {
    const config = resolveConfig({
      ...presetFields(p),
      lr: p.lr,
      wd: p.wd,
      momentum: p.momentum,
      schedule: schedules[name],
      steps: p.steps,
      seed: p.seed,
      logEvery: p.logEvery,
      evalEvery: p.evalEvery,
      checkpointEvery: Math.max(500, p.evalEvery),
      keepCheckpoints: 1,
    });
    return { name, config };
  });
}

function traces(ctx: Context) {
  return RUNS.map((name) => {
    const { steps, evals } = runMetrics(ctx, name);
    return {
      step: steps.map((r) => r.step),
      effLr: steps.map((r) => r.eff_lr),
      angular: steps.map((r) => r.angular_update),
      norm: steps.map((r) => r.si_w_norm),
      evals,
    };
  });
}

export const decay: Experiment<DecayPreset> = {
  id: 'decay',
  title: 'LR decay vs WD decay, read through λη',
  claim: 'Right after LR ÷10 the effective LR falls 10× (|w| has not moved), then climbs back over ≈1/λη steps to an equilibrium √10 below the old one, and the angular update settles √10 lower, at √(2ηλ) of the new η. Decaying WD instead lowers λη the same way and approaches the same equilibrium, only gradually (claim 7 in docs/science.md).',
  preset(scale: Scale, ctx: Context): DecayPreset {
    const common = { ...presetDataset(ctx, 'fashion-mnist'), seed: ctx.seed, momentum: 0, monotoneTolerance: 0.05 };
    if (scale === 'paper') {
      // PreResNet-32, CIFAR-10, batch 128, η = 0.1, λ = 5e-4 (λη = 5e-5, 1/λη = 2·10⁴ steps ≈ 51 epochs); the
      // decay at epoch 100 (≈ 2/λη, in equilibrium), then 500 epochs ≈ 0.5/λη_new, long enough for the
      // effective LR's recovery (time constant 1/(4λη_new) = 128 epochs) and the WD run's arrival (?).
      const data = paperTraining(ctx);
      const perEpoch = stepsPerEpoch(data);
      return {
        ...common, ...data,
        lr: 0.1, wd: 5e-4, decayStep: 100 * perEpoch, steps: 600 * perEpoch, window: 20 * perEpoch, smooth: 20 * perEpoch, logEvery: 10, evalEvery: 5 * perEpoch, long: true,
      };
    }
    // cnn4-si at batch 16, η = 0.2, λ = 0.01: λη = 2e-3, and after either decay 2e-4. The first equilibrium
    // takes ≈1.5/λη = 750 steps here (the intrinsic figure measures the same net and λη); the decay comes at
    // 2/λη, and the runs continue 4500 steps = 0.9/λη_new after it. Why that long: right after the LR decay
    // the angular update falls 10×, like the effective LR, and both climb back only as |w|² shrinks
    // (|w|⁴ relaxes as e^(−4λη t), so the angular update is within 15% of its new level after ≈0.8/λη_new).
    // PyTorch shows the same: `torch_bridge.py angular --batch 128 --lr 0.2 --wd 5e-3 --decay-step 1500` gives
    // 0.0430 → 0.0034 rad per step across the LR ÷10 with the angle computed stably in float64; acos of the
    // float32 cosine reads 0.0078 there, a rounding floor, which is what made the angular update look
    // settled at once in the calibration in docs/science.md.
    // Every step is logged, so a 500-step mean of the angular update averages 500 noisy values. Errors are
    // measured with BN statistics recomputed on 500 train images: at λη = 2e-3 the running statistics lag the
    // weights, and the error measured with them jumped between 0.15 and 0.55.
    const cpu = {
      ...common, model: 'cnn4-si', trainSubset: null, testSubset: 1000, batchSize: 16, bnEps: 1e-8, bnRecompute: 500,
      lr: 0.2, wd: 0.01, logEvery: 1, long: false,
    };
    if (scale === 'smoke') return { ...cpu, decayStep: 60, steps: 120, window: 30, smooth: 30, evalEvery: 60 };
    return { ...cpu, decayStep: 1000, steps: 5500, window: 300, smooth: 500, evalEvery: 250 };
  },
  settings: (p) => ({
    model: p.model,
    data: `${p.dataset}${p.trainSubset ? `, ${p.trainSubset} images` : ''}, batch ${p.batchSize}`,
    'η': p.lr,
    'λ': p.wd,
    'β': p.momentum,
    'λη before / after': `${fmt(p.lr * p.wd)} / ${fmt((p.lr * p.wd) / DECAY_FACTOR)}`,
    decay: `LR ÷10 (one run) or WD ÷10 (the other) at step ${p.decayStep}`,
    steps: p.steps,
    'equilibrium windows': `the ${p.window} steps before the decay and the last ${p.window}`,
    'BN ε': p.bnEps,
    evaluation: bnEvaluation(p.bnRecompute),
  }),
  plan: (p) => plan(p),
  async plot(p, ctx) {
    const [lr, wd] = traces(ctx);
    const m = decayMeasures(lr, wd, p);
    const vlines = [{ x: p.decayStep, label: '÷10' }];
    const sm = (t: typeof lr) => blockMeans(t.step, t.angular, p.smooth / 5);
    const [lrS, wdS] = [sm(lr), sm(wd)];
    const first = lr.step[0];
    const last = p.steps;
    const level = { name: 'predicted √(2ηλ/(1+β))', x: [first, p.decayStep, p.decayStep, last], y: [m.oldLevel, m.oldLevel, m.newLevel, m.newLevel], dashed: true, color: '#000000' };
    const err = (t: typeof lr, k: 'test_acc' | 'train_acc') => ({ x: t.evals.map((e) => e.step), y: t.evals.map((e) => 1 - (e[k] ?? NaN)) });
    const files = await writeChart(
      {
        title: `LR ÷10 vs WD ÷10 at step ${p.decayStep}: ${p.model}, batch ${p.batchSize}, η = ${p.lr}, λ = ${p.wd}`,
        panels: [
          {
            title: 'effective LR', xLabel: 'step', yLabel: 'η/|w|² (log)', logY: true, vlines,
            series: [
              { name: 'LR decay', x: lr.step, y: lr.effLr },
              { name: 'WD decay', x: wd.step, y: wd.effLr },
              { name: 'LR decay: predicted new equilibrium (÷√10)', x: [p.decayStep, last], y: [m.effEqBefore / Math.sqrt(DECAY_FACTOR), m.effEqBefore / Math.sqrt(DECAY_FACTOR)], dashed: true },
            ],
          },
          {
            title: `angular update (${p.smooth / 5}-step means)`, xLabel: 'step', yLabel: 'radians per step (log)', logY: true, vlines,
            series: [{ name: 'LR decay', x: lrS.x, y: lrS.y }, { name: 'WD decay', x: wdS.x, y: wdS.y }, level],
          },
          { title: 'weight norm (all conv weights)', xLabel: 'step', yLabel: '|w|', vlines, series: [{ name: 'LR decay', x: lr.step, y: lr.norm }, { name: 'WD decay', x: wd.step, y: wd.norm }] },
          {
            title: 'error', xLabel: 'step', yLabel: 'error', vlines,
            series: [
              { name: 'LR decay: test', ...err(lr, 'test_acc') },
              { name: 'WD decay: test', ...err(wd, 'test_acc') },
              { name: 'LR decay: train', ...err(lr, 'train_acc') },
              { name: 'WD decay: train', ...err(wd, 'train_acc') },
            ],
          },
        ],
      },
      path.join(ctx.dir, 'decay'),
    );
    return [files.png];
  },
  check(p, ctx) {
    const [lr, wd] = traces(ctx);
    return checkDecay(lr, wd, p);
  },
  notes(p, ctx) {
    const [lr, wd] = traces(ctx);
    const m = decayMeasures(lr, wd, p);
    const leNew = (p.lr * p.wd) / DECAY_FACTOR;
    const after = p.steps - p.decayStep;
    return [
      `After the decays λη = ${fmt(leNew)}: |w|⁴ relaxes with time constant 1/(4λη) = ${fmt(1 / (4 * leNew))} steps, and 1/λη = ${fmt(1 / leNew)} steps; the run continues ${after} steps after the decay (${fmt(after * leNew)}/λη).`,
      `Effective LR of the LR-decay run: ${fmt(m.effEqBefore)} at equilibrium before the decay, ${fmt(m.effEarly)} right after, ${fmt(m.effLate)} at the end; the √10 rule predicts ${fmt(m.effEqBefore / Math.sqrt(DECAY_FACTOR))}. It has recovered ${fmt(100 * m.effRecovery)}% of the way (log scale)` +
        (p.long ? '.' : `; with |w|⁴ relaxing as e^(−4λη t) alone one would expect ≈${fmt(100 * expectedRecovery(after * leNew))}%. The effective LR's √10 ratio itself is checked at paper scale, where the runs are long enough; here the angular update η|g|/|w| is, which also has the gradient at unit scale |g|·|w| in it.`),
      `Angular update of the WD-decay run at the end: ${fmt(m.wdLate)} rad, ${fmt(100 * m.wdProgress)}% of the way (log scale) from ${fmt(m.wdBefore)} to the new level ${fmt(m.newLevel)}; the LR-decay run ends at ${fmt(m.lrLate)}.`,
    ];
  },
};

/**
 * The log-scale fraction of the √10 recovery of η/|w|² after the time `x` (in units of 1/λη),
 * if |w|⁴ relaxed from its old equilibrium to a tenth of it as e^(−4x) with tr Σ fixed.
 */
export function expectedRecovery(x: number): number {
  const w4 = 1 / DECAY_FACTOR + (1 - 1 / DECAY_FACTOR) * Math.exp(-4 * x);
  return Math.log(1 / Math.sqrt(w4)) / Math.log(Math.sqrt(DECAY_FACTOR));
}
