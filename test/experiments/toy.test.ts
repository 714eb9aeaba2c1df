/** The toy figure: its trace is computed for the preset it is plotted and checked with, never reused from another. */
import * as fs from 'fs';
import { Context } from '../../src/experiments/frame';
import { toy } from '../../src/experiments/toy';
import { tmpDir } from '../cli';
import { verdictNamed } from './verdicts';

it('does not reuse a trace made at another scale (smoke, then cpu in the same directory)', async () => {
  const dir = tmpDir('ilr-toy-');
  try {
    const ctx = (scale: Context['scale']): Context => ({ scale, dir, seed: 0, ep: 'cpu', threads: 1, jobs: 1, quiet: true });
    const smoke = toy.preset('smoke', ctx('smoke'));
    await toy.run!(smoke, ctx('smoke'));
    const cpu = toy.preset('cpu', ctx('cpu'));
    await toy.run!(cpu, ctx('cpu'));
    // The cpu preset switches WD off after the first spike past step 4000; the smoke trace (1500 steps) cannot.
    const off = verdictNamed(toy.check(cpu, ctx('cpu')), 'WD was switched off');
    expect(Number(/at step (\d+)/.exec(off.measured)![1])).toBeGreaterThanOrEqual(cpu.wdOffStep);
    expect(off.passed).toBe(true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
