/** `ilr sweep` with the local launcher: the sweep directory, status, refusing another sweep there, and collect's table. */
import * as fs from 'fs';
import * as path from 'path';
import { readMetrics, StepRecord } from '../../src/train/metrics';
import { runCli, tmpDir } from '../cli';
import { TINY_DATA } from '../train/fixtures';

let root: string;
let file: string;
beforeAll(() => {
  root = tmpDir('ilr-sweep-');
  file = path.join(root, 'sweep.json');
  const base = { model: 'cnn4', dataset: 'synthetic', synthetic: TINY_DATA, batchSize: 32, steps: 20, logEvery: 2, evalEvery: 10, checkpointEvery: 10, evalTrainSubset: 64, evalBatch: 60, wd: 0.01 };
  fs.writeFileSync(file, JSON.stringify({ base }));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

it('runs a grid × seeds in worker processes, reports its status, and collects the table', async () => {
  const dir = path.join(root, 's');
  const names = ['lr0.1-s0', 'lr0.1-s1', 'lr0.2-s0', 'lr0.2-s1'];
  const r = await runCli(['sweep', '--out', dir, '--file', file, '--grid', 'lr=0.1,0.2', '--seeds', '0-1', '--jobs', '2', '--quiet']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(fs.readdirSync(path.join(dir, 'runs')).sort()).toEqual(names);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'sweep.json'), 'utf8'));
  expect(manifest.runs.map((x: { overrides: object }) => x.overrides)).toEqual([{ lr: 0.1, seed: 0 }, { lr: 0.1, seed: 1 }, { lr: 0.2, seed: 0 }, { lr: 0.2, seed: 1 }]);

  const other = await runCli(['sweep', '--out', dir, '--file', file, '--grid', 'lr=0.4']);
  expect(other.code).not.toBe(0);
  expect(other.stderr).toContain(`${dir} holds another sweep`);
  const again = await runCli(['sweep', '--out', dir]);
  expect(again.stdout).toContain('all 4 runs finished');

  fs.rmSync(path.join(dir, 'runs', 'lr0.2-s1', 'summary.json'));
  const status = await runCli(['sweep', 'status', dir]);
  expect(status.stdout).toContain('4 runs: 3 done, 0 running, 1 failed, 0 pending');
  expect(status.stdout).toMatch(/lr0\.2-s1 +failed +step 20\/20 +stopped at step 20 of 20/);
  // A line cut by a crash (a full disk mid-append) is skipped, not a reason for status to fail.
  const metrics = path.join(dir, 'runs', 'lr0.2-s1', 'metrics.jsonl');
  const whole = fs.readFileSync(metrics);
  fs.appendFileSync(metrics, '{"type":"step","st');
  const cut = await runCli(['sweep', 'status', dir]);
  expect([cut.code, cut.stderr]).toEqual([0, '']);
  expect(cut.stdout).toMatch(/lr0\.2-s1 +failed +step 20\/20/);
  fs.writeFileSync(metrics, whole);

  const collect = await runCli(['sweep', 'collect', dir, '--window', '0.5']);
  expect(collect.code).toBe(0);
  // 20 steps at λη 1e-3 and 2e-3: λη·step 0.01–0.02 at the window's start, far from equilibrium.
  expect(collect.stdout).toContain("not at equilibrium (4 of 4; kept out of the collapse's lines):\n  lr0.1-s0: λη·step 0.01 < 1.25 at the window's start");
  const [head, ...rows] = fs.readFileSync(path.join(dir, 'results.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  const col = (row: string[], name: string) => Number(row[head.indexOf(name)]);
  expect(head.slice(0, 4)).toEqual(['run', 'lr', 'seed', 'status']);
  expect(rows.map((x) => x[0])).toEqual(names);
  expect(rows.map((x) => x[3])).toEqual(['done', 'done', 'done', 'failed']);
  for (const row of rows) {
    const steps = readMetrics(path.join(dir, 'runs', row[0], 'metrics.jsonl')).filter((x): x is StepRecord => x.type === 'step');
    const window = steps.filter((s) => s.step > 10);
    expect(col(row, 'eq_w_norm')).toBeCloseTo(window.reduce((a, s) => a + s.si_w_norm, 0) / window.length, 10);
    expect(col(row, 'final_eff_lr')).toBe(steps.at(-1)!.eff_lr);
    expect(col(row, 'predicted_angular_update')).toBeCloseTo(Math.sqrt(2 * col(row, 'lr') * 0.01), 12);
    expect(col(row, 'lambda_eta')).toBeCloseTo(col(row, 'lr') * 0.01, 12);
    expect(row[head.indexOf('at_equilibrium')]).toBe('no');
  }
  expect(fs.readFileSync(path.join(dir, 'results.csv'), 'utf8')).toMatch(/,no,λη·step 0\.01 < 1\.25 at the window's start/);
  // A reason's "|w|" must not end a markdown cell: every row has the header's cells.
  const md = fs.readFileSync(path.join(dir, 'results.md'), 'utf8').split('\n');
  expect(md.slice(2, 6).every((l) => l.split(/(?<!\\)\|/).length === md[0].split('|').length)).toBe(true);
  expect(fs.readFileSync(path.join(dir, 'results.md'), 'utf8').split('\n')[1]).toMatch(/^\| --- \|/);
}, 120_000);
