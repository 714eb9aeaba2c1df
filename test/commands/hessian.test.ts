/**
 * `ilr hessian CHECKPOINT`: measures a run's checkpoint with the run's own data and LR, and
 * agrees with the sharpness the run itself recorded at that step (--sharpness-every).
 */
import * as fs from 'fs';
import * as path from 'path';
import { runFiles } from '../../src/train/run-dir';
import { readSharpness } from '../../src/train/hessian';
import { runCli, tmpDir, writeConfig } from '../cli';
import { tinyConfig } from '../train/fixtures';

let dir: string;
let run: string;
beforeAll(async () => {
  dir = tmpDir('ilr-hessian-');
  run = path.join(dir, 'run');
  // Full batch: the checkpoint's step and the next measurement see the same chunks.
  const config = writeConfig(dir, 'config.json', tinyConfig({ batchSize: 0, chunkSize: 128, steps: 10, checkpointEvery: 5, keepCheckpoints: 5, sharpnessEvery: 6, lr: 0.05 }));
  const r = await runCli(['train', '--config', config, '--out', run, '--quiet']);
  expect([r.code, r.stderr]).toEqual([0, '']);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('prints λ_max, η·λ_max, |w| and |w|²·λ_max of a checkpoint, as the run measured them', async () => {
  const checkpoint = path.join(runFiles(run).checkpoints, 'step-00000005.safetensors');
  const r = await runCli(['hessian', checkpoint, '--full', '--json', '--seed', '0', '--tol', '1e-6']);
  expect([r.code, r.stderr]).toEqual([0, '']);
  const m = JSON.parse(r.stdout);
  expect(m.step).toBe(5);
  expect(m.lr).toBe(0.05);
  expect(m.lambda_max).toBeGreaterThan(0);
  expect(m.lr_lambda_max).toBeCloseTo(0.05 * m.lambda_max, 10);
  expect(m.spherical_sharpness).toBeCloseTo(m.weight_norm ** 2 * m.lambda_max, 6);
  // The run measured the weights step 6 starts from: the checkpoint after step 5.
  const recorded = readSharpness(runFiles(run).sharpness).find((x) => x.step === 6)!;
  expect(Math.abs(recorded.lambda_max - m.lambda_max) / m.lambda_max).toBeLessThan(2e-3);
  expect(recorded.weight_norm).toBeCloseTo(m.weight_norm, 5);
});

it('names what is wrong: a checkpoint outside a run directory, a bad --params', async () => {
  const loose = path.join(dir, 'loose.safetensors');
  fs.copyFileSync(path.join(runFiles(run).checkpoints, 'step-00000005.safetensors'), loose);
  const outside = await runCli(['hessian', loose]);
  expect(outside.code).not.toBe(0);
  expect(outside.stderr).toMatch(/no config\.json two folders up/);
  const bad = await runCli(['hessian', path.join(runFiles(run).checkpoints, 'step-00000005.safetensors'), '--params', 'nothing-matches']);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/--params: no trainable tensor matches/);
});
