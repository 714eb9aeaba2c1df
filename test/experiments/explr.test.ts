/**
 * The explr figure's checks on synthetic divergence curves (with and without the phenomenon), its
 * helpers, and a tiny real run through the step engine: run B on the ExpLR schedule keeps
 * |w_B| / |w_A| = α^(−t).
 */
import { explrAlpha, explrBufferFactor, explrLr, explrNormRatio } from '../../src/analysis/explr';
import { fullBatches, syntheticDataset } from '../../src/data';
import {
  baselineWindow, checkBnEps, checkCurves, explr, explrChart, ExplrCurves, geometricMean, relativeDistance, ulpPerturb,
} from '../../src/experiments/explr';
import { Context } from '../../src/experiments/frame';
import { renderChart } from '../../src/plot/chart';
import { TensorMap } from '../../src/graph/tensors';
import { InputShape } from '../../src/nn/model';
import { modelSpec } from '../../src/nn/spec';
import { StepEngine } from '../../src/train/engine';
import { Rng } from '../../src/util/rng';
import { checksNamed, failedChecks, passedNamed } from './verdicts';

const thresholds = { factor: 10, baselineEnd: 1e-2, controlEnd: 1e-3, normWindow: 1e-3, normTol: 0.01 };

/** Chaotic growth from 1e-7 by `rate` per step, saturating at 3e-2 (as measured at cpu scale). */
const growth = (start: number, rate: number, steps: number) => Array.from({ length: steps }, (_, i) => Math.min(start * rate ** i, 3e-2));

function curves(over: Partial<ExplrCurves> = {}): ExplrCurves {
  const steps = Array.from({ length: 30 }, (_, i) => i + 1);
  const alpha = 0.999;
  const normA = steps.map((t) => 8 + 0.01 * t);
  return {
    momentum: 0, alpha, steps,
    explr: growth(3e-7, 4, 30),
    baseline: growth(5e-7, 4, 30),
    control: steps.map((t) => Math.min(3e-4 * 3 ** (t - 1), 5e-2)),
    normA,
    normB: normA.map((n, i) => n * explrNormRatio(alpha, steps[i]) * (1 + 1e-7)),
    ...over,
  };
}

const verdicts = (c: ExplrCurves) => checkCurves(c, thresholds);
const passed = (c: ExplrCurves, check: string) => passedNamed(verdicts(c), check);
const PAIR = 'ExpLR pair (a) within';
const CONTROL = 'control (c) at least';
const NORM_RATIO = 'weight-norm ratio';

describe('explr checks', () => {
  it('pass on curves with the phenomenon', () => {
    expect(failedChecks(verdicts(curves()))).toEqual([]);
  });

  it('the windows end where the baseline first reaches the threshold', () => {
    const b = growth(5e-7, 4, 30);
    expect(baselineWindow(b, 1e-2)).toBe(b.findIndex((x) => x >= 1e-2));
    expect(baselineWindow([1e-7, 1e-6], 1e-2)).toBe(2);
    expect(baselineWindow([1e-1], 1e-2)).toBe(0);
  });

  it('fail when the ExpLR pair diverges faster than rounding', () => {
    // A real discrepancy (e.g. B's buffer from zero): 1e-4 at step 1, then amplified by the same chaos.
    expect(passed(curves({ explr: growth(1e-4, 4, 30) }), PAIR)).toBe(false);
    // One late excursion above 10× inside the window is enough.
    const c = curves();
    const explr = [...c.explr];
    explr[3] = 11 * c.baseline[3];
    expect(passed({ ...c, explr }, PAIR)).toBe(false);
    // After the baseline passed 1e-2 anything goes.
    const late = [...c.explr];
    late[25] = 100 * c.baseline[25];
    expect(passed({ ...c, explr: late }, PAIR)).toBe(true);
  });

  it('fail when the control is not separated from the rounding baseline', () => {
    expect(passed(curves({ control: growth(2e-6, 4, 30) }), CONTROL)).toBe(false);
  });

  it('fail when the norm ratio does not follow α^(−t)', () => {
    const c = curves();
    // Ratio 1 (no rescaling at all), and α^(−t) with a 2% wrong exponent.
    expect(passed({ ...c, normB: c.normA }, NORM_RATIO)).toBe(false);
    expect(passed({ ...c, normB: c.normA.map((n, i) => n * explrNormRatio(c.alpha, c.steps[i]) ** 1.02) }, NORM_RATIO)).toBe(false);
    expect(passed({ ...c, normB: c.normA.map((n, i) => n * explrNormRatio(c.alpha, c.steps[i]) ** 1.005) }, NORM_RATIO)).toBe(true);
  });

  it('fail with empty windows (the baseline already at 1e-2 at step 1)', () => {
    const v = verdicts(curves({ baseline: new Array(30).fill(2e-2) }));
    expect(failedChecks(v)).toEqual(checksNamed(v, PAIR, CONTROL, NORM_RATIO));
  });

  it('BN ε is negligible in float32 only below 2^−24 of the smallest variance', () => {
    expect(checkBnEps(1e-12, 0.03).passed).toBe(true);
    expect(checkBnEps(1e-5, 0.03).passed).toBe(false);
  });
});

