import { checkDecay, DecayPreset, DecayTrace, expectedRecovery } from '../../src/experiments/decay';
import { checksNamed, failedChecks, passedNamed } from './verdicts';

const p: DecayPreset = {
  model: 'cnn4-si', dataset: 'fashion-mnist', trainSubset: null, testSubset: 1000, batchSize: 32, bnEps: 1e-8,
  lr: 0.1, wd: 0.02, momentum: 0, decayStep: 1000, steps: 3000, window: 300, smooth: 500, monotoneTolerance: 0.05,
  logEvery: 5, evalEvery: 250, long: false, seed: 0,
};
const A0 = Math.sqrt(2 * 0.1 * 0.02);
const A1 = A0 / Math.sqrt(10);
const steps = Array.from({ length: 600 }, (_, i) => 5 * (i + 1));
const noise = (i: number) => 1 + 0.02 * Math.sin(i * 1.7);

/** LR decay: angular update drops to A1/10·… and recovers to A1 within `tau` steps; |w|² shrinks from 1 toward 1/√10 with `wTau`. */
function lrRun(tau = 100, level = A1, wTau = 1250): DecayTrace {
  const w2 = steps.map((s) => (s <= 1000 ? 1 : Math.sqrt(0.1 + 0.9 * Math.exp(-(s - 1000) / wTau))));
  return {
    step: steps,
    effLr: steps.map((s, i) => (s <= 1000 ? 0.1 : 0.01) / w2[i]),
    angular: steps.map((s, i) => (s <= 1000 ? A0 : level + (A0 / 10 - level) * Math.exp(-(s - 1000) / tau)) * noise(i)),
  };
}
/** WD decay: a gradual fall from A0 toward A1 with time constant `tau` (no jump). */
function wdRun(tau = 1000, bump = 0): DecayTrace {
  return {
    step: steps,
    effLr: steps.map(() => 0.1),
    angular: steps.map((s, i) => (s <= 1000 ? A0 : A1 * (A0 / A1) ** Math.exp(-(s - 1000) / tau) * (s > 2000 && s <= 2500 ? 1 + bump : 1)) * noise(i)),
  };
}
const passed = (a: DecayTrace, b: DecayTrace, check: string) => passedNamed(checkDecay(a, b, p), check);

describe('decay check', () => {
  it('passes on curves with the phenomenon', () => {
    expect(failedChecks(checkDecay(lrRun(), wdRun(), p))).toEqual([]);
  });
  it('fails when the angular update does not settle √10 lower', () => {
    expect(passed(lrRun(100, A0 / 2), wdRun(), 'the angular update settles √10 lower')).toBe(false);
  });
  it('fails when the effective LR does not recover', () => {
    expect(passed(lrRun(100, A1, 1e9), wdRun(), 'then the effective LR rises again')).toBe(false);
  });
  it('fails when the WD decay jumps, rises, or has not got halfway', () => {
    expect(passed(lrRun(), wdRun(1), 'no jump')).toBe(false); // a jump: immediate
    expect(passed(lrRun(), wdRun(1000, 0.5), 'falls monotonically')).toBe(false); // not monotone
    expect(passed(lrRun(), wdRun(6000), 'halfway')).toBe(false); // too slow
  });
  it('fails when the run was not at equilibrium before the decay', () => {
    const a = lrRun();
    a.angular = a.angular.map((v, i) => (steps[i] <= 1000 ? v / 2 : v));
    expect(passed(a, wdRun(), 'before the decays')).toBe(false);
  });
  it('adds the long-run checks at paper scale', () => {
    const v = checkDecay(lrRun(100, A1, 300), wdRun(300), { ...p, long: true });
    expect(v).toHaveLength(checkDecay(lrRun(), wdRun(), p).length + 2);
    expect(failedChecks(v)).toEqual([]);
    // Recovering with the default time constants, the runs have not settled by the end.
    const early = checkDecay(lrRun(), wdRun(), { ...p, long: true });
    expect(failedChecks(early)).toEqual(checksNamed(early, 'the effective LR settles √10 lower', 'arrives at the new level'));
  });
  it('expects the recovery from e^(−4λη t)', () => {
    expect(expectedRecovery(0)).toBeCloseTo(0, 12);
    expect(expectedRecovery(100)).toBeCloseTo(1, 6);
  });
});
