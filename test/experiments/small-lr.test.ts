import { checkSmallLr, smallLrMeasures } from '../../src/experiments/small-lr';
import { failedChecks, passedNamed } from './verdicts';

const p = { tolerance: 0.01, lr: 0.1, lrRatio: 100, wd: 0.125, steps: 400, lengthRatio: 10 };
const passed = (large: number[], small: number[], check: string, q = p) => passedNamed(checkSmallLr(large, small, q), check);
const LONG_ENOUGH = 'the small-LR run is trained ≈ 1/λη of its own';
const MATCHES = 'small LR (η/100, trained longer) matches large LR';

describe('small-lr checks', () => {
  it('pass when the final accuracies agree within 1 point', () => {
    expect(failedChecks(checkSmallLr([0.812], [0.805], p))).toEqual([]);
  });
  it('fail when the small-LR run is more than 1 point behind (or ahead)', () => {
    expect(passed([0.812], [0.78], MATCHES)).toBe(false);
    expect(passed([0.78], [0.812], MATCHES)).toBe(false);
  });
  it('allow the seed spread when it is larger than 1 point', () => {
    const m = smallLrMeasures([0.80, 0.83], [0.81, 0.815], 0.01);
    expect(m.seedSpread).toBeCloseTo(0.03, 12);
    expect(m.allowed).toBeCloseTo(0.03, 12);
    expect(passed([0.80, 0.83], [0.81, 0.815], MATCHES)).toBe(true);
    expect(passed([0.80, 0.83], [0.77, 0.775], MATCHES)).toBe(false);
  });
  it('fail when the small run is too short for its λη', () => {
    expect(passed([0.81], [0.81], LONG_ENOUGH, { ...p, lengthRatio: 2 })).toBe(false);
  });
});
