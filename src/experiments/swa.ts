/**
 * Figure 3 of the paper: SGD is not a mixing diffusion (claim 6 in docs/science.md). One run held at a
 * constant LR past its equilibrium (≈1.25/λη steps), with a snapshot after every epoch:
 * - the SWA average of the last K snapshots (BN statistics recomputed, src/analysis/swa.ts) is
 *   more accurate than those snapshots are on average (each also with its BN recomputed);
 * - averaging the final weights of two runs from different initialisations does not beat the
 *   better of the two (they sit in different basins);
 * - |w_T − w_{T+Δ}| keeps growing with Δ from every start T: the iterates drift instead of
 *   mixing, which an Ornstein–Uhlenbeck process would do (its distance plateaus). The curves are
 *   averaged over a few trajectories (run A and more seeds): one trajectory's curve can stay flat
 *   for several epochs by chance.
 */
import * as path from 'path';
import { predictedAngularUpdate, spread, windowMean } from '../analysis/equilibrium';
import { swa } from '../analysis/swa';
import { distance, DriftCurve, driftCurves, driftMonotonicity, meanDriftCurves } from '../analysis/trajectory';
import { loadSubset } from '../data';
import { readSafetensors } from '../io/safetensors';
import { InputShape, modelLayout } from '../nn/model';
import { modelSpec } from '../nn/spec';
import { writeChart } from '../plot/chart';
import type { Verdict } from '../plot/report';
import { snapshotName } from '../train/checkpoint';
import { resolveConfig, TrainConfig } from '../train/config';
import { fmt } from '../util/format';
import { cachedResult } from './cached';
import { Context, Experiment, paperTraining, PlannedRun, presetDataset, presetFields, Scale, stepsPerEpoch, TrainingPreset, verdict } from './frame';
import { runDir, runMetrics, runPlanned } from './runs';

export interface SwaPreset extends TrainingPreset {
  bnEps: number;
  lr: number;
  wd: number;
  epochs: number;
  /** Snapshots after every epoch from this one to the last. */
  firstSnapshot: number;
  /** SWA averages the last K snapshots. */
  k: number;
  logEvery: number;
  seed: number;
  /** Allowed relative gap between the measured angular update over the snapshot window and √(2ηλ). */
  equilibriumTolerance: number;
  /** Spearman ρ of |w_T − w_{T+Δ}| against Δ that every start T must exceed. */
  minRho: number;
  /**
   * Trajectories whose distance curves are averaged for the drift check: run A and driftRuns − 1
   * more seeds. At cpu scale a single one is not enough: seed 0 passed (ρ ≥ 0.9 at every T) before
   * the NCHWc weight gradient changed its float rounding, and after it its curve from T = 16 stayed
   * at 3.2–3.3 from Δ = 3 to 8 epochs (ρ 0.55), while seeds 1–3 rose steadily (min ρ 0.95, 1, 1).
   */
  driftRuns: number;
}

/** What run() measures and plot()/check() read: accuracies with BN recomputed, and the distances. */
export interface SwaMeasures {
  snapshotEpochs: number[];
  /** Test accuracy of every snapshot of run A (BN statistics recomputed). */
  iterateAcc: number[];
  /** Test accuracy of the SWA average of run A's snapshots from epoch `swaFrom[i]` to the last. */
  swaFrom: number[];
  swaAcc: number[];
  /** The final weights of run A and of run B (another initialisation), each and averaged. */
  finalA: number;
  finalB: number;
  twoRuns: number;
  /** |w_T − w_{T+Δ}| curves of each trajectory (run A first), at the same snapshot epochs. */
  driftByRun: DriftCurve[][];
  /** Mean angular update over the snapshot window, and its prediction √(2ηλ). */
  angular: number;
  predictedAngular: number;
}

