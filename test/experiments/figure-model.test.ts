/**
 * `--model` on the figures: every trainer run trains it (an imported ONNX network included), the
 * figure writes to `<figure>-<model>/`, its checks become informative, and the figures whose runs
 * are not trainer runs refuse it with their reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { figurePlan } from '../../src/experiments/frame';
import { experimentById } from '../../src/experiments/registry';
import { figureContext } from '../../src/experiments/reproduce';
import { runExperiment } from '../../src/experiments/run-experiment';
import { tmpDir } from '../cli';
import { smallNet } from '../onnx-fixtures';

const base = { scale: 'smoke' as const, out: '/tmp/unused', seed: 0, ep: 'cpu' as const, threads: 1, jobs: 1, quiet: true };

let dir: string;
let model: string;
beforeAll(() => {
  dir = tmpDir('ilr-figure-model-');
  model = path.join(dir, 'mynet.onnx');
  fs.writeFileSync(model, onnx.ModelProto.encode(smallNet({ input: [2, 1, 28, 28], conv1In: 1 })).finish());
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('reaches the config of every trainer run, in <figure>-<model>/, with the preset\'s cnn4 widths dropped', () => {
  const fast = experimentById('fast-equilibrium');
  const own = figurePlan(fast, figureContext(base, 'fast-equilibrium'));
  const ctx = figureContext({ ...base, model }, 'fast-equilibrium');
  expect(ctx.dir).toBe(path.join('/tmp/unused', 'fast-equilibrium-mynet'));
  const runs = figurePlan(fast, ctx);
  expect(runs.map((r) => r.name)).toEqual(own.map((r) => r.name));
  for (const [i, r] of runs.entries()) {
    expect(r.config.model).toBe(model);
    expect(r.config.widths).toBeUndefined();
    expect({ ...r.config, model: own[i].config.model, widths: own[i].config.widths }).toEqual(own[i].config); // nothing else changes
  }
  expect(() => figurePlan(experimentById('toy'), figureContext({ ...base, model }, 'toy'))).toThrow(/--model does not apply to toy: the toy is plain gradient descent/);
});

it('intrinsic at smoke scale trains an imported network and reports its checks as information', async () => {
  const out = path.join(dir, 'reports');
  const ctx = figureContext({ ...base, out, model }, 'intrinsic');
  const section = await runExperiment(experimentById('intrinsic'), ctx, out);
  expect(fs.existsSync(path.join(out, 'intrinsic-mynet', 'section.json'))).toBe(true);
  expect(section.verdicts.length).toBeGreaterThan(0);
  for (const v of section.verdicts) expect(v).toMatchObject({ informative: true, expected: expect.stringMatching(/calibrated for the figure's own model; this run: mynet\)$/) });
  expect(section.settings.model).toBe(`${model} for every run (--model), instead of the figure's own`);
}, 120_000);

it('on --dataset synthetic (3×32×32, for a network that takes it) a figure draws as many images as its subsets take', () => {
  const ctx = figureContext({ ...base, dataset: 'synthetic' }, 'intrinsic');
  for (const r of figurePlan(experimentById('intrinsic'), ctx)) {
    // The smoke preset takes 500 test images; the synthetic test split defaults to 256.
    expect(r.config.testSubset).toBe(500);
    expect(r.config.synthetic).toEqual({ trainCount: 1024, testCount: 500 });
  }
});
