import { checkIntrinsic, products, RunSummary } from '../../src/experiments/intrinsic';
import { failedChecks, passedNamed, verdictNamed } from './verdicts';

const p = { momentum: 0, accFloor: 0.01 };
const run = (lr: number, wd: number, seed: number, o: Partial<RunSummary> = {}): RunSummary => ({
  lr, wd, seed, name: `${lr}-${wd}-${seed}`,
  angular: Math.sqrt(2 * lr * wd) * 1.03,
  effLr: 0.3 * Math.sqrt(lr * wd), // depends on λη only
  testAcc: 0.85 + 0.005 * seed,
  ...o,
});
const grid = () => [run(0.1, 0.02, 0), run(0.1, 0.02, 1), run(0.05, 0.04, 0), run(0.2, 0.01, 0), run(0.1, 0.01, 0, { testAcc: 0.83 })];
const passed = (runs: RunSummary[], check: string) => passedNamed(checkIntrinsic(runs, p), check);
const AT_PREDICTION = 'equilibrium angular update = √(2ηλ/(1+β)) in every run';
const EQUAL_EFF_LR = 'equal equilibrium effective LR';
const EQUAL_ACC = 'equal test accuracy';
const OTHER_PRODUCT = 'differs from λη';

describe('intrinsic check', () => {
  it('orders products with the most η first', () => {
    expect(products(grid())).toEqual([0.002, 0.001]);
  });
  it('passes on a grid with the phenomenon', () => {
    expect(failedChecks(checkIntrinsic(grid(), p))).toEqual([]);
  });
  it('fails when an angular update misses the prediction', () => {
    const g = grid();
    g[3].angular *= 1.3;
    expect(passed(g, AT_PREDICTION)).toBe(false);
  });
  it('fails when equal-product runs have different effective LRs (e.g. |w|² compared without the √η rescaling)', () => {
    const g = grid().map((r) => ({ ...r, effLr: 0.3 * Math.sqrt(r.wd * r.lr) * Math.sqrt(r.lr / 0.1) }));
    expect(passed(g, EQUAL_EFF_LR)).toBe(false);
  });
  it('needs three η at one product', () => {
    expect(passed(grid().filter((r) => r.lr !== 0.2), EQUAL_EFF_LR)).toBe(false);
  });
  it('fails when test accuracies differ beyond the seed spread', () => {
    const g = grid();
    g[2].testAcc = 0.8;
    expect(passed(g, EQUAL_ACC)).toBe(false);
  });
  it('compares the first seed of each η, and measures the seed spread from the others', () => {
    const g = grid();
    g[0].testAcc = 0.8; // seed 0 at η 0.1 is off; seed 1 is not, so the seed range is 5 points and η 0.1 (seed 0) is 5 points below the others
    const v = verdictNamed(checkIntrinsic(g, p), EQUAL_ACC);
    expect(v.measured).toContain('80%');
    expect(v.passed).toBe(true);
    g[1].testAcc = 0.81;
    expect(passed(g, EQUAL_ACC)).toBe(false);
  });
  it('fails when a different product gives the same equilibrium', () => {
    const g = grid();
    g[4] = { ...g[4], angular: g[0].angular, effLr: g[0].effLr };
    expect(passed(g, OTHER_PRODUCT)).toBe(false);
  });
});
