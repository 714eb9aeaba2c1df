import { explrAlpha, explrBufferFactor, explrLr, explrNormRatio, explrSchedule, maxIntrinsicLr } from '../../src/analysis/explr';
import { scheduleAt } from '../../src/train/schedule';

describe('ExpLR α', () => {
  it('is 1 − λη without momentum', () => {
    for (const [lr, wd] of [[0.1, 5e-4], [0.1, 0.01], [1, 0.3]]) expect(explrAlpha({ lr, wd, momentum: 0 })).toBeCloseTo(1 - lr * wd, 15);
  });

  it('is the larger root of x² − (1 + β − λη)x + β', () => {
    for (const momentum of [0.5, 0.9, 0.99]) {
      const h = { lr: 0.1, wd: 1e-4, momentum };
      const a = explrAlpha(h);
      const b = 1 + momentum - h.lr * h.wd;
      expect(a * a - b * a + momentum).toBeCloseTo(0, 14);
      // The other root is β/α (product of the roots), smaller than α.
      expect(momentum / a).toBeLessThan(a);
      expect(a).toBeLessThan(1);
      // First order in λη: α ≈ 1 − λη/(1 − β) (for λη ≪ (1 − √β)², so not at β = 0.99 here).
      if (momentum <= 0.9) expect(Math.abs(1 - a - (h.lr * h.wd) / (1 - momentum)) / ((h.lr * h.wd) / (1 - momentum))).toBeLessThan(0.05);
    }
  });

  it('refuses λη beyond (1 − √β)², where there is no real root', () => {
    expect(maxIntrinsicLr(0.9)).toBeCloseTo((1 - Math.sqrt(0.9)) ** 2, 15);
    expect(() => explrAlpha({ lr: 0.1, wd: 0.03, momentum: 0.9 })).toThrow(/no real root/);
    expect(() => explrAlpha({ lr: 0.1, wd: 0.01, momentum: 1 })).toThrow(/momentum/);
  });
});

describe('ExpLR schedule', () => {
  const h = { lr: 0.1, wd: 5e-3, momentum: 0.9 };
  const a = explrAlpha(h);

  it('is η·α^(−2t−1), and the exponential schedule with lrScale 1/α, lrRate α^(−2) gives the same values', () => {
    const s = explrSchedule(h);
    expect(s).toEqual({ kind: 'exponential', unit: 'step', lrScale: 1 / a, lrRate: a ** -2 });
    for (const t of [0, 1, 2, 10, 500]) {
      expect(explrLr(h, t)).toBeCloseTo(h.lr * a ** (-2 * t - 1), 12);
      const fromSchedule = scheduleAt(s, { lr: h.lr, wd: 0 }, t, 7);
      expect(fromSchedule.wd).toBe(0);
      expect(Math.abs(fromSchedule.lr / explrLr(h, t) - 1)).toBeLessThan(1e-12);
    }
    // The successive ratio is α^(−2), and η̃_t·… = η·c_t·c_{t+1} with c_t = α^(−t).
    expect(explrLr(h, 4) / explrLr(h, 3)).toBeCloseTo(a ** -2, 12);
    expect(explrLr(h, 3)).toBeCloseTo(h.lr * explrNormRatio(a, 3) * explrNormRatio(a, 4), 12);
  });

  it('reproduces w^B_t = α^(−t)·w^A_t on a scale-invariant toy loss (float64 recurrences)', () => {
    // L(w) = w₀² / |w|²: scale-invariant, so ∇L(c·w) = ∇L(w)/c.
    const grad = (w: number[]) => {
      const n2 = w.reduce((s, x) => s + x * x, 0);
      return w.map((x, i) => (i === 0 ? (2 * w[0]) / n2 : 0) - (2 * w[0] * w[0] * x) / (n2 * n2));
    };
    for (const momentum of [0, 0.9]) {
      const hh = { ...h, momentum };
      const alpha = explrAlpha(hh);
      const k = explrBufferFactor(hh, alpha);
      let wA = [0.8, 0.3, -0.5];
      let wB = [...wA];
      let vA = [0, 0, 0];
      let vB = wB.map((x) => k * x);
      for (let t = 0; t < 200; t++) {
        const gA = grad(wA).map((g, i) => g + hh.wd * wA[i]);
        const gB = grad(wB);
        vA = vA.map((v, i) => momentum * v + gA[i]);
        vB = vB.map((v, i) => momentum * v + gB[i]);
        const lrB = explrLr(hh, t, alpha);
        wA = wA.map((x, i) => x - hh.lr * (momentum > 0 ? vA[i] : gA[i]));
        wB = wB.map((x, i) => x - lrB * (momentum > 0 ? vB[i] : gB[i]));
        const c = explrNormRatio(alpha, t + 1);
        for (let i = 0; i < 3; i++) expect(Math.abs(wB[i] - c * wA[i])).toBeLessThan(1e-10 * c);
      }
      // With momentum, the buffer must start at v₀: from zero the pair differs after one step.
      if (momentum > 0) {
        const w0 = [0.8, 0.3, -0.5];
        const g0 = grad(w0);
        const wB1 = w0.map((x, i) => x - explrLr(hh, 0, alpha) * g0[i]);
        const wA1 = w0.map((x, i) => x - hh.lr * (g0[i] + hh.wd * x));
        expect(Math.max(...wB1.map((x, i) => Math.abs(x - wA1[i] / alpha)))).toBeGreaterThan(1e-4);
      }
    }
  });
});