describe('explr helpers', () => {
  it('relative distance and geometric mean', () => {
    expect(relativeDistance([3, 4], [3, 4])).toBe(0);
    expect(relativeDistance([3, 4], [3, 5])).toBeCloseTo(0.2, 15);
    expect(geometricMean([1e-6, 1e-4])).toBeCloseTo(1e-5, 18);
  });

  it('ulpPerturb moves every non-zero entry by exactly one float32 ulp', () => {
    const x = Float32Array.from([1, -0.3, 7e-5, 0, 123.5]);
    const y = ulpPerturb(x, new Rng([1, 'test']));
    expect(y[3]).toBe(0);
    for (const i of [0, 1, 2, 4]) {
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(x[i]))) - 23);
      const d = Math.abs(y[i] - x[i]);
      expect(d === ulp || d === ulp / 2).toBe(true); // a step down from a power of two is half an ulp
    }
  });
});

describe('explr through the step engine', () => {
  it('keeps |w_B| / |w_A| = α^(−t) for the first steps, with and without momentum', async () => {
    const ds = syntheticDataset('train', { trainCount: 64, shape: [1, 8, 8], numClasses: 4, seed: 3 });
    const input = ds.shape as InputShape;
    const spec = modelSpec('cnn4-si', { inChannels: input[0], numClasses: ds.numClasses, bnEps: 1e-12 });
    const batches = [...fullBatches(ds, { chunkSize: 16 })];
    for (const momentum of [0, 0.9]) {
      const engine = await StepEngine.create({ spec, input, batch: 16, optimizer: { name: 'sgd', momentum: Math.fround(momentum) }, runtime: { threads: 1 } });
      const trained = engine.trainable.map((x) => x.name);
      const init = engine.initialState(0);
      const norm = (s: TensorMap) => Math.sqrt(trained.reduce((a, k) => a + (s.get(k)!.data as Float32Array).reduce((b, x) => b + x * x, 0), 0));
      const h = { lr: Math.fround(0.1), wd: Math.fround(0.02), momentum: Math.fround(momentum) };
      const alpha = explrAlpha(h);
      const k = explrBufferFactor(h, alpha);
      const run = (wd: number, lr: (t: number) => number, buffer: (w: Float32Array) => Float32Array) => {
        const state = new Map(init);
        for (const { key, param } of engine.slots) state.set(key, { ...init.get(key)!, data: buffer(init.get(param.name)!.data as Float32Array) });
        return { state: engine.upload(state), wd: new Float32Array(trained.length).fill(wd), lr };
      };
      const A = run(h.wd, () => h.lr, (w) => new Float32Array(w.length));
      const B = run(0, (t) => explrLr(h, t, alpha), (w) => Float32Array.from(w, (x) => k * x));
      for (let t = 0; t < batches.length; t++) {
        for (const r of [A, B]) r.state = (await engine.step(r.state, [batches[t]], { lr: r.lr(t), wd: r.wd })).state;
        const [sA, sB] = [await engine.download(A.state), await engine.download(B.state)];
        const predicted = explrNormRatio(alpha, t + 1);
        expect(Math.abs(Math.log(norm(sB) / norm(sA)) / Math.log(predicted) - 1)).toBeLessThan(0.01);
        // And weight by weight: w_B = α^(−t)·w_A up to float32 rounding amplified over a few steps.
        const wA = sA.get(trained[1])!.data as Float32Array;
        const wB = sB.get(trained[1])!.data as Float32Array;
        expect(relativeDistance(Float64Array.from(wA, (x) => x * predicted), wB)).toBeLessThan(1e-3);
      }
      await engine.release();
    }
  });
});

describe('explr chart', () => {
  it('renders without vega-lite warnings (a panel with the v₀ = 0 series and one without share no scale)', async () => {
    const ctx = { scale: 'smoke', dir: '/tmp/unused', seed: 0, ep: 'cpu', threads: 1, jobs: 1, quiet: true } as Context;
    const p = explr.preset('smoke', ctx);
    const baselineRuns = [growth(4e-7, 4, 30), growth(6e-7, 4, 30)];
    const variants = [curves({ baselineRuns }), curves({ momentum: 0.9, baselineRuns, zeroBuffer: growth(1e-3, 2, 30) })];
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const { svg } = await renderChart(explrChart(p, { preset: p, variants, minBnVar: 1, seconds: 0 }));
      expect(svg).toContain('ExpLR with v₀ = 0');
      expect(warn.mock.calls.map((c) => c.join(' '))).toEqual([]);
    } finally {
      warn.mockRestore();
    }
  });
});
