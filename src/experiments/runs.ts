/**
 * Launching a figure's training runs: each run lives in its own directory; finished runs are
 * skipped, interrupted ones resumed from their newest checkpoint, and a run made with another
 * config (the preset changed since) is started again. With jobs > 1 the runs go to
 * worker processes (`ilr train --config`), each with its share of the cores.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeJsonAtomic } from '../io/files';
import { lastLoggedStep, readMetrics, MetricsRecord, EvalRecord, StepRecord } from '../train/metrics';
import type { TrainConfig } from '../train/config';
import { isFinished, readRunConfig, rollingCheckpointsOf, runFiles } from '../train/run-dir';
import { train } from '../train/trainer';
import { pollProgress, ProgressBar } from '../util/progress';
import { Context, PlannedRun } from './frame';

export const runDir = (ctx: Context, name: string): string => path.join(ctx.dir, name);

/** The config as text with sorted keys, without where it executes (threads, ep), which does not change the numbers. */
function configKey(c: TrainConfig): string {
  const { threads: _threads, ep: _ep, ...rest } = c;
  const sorted = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sorted(rest));
}

/** True when `dir` holds a run (finished or not) of another config than `config`. */
function isStale(dir: string, config: TrainConfig): boolean {
  return fs.existsSync(runFiles(dir).config) && configKey(readRunConfig(dir)) !== configKey(config);
}

async function runOne(r: PlannedRun, ctx: Context, threads: number): Promise<void> {
  const dir = runDir(ctx, r.name);
  if (isStale(dir, r.config)) {
    console.log(`${dir} was made with another config than the figure now plans; starting it again`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (isFinished(dir)) return;
  const resume = rollingCheckpointsOf(dir).length > 0;
  if (!resume) fs.rmSync(dir, { recursive: true, force: true });
  // The figure's command line decides where runs execute, not the preset.
  const config = { ...r.config, threads, ep: ctx.ep };
  if (ctx.jobs <= 1) {
    const result = await train(config, dir, { resume, quiet: ctx.quiet });
    if (result.status !== 'finished') throw new Error(`run ${dir} ${result.status}: ${result.message ?? ''}`);
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'planned-config.json');
  writeJsonAtomic(configFile, config);
  const cli = path.resolve(__dirname, '..', 'cli.js');
  const args = resume ? ['train', '--resume', dir, '--quiet'] : ['train', '--config', configFile, '--out', dir, '--quiet'];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker for ${dir} exited with ${code}`))));
  });
}

/** Runs every planned run that is not finished; `ctx.jobs` at a time. */
export async function runPlanned(runs: PlannedRun[], ctx: Context): Promise<void> {
  const jobs = Math.max(1, Math.min(ctx.jobs, runs.length));
  const threads = jobs > 1 ? Math.max(1, Math.floor((ctx.threads || os.cpus().length) / jobs)) : ctx.threads;
  const queue = [...runs];
  // Workers run quietly; one bar here sums the steps their metrics.jsonl files have reached.
  const stopBar = jobs > 1 && !ctx.quiet ? aggregateBar(runs, ctx) : undefined;
  try {
    await Promise.all(
      Array.from({ length: jobs }, async () => {
        for (let r = queue.shift(); r; r = queue.shift()) await runOne(r, ctx, threads);
      }),
    );
  } finally {
    stopBar?.();
  }
}

/** A bar of the steps the runs' metrics.jsonl files have reached, redrawn each second until the returned function stops it. */
export function aggregateBar(runs: PlannedRun[], ctx: Context): () => void {
  const metrics = runs.map((r) => runFiles(runDir(ctx, r.name)).metrics);
  const total = runs.reduce((n, r) => n + r.config.steps, 0);
  const bar = new ProgressBar({ total, initial: metrics.reduce((n, f) => n + lastLoggedStep(f), 0), label: `${path.basename(ctx.dir)}: ${runs.length} runs`, unit: ' steps' });
  return pollProgress(bar, () => {
    const steps = metrics.map(lastLoggedStep);
    const done = steps.filter((s, i) => s >= runs[i].config.steps).length;
    return { count: steps.reduce((a, b) => a + b, 0), suffix: `${done}/${runs.length} finished` };
  });
}

export interface RunMetrics {
  steps: StepRecord[];
  evals: EvalRecord[];
}

/** The step and eval records of a run. */
export function runMetrics(ctx: Context, name: string): RunMetrics {
  const records: MetricsRecord[] = readMetrics(path.join(runDir(ctx, name), 'metrics.jsonl'));
  return {
    steps: records.filter((r): r is StepRecord => r.type === 'step'),
    evals: records.filter((r): r is EvalRecord => r.type === 'eval'),
  };
}
