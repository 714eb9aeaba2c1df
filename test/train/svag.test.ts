/**
 * SVAG (issue #28): the coefficients, the step the program takes (checked against the gradient
 * program's per-batch gradients, each with its own batch statistics), the mean and covariance of
 * its gradient over every pair of batches, and the config's refusals.
 */
import { fullBatches, syntheticDataset } from '../../src/data';
import { TensorMap } from '../../src/graph/tensors';
import { InputShape } from '../../src/nn/model';
import { modelSpec } from '../../src/nn/spec';
import { predictedAngle, svagCoefficients } from '../../src/programs/optimizers';
import { gradientGraph } from '../../src/programs/programs';
import { Program } from '../../src/runtime/session';
import { resolveConfig } from '../../src/train/config';
import { StepEngine } from '../../src/train/engine';

const ds = syntheticDataset('train', { trainCount: 32, shape: [1, 8, 8], numClasses: 4, seed: 5 });
const input = ds.shape as InputShape;
const spec = modelSpec('cnn4', { inChannels: 1, numClasses: 4 });
/** Four batches of 8: the finite set a step's two independent batches are drawn from. */
const batches = [...fullBatches(ds, { chunkSize: 8 })];
const runtime = { threads: 1 };
const data = (s: TensorMap, name: string) => s.get(name)!.data as Float32Array;

