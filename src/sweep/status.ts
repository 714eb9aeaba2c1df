/**
 * `ilr sweep status`: where each run of a sweep stands. done: finished. running / pending: in
 * the Slurm queue (or, for the local launcher, its process is alive and the run started / not
 * yet). failed: started, not finished and nowhere queued or running — diverged, crashed,
 * cancelled, timed out — with the log to read; the same `ilr sweep --out DIR` resumes it.
 */
import * as fs from 'fs';
import { localLaunchAlive } from '../launch/local';
import { queuedTasks, taskLog } from '../launch/slurm';
import { lastRecord } from '../train/metrics';
import { isFinished, runFiles } from '../train/run-dir';
import { readManifest, sweepRunDir } from './manifest';

export type RunStatus = 'done' | 'running' | 'failed' | 'pending';
export const RUN_STATUSES: readonly RunStatus[] = ['done', 'running', 'failed', 'pending'];

export interface RunState {
  name: string;
  dir: string;
  status: RunStatus;
  /** The last step written to metrics.jsonl, of `steps`. */
  step: number;
  steps: number;
  /** Why it failed (a divergence's message), when known. */
  reason?: string;
  /** The run's log, where a launcher wrote one. */
  log?: string;
}

export function sweepStatus(dir: string): RunState[] {
  const m = readManifest(dir);
  const queued = queuedTasks(dir);
  const localAlive = localLaunchAlive(dir);
  return m.runs.map((r) => {
    const runDir = sweepRunDir(dir, r.name);
    const files = runFiles(runDir);
    const started = fs.existsSync(files.config);
    // The last whole record: a run that died mid-write leaves a cut line, which is no reason to fail here.
    const last = lastRecord(files.metrics);
    const step = last?.step ?? 0;
    const log = fs.existsSync(taskLog(runDir)) ? taskLog(runDir) : undefined;
    const base = { name: r.name, dir: runDir, step, steps: r.config.steps, log };
    if (isFinished(runDir)) return { ...base, status: 'done' };
    if (last?.type === 'diverged') return { ...base, status: 'failed', reason: last.message };
    const inQueue = queued.get(r.name);
    if (inQueue) return { ...base, status: inQueue };
    if (localAlive) return { ...base, status: started ? 'running' : 'pending' };
    return { ...base, status: started ? 'failed' : 'pending', reason: started ? `stopped at step ${step} of ${r.config.steps}` : undefined };
  });
}

export function formatStatus(dir: string, states: readonly RunState[]): string {
  const count = RUN_STATUSES.map((s) => `${states.filter((r) => r.status === s).length} ${s}`).join(', ');
  const width = Math.max(...states.map((r) => r.name.length));
  const lines = states.map((r) => {
    const extra = r.status === 'failed' ? `  ${r.reason ?? ''}${r.log ? `; log: ${r.log}` : ''}` : '';
    return `${r.name.padEnd(width)}  ${r.status.padEnd(7)}  step ${r.step}/${r.steps}${extra}`;
  });
  const hint = states.some((r) => r.status === 'failed' || r.status === 'pending') ? [`continue the unfinished runs with: ilr sweep --out ${dir} [--launcher …]`] : [];
  return [`${dir}: ${states.length} runs: ${count}`, ...lines, ...hint].join('\n');
}
