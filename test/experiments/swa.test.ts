import { driftCurves } from '../../src/analysis/trajectory';
import { checkSwa, SwaMeasures } from '../../src/experiments/swa';

const p = { k: 4, equilibriumTolerance: 0.2, minRho: 0.9 };
const epochs = [5, 6, 7, 8, 9, 10];

/** Synthetic measures: distances √(Δ) (drifting) or a plateau with noise (mixing). */
function measures(o: Partial<SwaMeasures> & { plateau?: boolean } = {}): SwaMeasures {
  const wobble = (i: number, j: number) => 0.01 * Math.sin(7 * i + 3 * j);
  const dist = (i: number, j: number) => (o.plateau ? 1 + wobble(i, j) : Math.sqrt(epochs[j] - epochs[i]));
  return {
    snapshotEpochs: epochs,
    iterateAcc: [0.80, 0.82, 0.79, 0.81, 0.80, 0.82],
    swaFrom: [7, 8, 9, 10],
    swaAcc: [0.84, 0.835, 0.83, 0.82],
    finalA: 0.82,
    finalB: 0.81,
    twoRuns: 0.12,
    drift: driftCurves(epochs, dist),
    angular: 0.06,
    predictedAngular: 0.063,
    ...o,
  };
}
const passed = (m: SwaMeasures) => checkSwa(m, p).map((v) => v.passed);

describe('swa checks', () => {
  it('pass for SWA above its snapshots, a useless two-run average, and drifting iterates', () => {
    expect(passed(measures())).toEqual([true, true, true, true]);
  });
  it('use the SWA of exactly the last k snapshots', () => {
    // SWA from epoch 7 (the last 4) is below the mean of those 4 iterates (0.805): fails, although later starts are above.
    expect(passed(measures({ swaAcc: [0.80, 0.9, 0.9, 0.82] }))[1]).toBe(false);
  });
  it('fail when the two-run average beats the better run', () => {
    expect(passed(measures({ twoRuns: 0.83 }))[2]).toBe(false);
  });
  it('fail when the distance plateaus (a mixing process)', () => {
    expect(passed(measures({ plateau: true }))[3]).toBe(false);
  });
  it('fail when the snapshots are not at equilibrium', () => {
    expect(passed(measures({ angular: 0.03 }))[0]).toBe(false);
  });
});
