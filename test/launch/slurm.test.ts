/**
 * The Slurm launcher on a real one-node cluster (scripts/slurm-up.sh; required in CI with
 * REQUIRE_SLURM=1). A sweep of four tiny runs through Slurm ends byte-identical to the same sweep
 * run by the local launcher, and so does one whose array was cancelled mid-run and submitted
 * again. "Byte-identical" compares what a run's numbers are: metrics.jsonl, summary.json and the
 * final checkpoint, byte for byte, and config.json's `config`. The rest of config.json (the
 * command line, the time it was created) says how the run was started, and differs by nature.
 */
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { readSubmissions } from '../../src/launch/slurm';
import { runCli, tmpDir } from '../cli';
import { describeSlurm, slurmEnv } from '../helpers';
import { TINY_DATA } from '../train/fixtures';

const SWEEP = {
  base: { model: 'cnn4', dataset: 'synthetic', synthetic: TINY_DATA, batchSize: 32, steps: 200, logEvery: 5, evalEvery: 100, checkpointEvery: 20, keepCheckpoints: 2, evalTrainSubset: 64, evalBatch: 60 },
  grid: { lr: [0.1, 0.2], wd: [0.005, 0.0025] },
};
const NAMES = ['lr0.1-wd0.005', 'lr0.1-wd0.0025', 'lr0.2-wd0.005', 'lr0.2-wd0.0025'];

let root: string;
let file: string;
const cluster = slurmEnv();
const env = () => ({ ...cluster, ILR_SLURM_POLL_MS: '300' });
const sweep = (...args: string[]) => runCli(['sweep', '--file', file, '--quiet', ...args], env());
const runOf = (dir: string, name: string) => path.join(dir, 'runs', name);

/** What must be equal between two runs of one config. */
function numbers(dir: string): Record<string, unknown> {
  const ckpts = fs.readdirSync(path.join(dir, 'checkpoints')).sort();
  return {
    metrics: fs.readFileSync(path.join(dir, 'metrics.jsonl')),
    summary: fs.readFileSync(path.join(dir, 'summary.json')),
    checkpoint: [ckpts.at(-1), fs.readFileSync(path.join(dir, 'checkpoints', ckpts.at(-1)!))],
    config: JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).config,
  };
}

