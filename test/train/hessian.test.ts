/**
 * Exact Hessian-vector products of the training loss: the identities every
 * scale-invariant loss satisfies, H(w)·w = −∇L(w) and H(c·w) = H(w)/c², on cnn4-si.
 */
import { fullBatches, syntheticDataset } from '../../src/data';
import { InputShape } from '../../src/nn/model';
import { modelSpec } from '../../src/nn/spec';
import { StepEngine } from '../../src/train/engine';
import { Curvature, topOfTridiagonal } from '../../src/train/hessian';
import { relativeDistance } from '../../src/experiments/explr';
import { Rng } from '../../src/util/rng';

const ds = syntheticDataset('train', { trainCount: 32, shape: [1, 8, 8], numClasses: 4, seed: 5 });
const input = ds.shape as InputShape;
// A tiny BN ε keeps the loss scale-invariant to float precision (docs/science.md, Calibration).
const spec = modelSpec('cnn4-si', { inChannels: 1, numClasses: 4, bnEps: 1e-12 });
const batches = [...fullBatches(ds, { chunkSize: 16 })];
const runtime = { threads: 1 };


describe('Curvature (Hessian-vector products of the training loss)', () => {
  let curvature: Curvature;
  let state: Awaited<ReturnType<StepEngine['initialState']>>;
  beforeAll(async () => {
    const engine = await StepEngine.create({ spec, input, batch: 16, optimizer: { name: 'sgd', momentum: 0 }, runtime });
    state = engine.initialState(1);
    await engine.release();
    curvature = await Curvature.create({ spec, input, batch: 16, runtime, params: 'si' });
  });
  afterAll(() => curvature.release());

  it('measures the scale-invariant conv weights of cnn4-si', () => {
    expect(curvature.params.map((p) => p.name)).toEqual(['conv1.weight', 'conv2.weight', 'conv3.weight']);
  });

  it('H(w)·w = −∇L(w)', async () => {
    const { grad, hv } = await curvature.evaluate(state, batches, curvature.weights(state));
    expect(relativeDistance(grad.map((g) => -g), hv)).toBeLessThan(1e-3);
  });

  it('H(c·w)·v = H(w)·v / c²', async () => {
    const rng = new Rng([3, 'v']);
    const v = Float64Array.from({ length: curvature.size }, () => rng.normal());
    const c = 3;
    const scaled = curvature.withWeights(state, curvature.weights(state).map((x) => c * x));
    const h1 = await curvature.hvp(state, batches, v);
    const hc = await curvature.hvp(scaled, batches, v);
    expect(relativeDistance(h1, hc.map((x) => x * c * c))).toBeLessThan(1e-3);
  });

  it('the Lanczos eigenpair and the trace are consistent with the products', async () => {
    const top = await curvature.topEigen(state, batches, { tol: 1e-5, maxIterations: 60, seed: 1 });
    expect(top.converged).toBe(true);
    // An eigenvector: H v = λ v.
    const hv = await curvature.hvp(state, batches, top.vector);
    expect(relativeDistance(top.vector.map((x) => x * top.value), hv)).toBeLessThan(1e-2);
    const tr = await curvature.trace(state, batches, { samples: 10, seed: 1 });
    expect(tr.stderr).toBeGreaterThan(0);
    expect(Number.isFinite(tr.value)).toBe(true);
  });
});

describe('topOfTridiagonal', () => {
  it('finds the largest eigenvalue and its vector of a small tridiagonal matrix', () => {
    // [[2, 1, 0], [1, 2, 1], [0, 1, 2]]: eigenvalues 2 − √2, 2, 2 + √2.
    const { value, coefficients } = topOfTridiagonal([2, 2, 2], [1, 1]);
    expect(value).toBeCloseTo(2 + Math.SQRT2, 12);
    const s = coefficients[0] > 0 ? 1 : -1;
    expect(coefficients.map((c) => c * s)).toEqual([0.5, Math.SQRT1_2, 0.5].map((x) => expect.closeTo(x, 12)));
  });
});

describe('topOfTridiagonal on a larger matrix', () => {
  it('agrees with the known spectrum of the second-difference matrix', () => {
    // tridiag(−1, 2, −1) of order n: eigenvalues 2 − 2cos(kπ/(n+1)); the top one k = n.
    const n = 150;
    const { value, coefficients } = topOfTridiagonal(new Array(n).fill(2), new Array(n - 1).fill(-1));
    expect(value).toBeCloseTo(2 - 2 * Math.cos((n * Math.PI) / (n + 1)), 12);
    // Its eigenvector is sin(k·j·π/(n+1)), normalised.
    const v = Array.from({ length: n }, (_, j) => Math.sin((n * (j + 1) * Math.PI) / (n + 1)));
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    const sign = Math.sign(coefficients[0]) * Math.sign(v[0]);
    coefficients.forEach((c, j) => expect(c * sign).toBeCloseTo(v[j] / norm, 9));
  });
});