/** Verdicts from the measured numbers (pure; the unit tests feed synthetic ones). */
export function checkSwa(m: SwaMeasures, p: Pick<SwaPreset, 'k' | 'equilibriumTolerance' | 'minRho'>): Verdict[] {
  const pts = (x: number) => `${fmt(100 * x)}%`;
  const k = Math.min(p.k, m.iterateAcc.length);
  const lastK = m.iterateAcc.slice(-k);
  const iter = spread(lastK);
  const swaK = m.swaAcc[m.swaFrom.indexOf(m.snapshotEpochs[m.snapshotEpochs.length - k])];
  const rhos = driftMonotonicity(meanDriftCurves(m.driftByRun));
  const worst = rhos.reduce((a, b) => (b.rho < a.rho || !Number.isFinite(b.rho) ? b : a), rhos[0] ?? { t: NaN, rho: NaN, points: 0 });
  const single = m.driftByRun.map((curves) => driftMonotonicity(curves)).filter((r) => r.length > 0).map((r) => Math.min(...r.map((x) => x.rho)));
  const trajectories = m.driftByRun.length === 1 ? 'one trajectory' : `the mean of ${m.driftByRun.length} trajectories (each alone: min ρ ${single.map(fmt).join(', ')})`;
  const better = Math.max(m.finalA, m.finalB);
  return [
    verdict('swa', 'the snapshots are taken at equilibrium: angular update ≈ √(2ηλ)', Math.abs(m.angular / m.predictedAngular - 1) <= p.equilibriumTolerance,
      `${fmt(m.angular)} rad per step over the snapshot window`, `${fmt(m.predictedAngular)} ± ${fmt(100 * p.equilibriumTolerance)}%`),
    verdict('swa', `SWA of the last ${k} snapshots beats their mean accuracy`, swaK !== undefined && swaK > iter.mean,
      `${pts(swaK ?? NaN)} vs ${pts(iter.mean)} (snapshots ${pts(iter.min)}–${pts(iter.max)})`, 'SWA > mean of the snapshots'),
    verdict('swa', 'averaging two runs from different initialisations does not beat the better run', !(m.twoRuns > better),
      `${pts(m.twoRuns)} vs ${pts(better)} (runs: ${pts(m.finalA)}, ${pts(m.finalB)})`, 'average ≤ the better run'),
    verdict('swa', '|w_T − w_{T+Δ}| increases with Δ for every start T', rhos.length > 0 && rhos.every((r) => r.rho > p.minRho),
      `min Spearman ρ ${fmt(worst.rho)} (T = ${worst.t}, ${worst.points} points) over ${rhos.length} starts, for ${trajectories}`,
      `ρ > ${p.minRho} for every T with ≥ 3 later snapshots`),
  ];
}

const RUNS = { a: 'run-a', b: 'run-b' } as const;
/** The trajectories of the drift check: run A, then `drift-2`, `drift-3`, … */
const driftRunNames = (p: SwaPreset) => [RUNS.a, ...Array.from({ length: p.driftRuns - 1 }, (_, k) => `drift-${k + 2}`)];
/** The measures, for the preset and the runs they were made from: measured again when either changes. */
const measuresOf = (p: SwaPreset, ctx: Context) => cachedResult<SwaMeasures>(path.join(ctx.dir, 'swa-results.json'), { preset: p, runs: plan(p) });
const readResults = (p: SwaPreset, ctx: Context) => measuresOf(p, ctx).read();
const snapshotEpochs = (p: SwaPreset) => Array.from({ length: p.epochs - p.firstSnapshot + 1 }, (_, i) => p.firstSnapshot + i);
const snapshotFile = (ctx: Context, run: string, epoch: number) => path.join(runDir(ctx, run), 'checkpoints', snapshotName(epoch));

function plan(p: SwaPreset): PlannedRun[] {
  const config = (seed: number, snapshots: number[]): TrainConfig =>
    resolveConfig({
      ...presetFields(p),
      lr: p.lr,
      wd: p.wd,
      schedule: { kind: 'constant' },
      steps: p.epochs * stepsPerEpoch(p),
      seed,
      logEvery: p.logEvery,
      snapshotEpochs: snapshots,
      keepCheckpoints: 1,
    });
  return [
    { name: RUNS.a, config: config(p.seed, snapshotEpochs(p)) },
    // Another initialisation (and data order); only its final weights are used.
    { name: RUNS.b, config: config(p.seed + 1, [p.epochs]) },
    // More trajectories for the drift check, with snapshots at the same epochs as run A.
    ...driftRunNames(p).slice(1).map((name, k) => ({ name, config: config(p.seed + 2 + k, snapshotEpochs(p)) })),
  ];
}

