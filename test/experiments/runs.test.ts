/** runPlanned: finished runs are skipped; a run of another config (the preset changed) is made again. */
import * as fs from 'fs';
import * as path from 'path';
import { Context } from '../../src/experiments/frame';
import { runMetrics, runPlanned } from '../../src/experiments/runs';
import { aggregateBar } from '../../src/launch/local';
import { tmpDir } from '../cli';
import { tinyConfig } from '../train/fixtures';

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-runs-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('skips a finished run of the same config and redoes one whose config changed', async () => {
  const ctx: Context = { scale: 'smoke', dir, seed: 0, ep: 'cpu', threads: 1, jobs: 1, quiet: true };
  const summary = path.join(dir, 'a', 'summary.json');
  await runPlanned([{ name: 'a', config: tinyConfig({ steps: 5 }) }], ctx);
  const first = fs.statSync(summary).mtimeMs;

  await runPlanned([{ name: 'a', config: tinyConfig({ steps: 5, threads: 2 }) }], ctx); // where it runs does not matter
  expect(fs.statSync(summary).mtimeMs).toBe(first);

  await runPlanned([{ name: 'a', config: tinyConfig({ steps: 5, lr: 0.05 }) }], ctx);
  expect(runMetrics(ctx, 'a').steps.map((r) => r.lr)).toEqual([0.05]);
});

it('with --jobs, one bar sums the steps the quiet workers have logged', () => {
  const ctx: Context = { scale: 'smoke', dir: path.join(dir, 'sweep'), seed: 0, ep: 'cpu', threads: 2, jobs: 2, quiet: false };
  const log = (name: string, steps: number[]) => {
    fs.mkdirSync(path.join(ctx.dir, name), { recursive: true });
    fs.writeFileSync(path.join(ctx.dir, name, 'metrics.jsonl'), steps.map((step) => JSON.stringify({ type: 'step', step }) + '\n').join(''));
  };
  log('a', [5, 10]); // finished
  log('b', [5]);
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (written.push(String(s)), true));
  try {
    aggregateBar([{ name: 'a', dir: path.join(ctx.dir, 'a'), config: tinyConfig({ steps: 10 }) }, { name: 'b', dir: path.join(ctx.dir, 'b'), config: tinyConfig({ steps: 15 }) }], `${path.basename(ctx.dir)}: 2 runs`)();
  } finally {
    spy.mockRestore();
  }
  expect(written.join('')).toMatch(/sweep: 2 runs +15\/25 +steps .*1\/2 finished\n$/);
});
