import * as fs from 'fs';
import * as path from 'path';
import {
  baselineError, checkFastEquilibrium, DistanceCurves, distanceCurves, settleStep, threeSchedules,
} from '../../src/experiments/fast-equilibrium';
import { plannedRunsOf, readRunTrace, RunPlan, runPlanned } from '../../src/experiments/runs';
import { Context, TrainingPreset } from '../../src/experiments/frame';
import { Dataset, poolImages } from '../../src/data';
import { tmpDir } from '../cli';
import { failedChecks, passedNamed } from './verdicts';

const steps = Array.from({ length: 15 }, (_, i) => 125 * i);
const w = { equalizeStep: 500, timeScale: 500, settle: 1.5, before: 0.5 };

/**
 * Three schedules' halves distances scatter around 0.4 (σ ≈ 0.03); the schedules' distance is
 * `early` up to E and decays to `late` with time constant `tau` after it.
 */
function curves(early: number, late: number, tau: number): DistanceCurves {
  const cross = steps.map((s) => (s <= 500 ? early : late + (early - late) * Math.exp(-(s - 500) / tau)));
  const halves = [1, 2, 3].map((k) => ({ name: `h${k}`, d: steps.map((_, i) => 0.4 + 0.04 * Math.sin(1.3 * i + 2.1 * k)) }));
  const base = steps.map((_, i) => (halves[0].d[i] + halves[1].d[i] + halves[2].d[i]) / 3);
  return { steps, cross, pairs: [{ name: 'A vs B', d: cross }], halves, base };
}
const verdicts = (c: DistanceCurves) => checkFastEquilibrium(c, w);
const passed = (c: DistanceCurves, check: string) => passedNamed(verdicts(c), check);
const APART_BEFORE = 'before E the schedules\' distance is clearly above';
const AT_BASELINE_AFTER = 'on the distance is at the baseline';

describe('fast-equilibrium check', () => {
  it('passes when the distance is high before E and falls to the baseline within O(1/λη)', () => {
    expect(failedChecks(verdicts(curves(0.8, 0.4, 150)))).toEqual([]);
    expect(settleStep(curves(0.8, 0.4, 150), 500, 0.03)).toBeLessThanOrEqual(1250);
  });
  it('fails when the schedules never differ', () => {
    expect(passed(curves(0.42, 0.4, 150), APART_BEFORE)).toBe(false);
  });
  it('fails when the distance stays above the baseline', () => {
    expect(passed(curves(0.8, 0.55, 150), AT_BASELINE_AFTER)).toBe(false);
  });
  it('fails when the distance falls too slowly', () => {
    expect(passed(curves(0.8, 0.4, 3000), AT_BASELINE_AFTER)).toBe(false);
    expect(settleStep(curves(0.8, 0.4, 3000), 500, 0.03)).toBeUndefined();
  });
});

it('distanceCurves: pairs of schedules, halves of each, baseline and its spread', () => {
  const same = [Uint8Array.of(0, 1, 2, 3), Uint8Array.of(0, 1, 2, 3)];
  const other = [Uint8Array.of(3, 2, 1, 0), Uint8Array.of(3, 2, 1, 0)];
  const c = distanceCurves([0], ['A', 'B'], [[same], [other]], 4, 3, 0);
  expect(c.pairs.map((p) => p.name)).toEqual(['A vs B']);
  expect(c.cross[0]).toBeCloseTo(2);
  expect(c.base[0]).toBe(0);
});

it('poolImages averages k×k blocks', () => {
  const ds: Dataset = {
    name: 'mnist', split: 'train', count: 1, shape: [1, 2, 2], numClasses: 10,
    images: Uint8Array.of(0, 10, 20, 31), labels: Uint8Array.of(0), mean: [0], std: [1], source: 'test',
  };
  const pooled = poolImages(ds, 2);
  expect(pooled.shape).toEqual([1, 1, 1]);
  expect([...pooled.images]).toEqual([15]);
  expect(pooled.mean[0]).toBeCloseTo(15 / 255);
});

it('baselineError: the spread of the halves distances in the window', () => {
  const c = curves(0.8, 0.4, 150);
  const e = baselineError(c, 1250, 1750);
  expect(e).toBeGreaterThan(0.015);
  expect(e).toBeLessThan(0.045);
});

it('threeSchedules: equal until B decays, C hotter, all equal from E on', () => {
  const [a, b, c] = threeSchedules(0.1, 0.02, 250);
  expect(a.phases).toEqual([{ at: 0, lr: 0.1, wd: 0.02 }]);
  expect(b.phases[1]).toEqual({ at: 250, lr: 0.01, wd: 0.02 });
  expect(c.phases[0].lr * c.phases[0].wd).toBeCloseTo(2.5 * 0.1 * 0.02);
});

it('runs are trainer runs: a finished one is kept, a changed plan is trained again, and its trace holds every evaluation', async () => {
  const dir = tmpDir('ilr-pooled-');
  try {
    const c: TrainingPreset = { dataset: 'synthetic', model: 'cnn4-si', widths: [4, 4, 4], trainSubset: 100, pool: 2, testSubset: 50, batchSize: 10 };
    const run: RunPlan = { name: 'r', seed: 1, lr: 0.1, wd: 0.01, schedule: { kind: 'constant' }, steps: 4, evalEvery: 2, keepLabels: true };
    const ctx: Context = { scale: 'smoke', dir, seed: 0, ep: 'cpu', threads: 1, jobs: 1, quiet: true };
    const summary = path.join(dir, 'r', 'summary.json');
    await runPlanned(plannedRunsOf(c, [run]), ctx);
    const first = fs.statSync(summary).mtimeMs;
    await runPlanned(plannedRunsOf(c, [run]), ctx);
    expect(fs.statSync(summary).mtimeMs).toBe(first);
    await runPlanned(plannedRunsOf(c, [{ ...run, steps: 6 }]), ctx);
    const trace = readRunTrace(ctx, run);
    expect(trace.steps).toEqual([2, 4, 6]);
    expect(trace.labels.map((l) => l.length)).toEqual([50, 50, 50]);
    expect(trace.effLr.every((e, i) => Math.abs(e - trace.lr[i] / trace.wNorm[i] ** 2) < 1e-9 * e)).toBe(true);
    // The widths and pooling are what is trained.
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'r', 'config.json'), 'utf8'));
    expect(config.model.widths).toEqual([4, 4, 4]);
    expect(config.config.pool).toBe(2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
