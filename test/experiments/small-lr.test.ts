import { checkSmallLr, smallLrMeasures } from '../../src/experiments/small-lr';

const p = { tolerance: 0.01, lr: 0.1, lrRatio: 100, wd: 0.125, steps: 400, lengthRatio: 10 };
const passed = (large: number[], small: number[], q = p) => checkSmallLr(large, small, q).map((v) => v.passed);

describe('small-lr checks', () => {
  it('pass when the final accuracies agree within 1 point', () => {
    expect(passed([0.812], [0.805])).toEqual([true, true]);
  });
  it('fail when the small-LR run is more than 1 point behind (or ahead)', () => {
    expect(passed([0.812], [0.78])[1]).toBe(false);
    expect(passed([0.78], [0.812])[1]).toBe(false);
  });
  it('allow the seed spread when it is larger than 1 point', () => {
    const m = smallLrMeasures([0.80, 0.83], [0.81, 0.815], 0.01);
    expect(m.seedSpread).toBeCloseTo(0.03, 12);
    expect(m.allowed).toBeCloseTo(0.03, 12);
    expect(passed([0.80, 0.83], [0.81, 0.815])[1]).toBe(true);
    expect(passed([0.80, 0.83], [0.77, 0.775])[1]).toBe(false);
  });
  it('fail when the small run is too short for its λη', () => {
    expect(passed([0.81], [0.81], { ...p, lengthRatio: 2 })[0]).toBe(false);
  });
});
