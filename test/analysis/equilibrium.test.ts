import {
  blockMeans, EquilibriumRecord, equilibriumVerdict, firstBelow, isMonotone, logProgress, maxRelativeDeviation, predictedAngularUpdate, relativeSpikes, spikeSteps, spread, windowGeoMean, windowMean,
} from '../../src/analysis/equilibrium';
import { Rng } from '../../src/util/rng';

describe('equilibrium helpers', () => {
  it('predicts √(2ηλ/(1+β))', () => {
    expect(predictedAngularUpdate(0.1, 5e-3)).toBeCloseTo(Math.sqrt(1e-3), 12);
    expect(predictedAngularUpdate(0.1, 5e-3, 0.9)).toBeCloseTo(Math.sqrt(1e-3 / 1.9), 12);
  });

  it('averages over a half-open window of steps', () => {
    const x = [10, 20, 30, 40];
    const y = [1, 2, 3, 4];
    expect(windowMean(x, y, 10, 30)).toBe(2.5); // steps 20 and 30
    expect(windowMean(x, y, 40, 50)).toBeNaN();
    expect(windowGeoMean(x, [1, 4, 16, 64], 0, 20)).toBeCloseTo(2, 12);
  });

  it('block means drop a short tail', () => {
    const x = Array.from({ length: 100 }, (_, i) => i + 1);
    const b = blockMeans(x, x, 30, 0, 100);
    expect(b.y).toEqual([15.5, 45.5, 75.5]); // the last block (90, 100] holds 10 < 15 steps
    expect(b.x).toEqual([15, 45, 75]);
  });

  it('measures progress on a log scale', () => {
    expect(logProgress(1, 1, 0.1)).toBeCloseTo(0, 12);
    expect(logProgress(1, Math.sqrt(0.1), 0.1)).toBeCloseTo(0.5, 12);
    expect(logProgress(1, 2, 0.1)).toBeLessThan(0);
  });

  it('tells monotone trends within a tolerance', () => {
    expect(isMonotone([3, 2, 2.02, 1], 'down', 0.02)).toBe(true);
    expect(isMonotone([3, 2, 2.1, 1], 'down', 0.02)).toBe(false);
    expect(isMonotone([1, 2, 3], 'up')).toBe(true);
  });

  it('finds spikes above the minimum since the last spike, once per excursion', () => {
    //           0    1     2    3     4     5     6    7     8
    const loss = [1, 0.01, 0.5, 0.2, 0.45, 0.04, 0.6, 0.01, 0.005];
    // 0.5 > 10 × 0.01 at 2; 0.45 at 4 is the same spike (not 10× below its peak in between);
    // it ends at 5 (0.04 < 0.5/10), and 0.6 > 10 × 0.04 at 6 is a new one.
    expect(relativeSpikes(loss, 10)).toEqual([2, 6]);
    expect(relativeSpikes(loss, 10, 3)).toEqual([6]);
    expect(relativeSpikes([1, 0.5, 0.3, 0.1], 10)).toEqual([]);
    // A second spike that rises 10× from its own trough counts even while the loss is still far above the global minimum.
    expect(relativeSpikes([1, 1e-3, 5, 0.04, 2, 0.1, 1e-3], 10)).toEqual([2, 4]);
    expect(firstBelow(loss, 0.05)).toBe(1);
    expect(firstBelow(loss, 1e-4)).toBe(-1);
  });

  it('keeps the toy figure\'s absolute spike rule', () => {
    expect(spikeSteps([1, 1e-4, 0.5, 1e-4, 0.5], 1e-3, 0.1)).toEqual([2, 4]);
  });

  it('summarises a spread', () => {
    const s = spread([1, 2, 3]);
    expect(s).toEqual({ mean: 2, std: 1, min: 1, max: 3 });
    expect(spread([5]).std).toBe(0);
    expect(maxRelativeDeviation([1, 1, 1])).toBeCloseTo(0, 12);
    expect(maxRelativeDeviation([1, 4])).toBeCloseTo(1, 12); // geometric mean 2
  });
});

describe('equilibriumVerdict', () => {
  const lambdaEta = 1e-3;
  /** A metrics series every 10 steps: |w| and the angular update as functions of λη·step, the angle scattered by 25% per record as a real run's (docs/science.md). */
  function series(steps: number, w: (t: number) => number, angle: (t: number) => number, le: (step: number) => number = () => lambdaEta): EquilibriumRecord[] {
    const rng = new Rng('equilibrium-test');
    return Array.from({ length: steps / 10 }, (_, i) => {
      const step = 10 * (i + 1);
      return { step, lambda_eta: le(step), si_w_norm: w(lambdaEta * step), angular_update: angle(lambdaEta * step) * Math.exp(0.25 * rng.normal()) };
    });
  }
  const level = Math.sqrt(2 * lambdaEta);

  it('reads a settled series as at equilibrium', () => {
    const v = equilibriumVerdict(series(4000, () => 12, () => level), 3000, 4000);
    expect(v.reason).toMatch(/^λη·step 3\.00 ≥ 1\.25; /);
    expect(v.atEquilibrium).toBe(true);
    expect(v.timeConstants).toBeCloseTo(3, 12);
    expect(Math.abs(v.wNormDrift.slope)).toBeLessThan(1e-12);
  });

  it('reads a short run whose |w| still shrinks at the pure-WD rate as not at equilibrium, and says why', () => {
    const v = equilibriumVerdict(series(400, (t) => 12 * Math.exp(-t), () => level), 300, 400);
    expect(v.atEquilibrium).toBe(false);
    expect(v.wNormDrift.slope).toBeCloseTo(-1, 9);
    expect(v.reason).toMatch(/^λη·step 0\.30 < 1\.25 at the window's start; \|w\| drifts -1\.00 ± 0\.00 per 1\/λη/);
  });

  it('reads a long run still drifting as not at equilibrium: |w| growing, or the angular update rising', () => {
    const growing = equilibriumVerdict(series(4000, (t) => 12 * Math.exp(0.3 * t), () => level), 3000, 4000);
    expect([growing.atEquilibrium, growing.reason]).toEqual([false, '|w| drifts +0.30 ± 0.00 per 1/λη (tolerance ±0.1)']);
    const rising = equilibriumVerdict(series(4000, () => 12, (t) => level * Math.exp(0.6 * t)), 3000, 4000);
    expect(rising.atEquilibrium).toBe(false);
    expect(rising.reason).toMatch(/^angular update drifts \+0\.[4-8]\d ± 0\.\d\d per 1\/λη \(tolerance ±0\.1\)$/);
  });

  it('counts the time since λη last changed, and refuses a window λη changes in', () => {
    const decayed = series(4000, () => 12, () => level, (step) => (step <= 1000 ? 10 * lambdaEta : lambdaEta));
    const v = equilibriumVerdict(decayed, 3000, 4000);
    expect(v.timeConstants).toBeCloseTo(2, 12);
    expect(v.atEquilibrium).toBe(true);
    expect(equilibriumVerdict(decayed, 2000, 2500).reason).toMatch(/^λη·step 1\.00 < 1\.25/);
    const inside = equilibriumVerdict(series(4000, () => 12, () => level, (step) => (step <= 3500 ? 2 * lambdaEta : lambdaEta)), 3000, 4000);
    expect([inside.atEquilibrium, inside.reason]).toEqual([false, 'λη changes inside the window (step 3500)']);
    expect(equilibriumVerdict(series(40, () => 12, () => level), 30, 40).reason).toBe('1 step record in the window (steps 30–40): too few to tell');
  });
});