async function measure(p: SwaPreset, ctx: Context): Promise<SwaMeasures> {
  const opts = { dataDir: p.dataDir };
  const train = await loadSubset({ dataset: p.dataset, split: 'train', size: p.trainSubset, seed: 0 }, opts);
  const test = await loadSubset({ dataset: p.dataset, split: 'test', size: p.testSubset, seed: 0 }, opts);
  const runtime = { threads: ctx.threads };
  const acc = async (files: string[]) => (await swa({ snapshots: files, train, test, runtime })).test.acc;
  const epochs = snapshotEpochs(p);
  const files = epochs.map((e) => snapshotFile(ctx, RUNS.a, e));
  const iterateAcc: number[] = [];
  for (const f of files) iterateAcc.push(await acc([f]));
  // SWA from each start epoch in the last K to the end (the last one is the final iterate itself).
  const starts = epochs.slice(-Math.min(p.k, epochs.length));
  const swaAcc: number[] = [];
  for (const e of starts) swaAcc.push(await acc(files.slice(epochs.indexOf(e))));
  const lastA = files[files.length - 1];
  const lastB = snapshotFile(ctx, RUNS.b, p.epochs);
  const finalA = iterateAcc[iterateAcc.length - 1];
  const finalB = await acc([lastB]);
  const twoRuns = await acc([lastA, lastB]);

  const spec = modelSpec(p.model, { inChannels: train.shape[0], numClasses: train.numClasses, bnEps: p.bnEps });
  const names = modelLayout(spec, train.shape as InputShape).params.filter((q) => q.trainable).map((q) => q.name);
  const driftByRun = driftRunNames(p).map((run) => {
    const weights = epochs.map((e) => {
      const { tensors } = readSafetensors(snapshotFile(ctx, run, e));
      return names.map((n) => tensors.get(n)!.data as Float32Array);
    });
    return driftCurves(epochs, (i, j) => distance(weights[i], weights[j]));
  });

  const { steps } = runMetrics(ctx, RUNS.a);
  const perEpoch = stepsPerEpoch(p);
  const from = (p.firstSnapshot - 1) * perEpoch;
  const angular = windowMean(steps.map((s) => s.step), steps.map((s) => s.angular_update), from, p.epochs * perEpoch);
  return { snapshotEpochs: epochs, iterateAcc, swaFrom: starts, swaAcc, finalA, finalB, twoRuns, driftByRun, angular, predictedAngular: predictedAngularUpdate(p.lr, p.wd) };
}

