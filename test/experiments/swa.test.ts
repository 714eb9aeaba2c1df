import { DriftCurve, driftCurves } from '../../src/analysis/trajectory';
import { checkSwa, SwaMeasures, swaFigure } from '../../src/experiments/swa';
import { failedChecks, passedNamed, verdictNamed } from './verdicts';

const p = { k: 4, equilibriumTolerance: 0.2, minRho: 0.9 };
const epochs = [5, 6, 7, 8, 9, 10];

const wobble = (i: number, j: number) => 0.01 * Math.sin(7 * i + 3 * j);
const drifting = driftCurves(epochs, (i, j) => Math.sqrt(epochs[j] - epochs[i]));
const plateau = driftCurves(epochs, (i, j) => 1 + wobble(i, j));
/** One trajectory that drifts, except from T = 6 on, where it stays flat after Δ = 1. */
const flatStretch = driftCurves(epochs, (i, j) => (i === 1 && j > 2 ? 1.5 + wobble(i, j) : Math.sqrt(epochs[j] - epochs[i])));

/** Synthetic measures: distances √(Δ) (drifting) or a plateau with noise (mixing). */
function measures(o: Partial<SwaMeasures> & { plateau?: boolean } = {}): SwaMeasures {
  return {
    snapshotEpochs: epochs,
    iterateAcc: [0.80, 0.82, 0.79, 0.81, 0.80, 0.82],
    swaFrom: [7, 8, 9, 10],
    swaAcc: [0.84, 0.835, 0.83, 0.82],
    finalA: 0.82,
    finalB: 0.81,
    twoRuns: 0.12,
    driftByRun: [o.plateau ? plateau : drifting],
    angular: 0.06,
    predictedAngular: 0.063,
    ...o,
  };
}
const passed = (m: SwaMeasures, check: string) => passedNamed(checkSwa(m, p), check);
const AT_EQUILIBRIUM = 'the snapshots are taken at equilibrium';
const SWA_BEATS = 'snapshots beats their mean accuracy';
const TWO_RUNS = 'averaging two runs';
const DRIFTS = 'increases with Δ for every start T';

describe('swa checks', () => {
  it('pass for SWA above its snapshots, a useless two-run average, and drifting iterates', () => {
    expect(failedChecks(checkSwa(measures(), p))).toEqual([]);
  });
  it('use the SWA of exactly the last k snapshots', () => {
    // SWA from epoch 7 (the last 4) is below the mean of those 4 iterates (0.805): fails, although later starts are above.
    expect(passed(measures({ swaAcc: [0.80, 0.9, 0.9, 0.82] }), SWA_BEATS)).toBe(false);
  });
  it('fail when the two-run average beats the better run', () => {
    expect(passed(measures({ twoRuns: 0.83 }), TWO_RUNS)).toBe(false);
  });
  it('fail when the distance plateaus (a mixing process)', () => {
    expect(passed(measures({ plateau: true }), DRIFTS)).toBe(false);
    expect(passed(measures({ driftByRun: [plateau, plateau, plateau] }), DRIFTS)).toBe(false);
  });
  it('judge the mean of the trajectories: one flat stretch among drifting ones passes, alone it fails', () => {
    const mixed = measures({ driftByRun: [flatStretch, drifting, drifting] });
    expect(passed(mixed, DRIFTS)).toBe(true);
    expect(verdictNamed(checkSwa(mixed, p), DRIFTS).measured).toMatch(/mean of 3 trajectories \(each alone: min ρ -?[0-9.]+, 1, 1\)/);
    expect(passed(measures({ driftByRun: [flatStretch] as DriftCurve[][] }), DRIFTS)).toBe(false);
  });
  it('fail when the snapshots are not at equilibrium', () => {
    expect(passed(measures({ angular: 0.03 }), AT_EQUILIBRIUM)).toBe(false);
  });
});

describe('swa plan', () => {
  it('derives steps per epoch from the data set: at paper scale on Fashion-MNIST every snapshot epoch is within the run', () => {
    const ctx = { scale: 'paper' as const, dir: '/tmp/unused', seed: 0, ep: 'cpu' as const, threads: 1, jobs: 1, quiet: true, dataset: 'fashion-mnist' as const };
    const perEpoch = Math.floor(60000 / 128); // Fashion-MNIST's 60000 training images at batch 128
    for (const r of swaFigure.plan(swaFigure.preset('paper', ctx), ctx)) {
      expect(r.config.dataset).toBe('fashion-mnist');
      expect(r.config.batchSize).toBe(128);
      const last = Math.max(...r.config.snapshotEpochs);
      expect(last * perEpoch).toBeLessThanOrEqual(r.config.steps);
    }
  });
});
