import { Context } from '../../src/experiments/frame';
import { checkRandomSchedules, randomPhases, randomSchedules, RandomSchedulesPreset, scheduleOfPhases, summarize } from '../../src/experiments/random-schedules';
import { scheduleAt } from '../../src/train/schedule';
import { failedChecks, passedNamed } from './verdicts';

const p: RandomSchedulesPreset = {
  dataset: 'fashion-mnist', model: 'cnn4-si', widths: [8, 16, 32], trainSubset: 10000, pool: 2, testSubset: 5000, batchSize: 32,
  runs: 5, phases: 4, phaseSteps: 250, lrRange: [-1, 0.7], lambdaEtaRange: [-1, 0.2], lr: 0.1, wd: 0.02, commonSteps: 1500, decay: 0.1, decaySteps: 800, evalEvery: 100,
};
const steps = Array.from({ length: 34 }, (_, i) => 100 * i); // 0 … 3300

/** Run i: random-phase |w| = 1 + i (apart), then relaxing to `wEq` (+ `wJitter`·i) with time constant `tau`; final accuracy 0.85 + accStep·i. */
function trace(i: number, o: { tau?: number; wJitter?: number; accStep?: number } = {}) {
  const { tau = 150, wJitter = 0, accStep = 0.002 } = o;
  const wEq = 2 + wJitter * i;
  const w = steps.map((s) => (s <= 1000 ? 1 + i : wEq + (1 + i - wEq) * Math.exp(-(s - 1000) / tau)));
  return {
    steps,
    wNorm: w,
    effLr: w.map((x) => 0.1 / (x * x)),
    acc: steps.map((s) => (s <= 2500 ? 0.75 : 0.85 + accStep * i)),
  };
}
const verdicts = (o: Parameters<typeof trace>[1] = {}) => checkRandomSchedules(summarize([0, 1, 2, 3, 4].map((i) => trace(i, o)), p, 200));
const SAME_W = 'same |w| at the end of the common phase';
const SAME_EFF_LR = 'same effective LR at the end of the common phase';
const SAME_ACC = 'same test accuracy after the final decay';

describe('random-schedules check', () => {
  it('passes when the runs meet in the common phase and end at the same accuracy', () => {
    expect(failedChecks(verdicts())).toEqual([]);
  });
  it('fails when the norms have not met by the end of the common phase', () => {
    for (const slowOrApart of [verdicts({ tau: 3000 }), verdicts({ wJitter: 0.3 })]) {
      expect(passedNamed(slowOrApart, SAME_W)).toBe(false);
      expect(passedNamed(slowOrApart, SAME_EFF_LR)).toBe(false);
    }
  });
  it('fails when the final accuracies are more than 1.5 points apart', () => {
    expect(passedNamed(verdicts({ accStep: 0.005 }), SAME_ACC)).toBe(false);
  });
});

it('random schedules: phases from the seed, then the common LR/WD, then LR decay with WD off', () => {
  const phases = randomPhases(p, 0, 0);
  expect(phases).toEqual(randomPhases(p, 0, 0));
  expect(phases).not.toEqual(randomPhases(p, 0, 1));
  for (const ph of phases) {
    expect(ph.lr * ph.wd).toBeLessThanOrEqual(0.1 * 0.02 * 10 ** 0.2 * 1.01);
    expect(ph.lr * ph.wd).toBeGreaterThanOrEqual(0.1 * 0.02 * 0.1 * 0.99);
  }
  const s = scheduleOfPhases(p, phases);
  expect(scheduleAt(s, { lr: 0.1, wd: 0.02 }, 260, 1)).toEqual(phases[1]);
  expect(scheduleAt(s, { lr: 0.1, wd: 0.02 }, 1000, 1)).toEqual({ lr: 0.1, wd: 0.02 });
  expect(scheduleAt(s, { lr: 0.1, wd: 0.02 }, 2500, 1).wd).toBe(0);
  expect(scheduleAt(s, { lr: 0.1, wd: 0.02 }, 2500, 1).lr).toBeCloseTo(0.01);
});

it('trains on --dataset (from --data-dir) when given, else on the figure\'s own data set at each scale', () => {
  const ctx: Context = { scale: 'cpu', dir: '/tmp/unused', seed: 0, ep: 'cpu', threads: 1, jobs: 1, quiet: true };
  expect(randomSchedules.preset('cpu', ctx)).toMatchObject({ dataset: 'fashion-mnist', dataDir: undefined });
  expect(randomSchedules.preset('paper', ctx)).toMatchObject({ dataset: 'cifar10', model: 'preresnet32' });
  expect(randomSchedules.preset('paper', { ...ctx, dataset: 'mnist', dataDir: '/data' })).toMatchObject({ dataset: 'mnist', dataDir: '/data' });
});