export const swaFigure: Experiment<SwaPreset> = {
  id: 'swa',
  command: 'swa-figure',
  title: 'SWA helps, averaging runs does not: SGD keeps drifting',
  claim: 'At a constant LR past equilibrium, the stochastic weight average of one trajectory\'s snapshots beats the snapshots, while averaging two runs from different initialisations does not help; the distance |w_T − w_{T+Δ}| keeps growing with Δ for every T, unlike a mixing (Ornstein–Uhlenbeck) diffusion (claim 6 in docs/science.md, Fig. 3).',
  preset(scale: Scale, ctx: Context): SwaPreset {
    const common = { ...presetDataset(ctx, 'fashion-mnist'), seed: ctx.seed, equilibriumTolerance: 0.2, minRho: 0.9 };
    // The paper's figure shows one trajectory (100 snapshots); at cpu scale 12 snapshots of one are too few.
    if (scale === 'paper') {
      // PreResNet-32, CIFAR-10, batch 128, η = 0.1, λ = 5e-4 (1/λη ≈ 51 epochs): 200 epochs at the constant LR (?),
      // snapshots from epoch 101 (≈ 2/λη, past equilibrium), SWA over the last 50 (?).
      return {
        ...common, ...paperTraining(ctx),
        lr: 0.1, wd: 5e-4, epochs: 200, firstSnapshot: 101, k: 50, logEvery: 100, driftRuns: 1,
      };
    }
    // cnn4-si, 1000 Fashion-MNIST images at batch 16 (62 steps per epoch), η = 0.2, λ = 0.01: λη = 2e-3, equilibrium
    // after ≈ 1.25/λη = 625 steps ≈ 10 epochs (the intrinsic and decay figures measure this net at this λη).
    const cpu = { ...common, model: 'cnn4-si', trainSubset: 1000, testSubset: 2000, batchSize: 16, bnEps: 1e-8, lr: 0.2, wd: 0.01, logEvery: 1 };
    if (scale === 'smoke') return { ...cpu, testSubset: 500, epochs: 4, firstSnapshot: 2, k: 3, driftRuns: 2 };
    return { ...cpu, epochs: 24, firstSnapshot: 13, k: 10, driftRuns: 3 };
  },
  settings: (p) => ({
    model: p.model,
    data: `${p.dataset}${p.trainSubset ? `, ${p.trainSubset} images` : ''}${p.testSubset ? `, ${p.testSubset} test images` : ''}, batch ${p.batchSize}`,
    'η': p.lr,
    'λ': p.wd,
    'λη': fmt(p.lr * p.wd),
    epochs: `${p.epochs} of ${stepsPerEpoch(p)} steps at a constant LR (${p.epochs * stepsPerEpoch(p)} steps = ${fmt(p.epochs * stepsPerEpoch(p) * p.lr * p.wd)}/λη)`,
    snapshots: `after every epoch from ${p.firstSnapshot} (step ${p.firstSnapshot * stepsPerEpoch(p)} = ${fmt(p.firstSnapshot * stepsPerEpoch(p) * p.lr * p.wd)}/λη); SWA over the last ${p.k}`,
    drift: p.driftRuns === 1 ? 'one trajectory' : `mean of ${p.driftRuns} trajectories (seeds ${plan(p).filter((r) => driftRunNames(p).includes(r.name)).map((r) => r.config.seed).join(', ')})`,
    'BN statistics': 'recomputed for every evaluated model (snapshots and averages), as update_bn',
    'BN ε': p.bnEps,
  }),
  plan: (p) => plan(p),
  async run(p, ctx) {
    await runPlanned(plan(p), ctx);
    await measuresOf(p, ctx).ensure(() => measure(p, ctx));
  },
  async plot(p, ctx) {
    const m = readResults(p, ctx);
    const k = Math.min(p.k, m.iterateAcc.length);
    const mean = spread(m.iterateAcc.slice(-k)).mean;
    const first = m.snapshotEpochs[m.snapshotEpochs.length - k];
    const last = m.snapshotEpochs[m.snapshotEpochs.length - 1];
    const drift = meanDriftCurves(m.driftByRun);
    const step = Math.max(1, Math.ceil(drift.length / 6));
    const files = await writeChart(
      {
        title: `SWA and drift at a constant LR: ${p.model}, batch ${p.batchSize}, η = ${p.lr}, λ = ${p.wd}`,
        panels: [
          {
            title: `test accuracy (BN recomputed); two runs averaged: ${fmt(100 * m.twoRuns)}% vs ${fmt(100 * Math.max(m.finalA, m.finalB))}%`,
            xLabel: 'epoch', yLabel: 'accuracy',
            series: [
              { name: 'SGD iterate', x: m.snapshotEpochs, y: m.iterateAcc },
              { name: 'SWA from epoch x to the end', x: m.swaFrom, y: m.swaAcc },
              { name: `mean of the last ${k} iterates`, x: [first, last], y: [mean, mean], dashed: true },
            ],
          },
          {
            title: `distance between iterates${m.driftByRun.length > 1 ? ` (mean of ${m.driftByRun.length} trajectories)` : ''}`,
            xLabel: 'Δ (epochs)', yLabel: '|w_T − w_{T+Δ}|',
            series: drift.filter((_, i) => i % step === 0).map((c) => ({ name: `T = ${c.t}`, x: c.delta, y: c.dist })),
          },
        ],
      },
      path.join(ctx.dir, 'swa'),
    );
    return [files.png];
  },
  check: (p, ctx) => checkSwa(readResults(p, ctx), p),
  notes(p, ctx) {
    const m = readResults(p, ctx);
    const rhos = (curves: DriftCurve[]) => driftMonotonicity(curves).map((r) => `T=${r.t}: ${fmt(r.rho)}`).join(', ');
    return [
      `Spearman ρ of |w_T − w_{T+Δ}| against Δ per start T, for the mean curves: ${rhos(meanDriftCurves(m.driftByRun))}.`,
      ...(m.driftByRun.length > 1 ? m.driftByRun.map((curves, i) => `The same for trajectory ${i + 1} alone: ${rhos(curves)}.`) : []),
      `SWA accuracy by start epoch: ${m.swaFrom.map((e, i) => `${e}: ${fmt(100 * m.swaAcc[i])}%`).join(', ')}; the two runs' final weights: ${fmt(100 * m.finalA)}% and ${fmt(100 * m.finalB)}%, their average ${fmt(100 * m.twoRuns)}%.`,
    ];
  },
};
