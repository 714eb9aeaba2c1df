/**
 * The fully scale-invariant models (-si): over the whole trained vector W (all conv weights),
 * ⟨W, ∇L⟩ ≈ 0 and L(2W) = L(W), up to BN's ε. The ordinary model is scale-invariant in its conv
 * weights too, but not in its BN affine parameters or its last layer.
 */
import { feedsOf, randomBatch } from '../../src/runtime/sample';
import { TensorMap } from '../../src/graph/tensors';
import { initialState } from '../../src/nn/init';
import { InputShape, modelLayout } from '../../src/nn/model';
import { modelSpec } from '../../src/nn/spec';
import { OPS } from '../../src/ops/registry';
import { gradientGraph } from '../../src/programs/programs';
import { Program } from '../../src/runtime/session';
import { Rng } from '../../src/util/rng';

const INPUT: InputShape = [3, 16, 16];
const BATCH = 8;

async function probe(model: string) {
  const spec = modelSpec(model);
  const layout = modelLayout(spec, INPUT);
  const rng = new Rng(['scale-invariance', model]);
  const state = initialState(layout, rng.fork('init'));
  const batch = randomBatch(rng.fork('data'), BATCH, INPUT, spec.numClasses);
  const program = await Program.create(gradientGraph({ spec, batch: BATCH, input: INPUT }), { threads: 1 });
  const lossAt = async (names: Set<string>, c: number) => {
    const scaled: TensorMap = new Map([...state].map(([k, v]) => [k, names.has(k) ? { ...v, data: (v.data as Float32Array).map((x) => x * c) } : v]));
    return (await program.run({ ...feedsOf(scaled), ...batch }, ['loss'])).loss[0] as number;
  };
  const out = await program.run({ ...feedsOf(state), ...batch });
  await Promise.resolve();
  const trained = layout.params.filter((p) => p.trainable);
  const cosine = (names: string[]) => {
    let wg = 0, ww = 0, gg = 0;
    for (const n of names) {
      const w = state.get(n)!.data as Float32Array;
      const g = out[`grad.${n}`] as Float32Array;
      for (let i = 0; i < w.length; i++) {
        wg += w[i] * g[i];
        ww += w[i] * w[i];
        gg += g[i] * g[i];
      }
    }
    return Math.abs(wg) / Math.sqrt(ww * gg);
  };
  return { layout, trained, lossAt, cosine, loss: out.loss[0] as number, release: () => program.release() };
}

it('every registered op states its homogeneity rule, and exactly the norm ops normalise', () => {
  for (const [name, op] of Object.entries(OPS)) {
    expect([name, typeof op.homogeneity === 'function' || op.homogeneity === 'normalizing']).toEqual([name, true]);
  }
  expect(Object.entries(OPS).filter(([, op]) => op.homogeneity === 'normalizing').map(([name]) => name).sort()).toEqual(['BatchNormTrain', 'GroupNorm']);
});

const relChange = (a: number, b: number) => Math.abs(a - b) / b;

it('preresnet20-si: the whole trained vector is scale-invariant', async () => {
  const p = await probe('preresnet20-si');
  const all = p.trained.map((x) => x.name);
  expect(p.trained.every((x) => x.scaleInvariant)).toBe(true);
  expect(p.cosine(all)).toBeLessThan(1e-3);
  expect(relChange(await p.lossAt(new Set(all), 2), p.loss)).toBeLessThan(1e-4);
  await p.release();
});

it('preresnet20: conv weights are jointly invariant; BN affine and the last layer are not', async () => {
  const p = await probe('preresnet20');
  const conv = p.trained.filter((x) => x.scaleInvariant).map((x) => x.name);
  const bnAffine = p.trained.filter((x) => /bn\d?\.(weight|bias)$/.test(x.name)).map((x) => x.name);
  const fc = ['fc.weight', 'fc.bias'];
  expect(p.cosine(conv)).toBeLessThan(1e-3);
  expect(relChange(await p.lossAt(new Set(conv), 2), p.loss)).toBeLessThan(1e-4);
  expect(relChange(await p.lossAt(new Set(bnAffine), 2), p.loss)).toBeGreaterThan(1e-3);
  expect(relChange(await p.lossAt(new Set(fc), 2), p.loss)).toBeGreaterThan(1e-3);
  await p.release();
});
