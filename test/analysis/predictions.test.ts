import { argmaxRows, crossDistance, halvesDistance, l1Distance } from '../../src/analysis/predictions';
import { Rng } from '../../src/util/rng';

/** `runs` runs predicting `inputs` inputs, each input's label drawn from `dist(i)` (a distribution over 3 classes). */
function sample(runs: number, inputs: number, dist: (i: number) => number[], rng: Rng): Uint8Array[] {
  return Array.from({ length: runs }, () => Uint8Array.from({ length: inputs }, (_, i) => {
    const p = dist(i);
    let u = rng.uniform();
    for (let k = 0; k < p.length; k++) if ((u -= p[k]) < 0) return k;
    return p.length - 1;
  }));
}

describe('l1Distance', () => {
  it('is 0 for identical predictions and 2 for disjoint ones', () => {
    const a = [Uint8Array.of(0, 1, 2)];
    expect(l1Distance(a, a, 3)).toBe(0);
    expect(l1Distance(a, [Uint8Array.of(1, 2, 0)], 3)).toBeCloseTo(2);
  });
  it('averages Σ_k |p_A(k) − p_B(k)| over inputs', () => {
    // input 0: A = {0: 1/2, 1: 1/2}, B = {0: 1} → 1; input 1: equal → 0.
    const a = [Uint8Array.of(0, 2), Uint8Array.of(1, 2)];
    const b = [Uint8Array.of(0, 2), Uint8Array.of(0, 2)];
    expect(l1Distance(a, b, 3)).toBeCloseTo(0.5);
  });
  it('rejects runs over different evaluation sets', () => {
    expect(() => l1Distance([Uint8Array.of(0)], [Uint8Array.of(0, 1)], 2)).toThrow(/same evaluation set/);
  });
});

describe('halves and cross distances', () => {
  const rng = new Rng(1);
  const p = () => [0.6, 0.3, 0.1];
  const q = () => [0.1, 0.3, 0.6];
  it('two groups from one distribution: cross ≈ halves (same finite-sample bias)', () => {
    const a = sample(8, 2000, p, rng);
    const b = sample(8, 2000, p, rng);
    const cross = crossDistance(a, b, 3, 10, rng);
    const halves = (halvesDistance(a, 3, 10, rng) + halvesDistance(b, 3, 10, rng)) / 2;
    expect(halves).toBeGreaterThan(0.3); // the bias: 4 vs 4 samples of one distribution are far from 0 apart
    expect(Math.abs(cross - halves)).toBeLessThan(0.05);
  });
  it('different distributions: cross is well above halves', () => {
    const a = sample(8, 2000, p, rng);
    const b = sample(8, 2000, q, rng);
    expect(crossDistance(a, b, 3, 10, rng)).toBeGreaterThan(halvesDistance(a, 3, 10, rng) + 0.3);
  });
  it('needs at least two runs per group', () => {
    expect(() => halvesDistance([Uint8Array.of(0)], 2, 1, rng)).toThrow(/at least 2 runs/);
  });
});

it('argmaxRows takes the largest logit of each row', () => {
  expect([...argmaxRows([0, 2, 1, 5, -1, 3], 2, 3)]).toEqual([1, 0]);
});