describe('SVAG', () => {
  it('has coefficients with c₁ + c₂ = 1 and c₁² + c₂² = L; L = 1 is one batch', () => {
    expect(svagCoefficients(1)).toEqual([1, 0]);
    for (let l = 1; l <= 16; l++) {
      const [c1, c2] = svagCoefficients(l);
      expect(c1 + c2).toBeCloseTo(1, 12);
      expect(c1 * c1 + c2 * c2).toBeCloseTo(l, 12);
    }
  });

  it('predicts the angular update √(2(η/L)λ/(1+β)) per step', () => {
    const [lr, wd, beta] = [0.8, 5e-4, 0.9];
    expect(predictedAngle({ name: 'sgd', momentum: beta, svag: 4 }, lr, wd)).toBeCloseTo(Math.sqrt((2 * (lr / 4) * wd) / (1 + beta)), 12);
    expect(predictedAngle({ name: 'sgd', momentum: 0, svag: 1 }, lr, wd)).toBe(predictedAngle({ name: 'sgd', momentum: 0 }, lr, wd));
  });

  describe('the step, against per-batch gradients', () => {
    const L = 4;
    const [c1, c2] = svagCoefficients(L);
    let engine: StepEngine;
    let gradient: Program;
    let start: TensorMap;
    /** The gradient program on one batch from `state`: its gradients, running statistics, loss and correct count. */
    const batchGradient = (state: TensorMap, i: number) =>
      gradient.run({ ...Object.fromEntries([...state].map(([k, v]) => [k, v.data])), input: batches[i].x, target: batches[i].y });

    beforeAll(async () => {
      engine = await StepEngine.create({ spec, input, batch: 8, optimizer: { name: 'sgd', momentum: 0, svag: L }, runtime });
      gradient = await Program.create(gradientGraph({ spec, batch: 8, input }), runtime);
      start = engine.initialState(2);
    });
    afterAll(async () => {
      await engine.release();
      await gradient.release();
    });

    it('steps by −(η/L)(c₁∇L₁ + c₂∇L₂ + λw), each loss with its own batch statistics, and chains the running statistics batch 1 then batch 2', async () => {
      expect(engine.batchesPerStep).toBe(2);
      const [lr, wd] = [0.4, 0.01];
      const r = await engine.step(engine.upload(start), [batches[0], batches[1]], { lr, wd: new Float32Array(engine.trainable.length).fill(wd) });
      const next = await engine.download(r.state);
      const g1 = await batchGradient(start, 0);
      const g2 = await batchGradient(start, 1);
      for (const p of engine.trainable) {
        const w = data(start, p.name);
        const [a, b] = [g1[`grad.${p.name}`] as Float32Array, g2[`grad.${p.name}`] as Float32Array];
        const expected = w.map((wi, k) => wi - (lr / L) * (c1 * a[k] + c2 * b[k] + wd * wi));
        const err = Math.max(...data(next, p.name).map((x, k) => Math.abs(x - expected[k])));
        expect(err).toBeLessThan(1e-6 * Math.max(1, ...w.map(Math.abs)));
      }
      // torch running the two forwards in train mode one after the other: batch 1's statistics, then batch 2's.
      const afterFirst: TensorMap = new Map(start);
      for (const [k, v] of Object.entries(g1)) if (k.startsWith('next.')) afterFirst.set(k.slice(5), { dtype: 'float32', shape: start.get(k.slice(5))!.shape, data: v as Float32Array });
      const afterSecond = await batchGradient(afterFirst, 1);
      const runningNames = [...start.keys()].filter((k) => k.endsWith('.running_mean') || k.endsWith('.running_var'));
      expect(runningNames.length).toBeGreaterThan(0);
      for (const k of runningNames) {
        const expected = afterSecond[`next.${k}`] as Float32Array;
        const err = Math.max(...data(next, k).map((x, i) => Math.abs(x - expected[i])));
        expect(err).toBeLessThan(1e-6 * Math.max(1, ...expected.map(Math.abs)));
      }
      expect(r.loss).toBeCloseTo(((g1.loss[0] as number) + (g2.loss[0] as number)) / 2, 5);
      expect(r.correct).toBe((g1.correct[0] as number) + (g2.correct[0] as number));
      expect(r.images).toBe(16);
      await expect(engine.step(engine.upload(start), [batches[0]], { lr, wd: new Float32Array(engine.trainable.length) })).rejects.toThrow(/two batches \(SVAG\) of 8/);
    });

    it('over every pair of independent batches, its gradient has the mean of one batch\'s and L times its covariance', async () => {
      // With λ = 0 and η = L a step moves w by −g exactly: g = w − w'.
      const names = engine.trainable.map((p) => p.name);
      const flat = (s: TensorMap) => Float64Array.from(names.flatMap((n) => [...data(s, n)]));
      const w = flat(start);
      const sgd = await Promise.all(batches.map(async (_, i) => {
        const g = await batchGradient(start, i);
        return Float64Array.from(names.flatMap((n) => [...(g[`grad.${n}`] as Float32Array)]));
      }));
      const svag: Float64Array[] = [];
      for (let i = 0; i < batches.length; i++) {
        for (let j = 0; j < batches.length; j++) {
          const r = await engine.step(engine.upload(start), [batches[i], batches[j]], { lr: L, wd: new Float32Array(names.length) });
          const next = flat(await engine.download(r.state));
          svag.push(w.map((x, k) => x - next[k]));
        }
      }
      // Mean and covariance over a uniform draw, on 40 coordinates spread over the parameters.
      const coords = Array.from({ length: 40 }, (_, k) => Math.floor((k * w.length) / 40));
      const mean = (gs: Float64Array[], k: number) => gs.reduce((s, g) => s + g[k], 0) / gs.length;
      const cov = (gs: Float64Array[], a: number, b: number) => gs.reduce((s, g) => s + (g[a] - mean(gs, a)) * (g[b] - mean(gs, b)), 0) / gs.length;
      const scale = Math.max(...coords.map((k) => Math.abs(mean(sgd, k))));
      const covScale = Math.max(...coords.map((k) => cov(sgd, k, k)));
      expect(covScale).toBeGreaterThan(0);
      for (const a of coords) {
        expect(Math.abs(mean(svag, a) - mean(sgd, a))).toBeLessThan(1e-4 * scale);
        for (const b of coords.slice(0, 8)) expect(Math.abs(cov(svag, a, b) - L * cov(sgd, a, b))).toBeLessThan(1e-3 * L * covScale);
      }
    });
  });

  it('is refused, naming the flag and what to do, for Adam and for full-batch descent', () => {
    const base = { model: 'cnn4', dataset: 'synthetic' as const, steps: 10 };
    expect(() => resolveConfig({ ...base, optimizer: 'adamw', svag: 2 })).toThrow(/svag \(--svag\) applies to sgd and sgdw only.*use --optimizer sgd or sgdw/);
    expect(() => resolveConfig({ ...base, batchSize: 0, svag: 2 })).toThrow(/svag 2 needs mini-batches \(--batch-size > 0\)/);
    expect(() => resolveConfig({ ...base, svag: 1.5 })).toThrow(/svag must be a positive integer, got 1.5/);
    expect(resolveConfig({ ...base, optimizer: 'adamw' }).svag).toBe(1);
  });
});
