import { distance, driftCurves, driftMonotonicity, meanDriftCurves, ranks, spearman } from '../../src/analysis/trajectory';
import { Rng } from '../../src/util/rng';

describe('rank correlation', () => {
  it('ranks ties by their average rank', () => {
    expect(ranks([3, 1, 2, 1])).toEqual([4, 1.5, 3, 1.5]);
  });
  it('is 1 for any increasing relation, −1 for a decreasing one, NaN when undefined', () => {
    const x = [1, 2, 3, 4, 5];
    expect(spearman(x, x.map((v) => Math.exp(v)))).toBeCloseTo(1, 12);
    expect(spearman(x, x.map((v) => -v * v))).toBeCloseTo(-1, 12);
    expect(spearman([1], [2])).toBeNaN();
    expect(spearman(x, [2, 2, 2, 2, 2])).toBeNaN();
    expect(() => spearman(x, [1, 2])).toThrow(/5 x values but 2/);
  });
  it('matches the textbook formula 1 − 6Σd²/(n(n²−1)) without ties', () => {
    const x = [1, 2, 3, 4, 5, 6];
    const y = [2, 1, 4, 3, 6, 5];
    expect(spearman(x, y)).toBeCloseTo(1 - (6 * 6) / (6 * 35), 12);
  });
});

describe('drift between snapshots', () => {
  it('distance is the Euclidean norm over all tensors', () => {
    expect(distance([[0, 0], [0]], [[3, 0], [4]])).toBeCloseTo(5, 12);
    expect(() => distance([[0]], [[0, 1]])).toThrow(/tensor 0/);
  });

  /** Snapshots of a random walk (keeps drifting) or of an OU process far past its mixing time (plateaus). */
  function trajectory(kind: 'walk' | 'ou', n = 12, dim = 2000): number[][] {
    const rng = new Rng([1, kind]);
    let w = Array.from({ length: dim }, () => rng.normal());
    const out: number[][] = [];
    for (let t = 0; t < n; t++) {
      // OU with per-snapshot decay 0.05: snapshots are nearly independent draws from the stationary law.
      w = kind === 'walk' ? w.map((v) => v + 0.3 * rng.normal()) : w.map((v) => 0.05 * v + Math.sqrt(1 - 0.05 ** 2) * rng.normal());
      out.push(w);
    }
    return out;
  }
  const rhos = (kind: 'walk' | 'ou') => {
    const w = trajectory(kind);
    const times = w.map((_, i) => i + 1);
    return driftMonotonicity(driftCurves(times, (i, j) => distance([w[i]], [w[j]])));
  };

  it('curves start at every snapshot but the last; Δ counts from T', () => {
    const c = driftCurves([3, 4, 6], (i, j) => 10 * i + j);
    expect(c).toEqual([{ t: 3, delta: [1, 3], dist: [1, 2] }, { t: 4, delta: [2], dist: [12] }]);
    expect(driftMonotonicity(c, 2).map((r) => r.t)).toEqual([3]);
  });
  it('the mean of several trajectories is taken point by point; other snapshot times are refused', () => {
    const a = driftCurves([3, 4, 6], (i, j) => 10 * i + j);
    const b = driftCurves([3, 4, 6], (i, j) => 20 * i + 3 * j);
    expect(meanDriftCurves([a, b])).toEqual([{ t: 3, delta: [1, 3], dist: [2, 4] }, { t: 4, delta: [2], dist: [19] }]);
    expect(meanDriftCurves([a])).toEqual(a);
    expect(() => meanDriftCurves([a, driftCurves([3, 5, 6], () => 1)])).toThrow(/different times/);
    expect(() => meanDriftCurves([])).toThrow(/no trajectories/);
  });
  it('a random walk keeps drifting: ρ > 0.9 from every start', () => {
    const r = rhos('walk');
    expect(r.length).toBe(9);
    expect(Math.min(...r.map((x) => x.rho))).toBeGreaterThan(0.9);
  });
  it('a mixed Ornstein–Uhlenbeck process plateaus: ρ is far from 1', () => {
    expect(Math.min(...rhos('ou').map((x) => x.rho))).toBeLessThan(0.9);
  });
});