async function until(what: string, ok: () => boolean, seconds: number): Promise<void> {
  for (const end = Date.now() + seconds * 1000; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeSlurm('the slurm launcher on a one-node cluster', () => {
  beforeAll(async () => {
    root = tmpDir('ilr-slurm-');
    file = path.join(root, 'sweep.json');
    fs.writeFileSync(file, JSON.stringify(SWEEP));
    // The reference: the same sweep by the local launcher, one thread per run as the Slurm tasks get.
    const local = await sweep('--out', path.join(root, 'local'), '--jobs', '2');
    expect(local.stderr).toBe('');
    expect(local.code).toBe(0);
  }, 300_000);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('has a cluster to submit to', () => {
    if (!cluster) throw new Error('REQUIRE_SLURM=1, but `sinfo` gets no answer: start the cluster with scripts/slurm-up.sh (as root, with slurm-wlm and munge) and export SLURM_CONF as it prints');
  });

  it('runs a sweep as one array, byte-identical to the local launcher, and does not resubmit finished runs', async () => {
    const dir = path.join(root, 'slurm');
    const r = await sweep('--out', dir, '--launcher', 'slurm', '--wait', '--max-parallel', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readSubmissions(dir)).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, 'slurm', 'job-1.sh'), 'utf8')).toContain('#SBATCH --array=0-3%2\n');
    for (const name of NAMES) expect(numbers(runOf(dir, name))).toEqual(numbers(runOf(root + '/local', name)));

    const again = await sweep('--out', dir, '--launcher', 'slurm');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('all 4 runs finished');
    expect(readSubmissions(dir)).toHaveLength(1);

    const status = await runCli(['sweep', 'status', dir], env());
    expect(status.stdout).toContain('4 runs: 4 done, 0 running, 0 failed, 0 pending');

    const collect = await runCli(['sweep', 'collect', dir], env());
    expect(collect.code).toBe(0);
    const csv = fs.readFileSync(path.join(dir, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^run,lr,wd,status,steps,lr,wd,lambda_eta,.*eq_angular_update,predicted_angular_update,eq_angular_over_predicted,eq_test_acc$/);
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(NAMES);
    const row = csv[1].split(',');
    expect(Number(row[csv[0].split(',').indexOf('lambda_eta')])).toBeCloseTo(0.1 * 0.005, 12);
    for (const f of ['collapse.png', 'collapse.svg', 'trajectories.png']) expect(fs.statSync(path.join(dir, f)).size).toBeGreaterThan(1000);
    // The collapse plot draws the prediction dashed, and these short runs (λη·step ≤ 0.15 at the window's start) as dots kept out of its lines.
    const svg = fs.readFileSync(path.join(dir, 'collapse.svg'), 'utf8');
    for (const label of ['not at equilibrium (4 runs, kept out of the lines)', '√(2λη/(1+β)), β = 0', 'equilibrium angular update', 'equilibrium effective LR']) expect(svg).toContain(label);
  }, 300_000);

  it('resumes a cancelled array when it is submitted again, ending byte-identical', async () => {
    const dir = path.join(root, 'cancelled');
    const first = await sweep('--out', dir, '--launcher', 'slurm');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/4 run\(s\) submitted as Slurm job \d+/);
    const jobId = readSubmissions(dir)[0].jobId;
    const ckpts = (name: string) => (fs.existsSync(path.join(runOf(dir, name), 'checkpoints')) ? fs.readdirSync(path.join(runOf(dir, name), 'checkpoints')).length : 0);
    await until('a first checkpoint', () => NAMES.some((n) => ckpts(n) > 0), 120);
    execFileSync('scancel', [jobId], { env: env() });
    await until('the array to leave the queue', () => execFileSync('squeue', ['-h', '-j', jobId], { env: env(), encoding: 'utf8' }).trim() === '', 120);

    const interrupted = NAMES.filter((n) => ckpts(n) > 0 && !fs.existsSync(path.join(runOf(dir, n), 'summary.json')));
    expect(interrupted.length).toBeGreaterThan(0);
    const status = await runCli(['sweep', 'status', dir], env());
    for (const n of interrupted) expect(status.stdout).toMatch(new RegExp(`${n} +failed .*stopped at step \\d+ of 200; log: ${runOf(dir, n).replace(/[.]/g, '\\.')}/train\\.log`));

    const again = await sweep('--out', dir, '--launcher', 'slurm', '--wait');
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    // SIGTERM made each interrupted run write a checkpoint and stop; the second task resumed from it.
    for (const n of interrupted) expect(fs.readFileSync(path.join(runOf(dir, n), 'train.log'), 'utf8')).toMatch(/stopped by SIGTERM at step (\d+);[^]*resuming from step-0*\1\.safetensors/);
    for (const name of NAMES) expect(numbers(runOf(dir, name))).toEqual(numbers(runOf(root + '/local', name)));
  }, 300_000);

  it('runs a figure through Slurm: ilr reproduce --scale smoke --only intrinsic --launcher slurm --wait', async () => {
    const out = path.join(root, 'reports');
    const r = await runCli(['reproduce', '--scale', 'smoke', '--only', 'intrinsic', '--launcher', 'slurm', '--wait', '--quiet', '--out', out], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/of 4 checks passed/);
    expect(readSubmissions(path.join(out, 'intrinsic'))).toHaveLength(1);
    const section = JSON.parse(fs.readFileSync(path.join(out, 'intrinsic', 'section.json'), 'utf8'));
    expect(section.verdicts).toHaveLength(4);
    expect(fs.existsSync(path.join(out, 'index.html'))).toBe(true);
  }, 300_000);
});
