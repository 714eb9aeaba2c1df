/**
 * The step engine: its state names, the two modes agreeing on one batch, divergence, and the
 * metrics it reports measured directly from the weights before and after a step.
 */
import { fullBatches, syntheticDataset } from '../../src/data';
import { TensorMap } from '../../src/graph/tensors';
import { InputShape } from '../../src/nn/model';
import { modelSpec } from '../../src/nn/spec';
import { StepEngine } from '../../src/train/engine';
import { angularUpdate, stepRecord } from '../../src/train/metrics';

const ds = syntheticDataset('train', { trainCount: 16, shape: [1, 8, 8], numClasses: 4, seed: 5 });
const input = ds.shape as InputShape;
const spec = modelSpec('cnn4', { inChannels: 1, numClasses: 4 });
const [batch] = [...fullBatches(ds, { chunkSize: 16 })];
const runtime = { threads: 1 };

const flat = (s: TensorMap, names: string[]) => Float64Array.from(names.flatMap((n) => [...(s.get(n)!.data as Float32Array)]));
const dot = (a: Float64Array, b: Float64Array) => a.reduce((acc, x, i) => acc + x * b[i], 0);

describe('StepEngine', () => {
  it('names optimizer state as checkpoints do, and starts it at zero', async () => {
    const plain = await StepEngine.create({ spec, input, batch: 16, optimizer: { name: 'sgd', momentum: 0 }, runtime });
    const heavy = await StepEngine.create({ spec, input, batch: 16, optimizer: { name: 'sgd', momentum: 0.9 }, runtime });
    try {
      expect(plain.slots).toEqual([]);
      expect(heavy.slots.map((s) => s.key)).toEqual(heavy.trainable.map((p) => `optimizer.momentum_buffer.${p.name}`));
      const s = heavy.initialState(3);
      expect(heavy.slots.every(({ key }) => (s.get(key)!.data as Float32Array).every((x) => x === 0))).toBe(true);
      // The same seed gives the same initialisation whatever the optimizer.
      expect(flat(s, ['conv1.weight'])).toEqual(flat(plain.initialState(3), ['conv1.weight']));
    } finally {
      await plain.release();
      await heavy.release();
    }
  });

  it('full-batch mode over one chunk takes the same step as the mini-batch program on that batch', async () => {
    const optimizer = { name: 'sgd' as const, momentum: 0.9 };
    const mini = await StepEngine.create({ spec, input, batch: 16, optimizer, runtime });
    const full = await StepEngine.create({ spec, input, batch: 16, optimizer, runtime, fullBatch: true });
    try {
      const start = mini.initialState(1);
      const h = { lr: 0.1, wd: new Float32Array(mini.trainable.length).fill(0.01) };
      let [a, b] = [mini.upload(start), full.upload(start)];
      for (let t = 0; t < 3; t++) {
        const [ra, rb] = [await mini.step(a, [batch], h), await full.step(b, [batch], h)];
        expect(rb.loss).toBeCloseTo(ra.loss, 5);
        expect(rb.correct).toBe(ra.correct);
        [a, b] = [ra.state, rb.state];
      }
      const [sa, sb] = [await mini.download(a), await full.download(b)];
      for (const [k, v] of sa) {
        const x = v.data as Float32Array;
        const y = sb.get(k)!.data as Float32Array;
        const err = Math.max(...x.map((xi, i) => Math.abs(xi - y[i])));
        expect(err).toBeLessThan(1e-5 * Math.max(1, ...x.map(Math.abs)));
      }
      await expect(mini.step(a, [batch, batch], h)).rejects.toThrow(/one batch of 16/);
      await expect(mini.step(a, [batch], { lr: 0.1, wd: new Float32Array(1) })).rejects.toThrow(/trainable tensors/);
    } finally {
      await mini.release();
      await full.release();
    }
  });

  it('reports a step that makes the state non-finite, naming what broke', async () => {
    const engine = await StepEngine.create({ spec, input, batch: 16, optimizer: { name: 'sgd', momentum: 0 }, runtime });
    try {
      const state = engine.initialState(0);
      const w = state.get('fc.weight')!;
      state.set('fc.weight', { ...w, data: (w.data as Float32Array).map((x, i) => (i === 0 ? Infinity : x)) });
      const r = await engine.step(engine.upload(state), [batch], { lr: 0.1, wd: new Float32Array(engine.trainable.length) });
      expect(r.diverged).toMatch(/loss is NaN|non-finite/);
      const ok = await engine.step(engine.upload(engine.initialState(0)), [batch], { lr: 0.1, wd: new Float32Array(engine.trainable.length) });
      expect(ok.diverged).toBeUndefined();
    } finally {
      await engine.release();
    }
  });

  it('its step record matches norms, effective LR and the angle measured on the weights themselves', async () => {
    const engine = await StepEngine.create({ spec, input, batch: 16, optimizer: { name: 'sgd', momentum: 0.9 }, runtime });
    try {
      const h = { lr: 0.2, wd: new Float32Array(engine.trainable.length).fill(0.05) };
      let state = engine.upload(engine.initialState(2));
      state = (await engine.step(state, [batch], h)).state; // a step with a non-zero buffer follows
      const before = await engine.download(state);
      const r = await engine.step(state, [batch], h);
      const after = await engine.download(r.state);
      const si = engine.trainable.filter((p) => p.scaleInvariant).map((p) => p.name);
      expect(si.length).toBeGreaterThan(0);
      expect(si.length).toBeLessThan(engine.trainable.length);
      const rec = stepRecord(r.stats, engine.trainable, { step: 2, epoch: 2, lr: h.lr, wd: 0.05, loss: r.loss, window: { loss: r.loss, count: 1 }, acc: r.correct / r.images }, true);
      const [u, v] = [flat(before, si), flat(after, si)];
      const angle = Math.acos(dot(u, v) / Math.sqrt(dot(u, u) * dot(v, v)));
      expect(rec.si_w_norm).toBeCloseTo(Math.sqrt(dot(u, u)), 4);
      expect(rec.eff_lr / (h.lr / dot(u, u))).toBeCloseTo(1, 5);
      expect(rec.angular_update / angle).toBeCloseTo(1, 3);
      expect(rec.w_norm).toBeGreaterThan(rec.si_w_norm);
      const conv1 = rec.layers!['conv1.weight'];
      const [c0, c1] = [flat(before, ['conv1.weight']), flat(after, ['conv1.weight'])];
      expect(conv1.w_norm).toBeCloseTo(Math.sqrt(dot(c0, c0)), 4);
      expect(conv1.angular_update / Math.acos(dot(c0, c1) / Math.sqrt(dot(c0, c0) * dot(c1, c1)))).toBeCloseTo(1, 3);
      expect(Object.keys(rec.layers!)).toEqual(engine.trainable.map((p) => p.name));
    } finally {
      await engine.release();
    }
  });
});

describe('angularUpdate', () => {
  it('is the angle between w and w + Δw, exact for tiny angles where 1 − cos cancels', () => {
    // w = (3, 4), Δw = (−4, 3)·t: perpendicular, so θ = atan(t); plus a part along w that shortens it.
    for (const t of [1e-9, 1e-4, 0.3]) {
      expect(angularUpdate({ w2: 25, wdw: 0, dw2: 25 * t * t }) / Math.atan(t)).toBeCloseTo(1, 12);
    }
    // Δw = −w/2 + perpendicular 0.5·|w|: w + Δw = w/2 + p, tan θ = 0.5|w| / (0.5|w|) → 45°.
    expect(angularUpdate({ w2: 25, wdw: -12.5, dw2: 12.5 * 12.5 / 25 + 6.25 })).toBeCloseTo(Math.PI / 4, 12);
  });
});
