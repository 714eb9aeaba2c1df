/**
 * The local launcher: the tasks run on this machine, `jobs` at a time. With one job they train
 * in this process; with more, each goes to a worker process (`ilr train ... --continue`) with
 * its share of the cores. A failed run does not stop the others. While it runs, `<dir>/local-launch.json` names this process, so
 * `ilr sweep status` can tell a running task from one that stopped.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastLoggedStep } from '../train/metrics';
import { runFiles } from '../train/run-dir';
import { train } from '../train/trainer';
import { pollProgress, ProgressBar } from '../util/progress';
import type { LaunchOptions, LaunchTask, Launcher } from './launcher';
import { CLI, prepareRunDir, taskArgs, writeTaskConfig } from './task';
import { writeFileAtomic } from '../io/files';

export const localLaunchFile = (dir: string): string => path.join(dir, 'local-launch.json');

/** True when the local launcher that last wrote `dir`'s launch file is still running. */
export function localLaunchAlive(dir: string): boolean {
  const f = localLaunchFile(dir);
  if (!fs.existsSync(f)) return false;
  const { pid, host } = JSON.parse(fs.readFileSync(f, 'utf8')) as { pid: number; host: string };
  if (host !== os.hostname()) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function runTask(t: LaunchTask, o: LaunchOptions, threads: number, inProcess: boolean): Promise<void> {
  const config = { ...t.config, threads, ep: o.ep };
  const state = prepareRunDir(t.dir, config);
  if (state === 'finished') return;
  if (inProcess) {
    const result = await train(config, t.dir, { resume: state === 'resume', quiet: o.quiet });
    if (result.status !== 'finished') throw new Error(`run ${t.dir} ${result.status}: ${result.message ?? ''}`);
    return;
  }
  writeTaskConfig(t.dir, config);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...taskArgs(t)], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker for ${t.dir} exited with ${code}`))));
  });
}

export const localLauncher: Launcher = {
  async launch(tasks, o) {
    const jobs = Math.max(1, Math.min(o.jobs, tasks.length));
    const threads = jobs > 1 ? Math.max(1, Math.floor((o.threads || os.cpus().length) / jobs)) : o.threads;
    writeFileAtomic(localLaunchFile(o.dir), JSON.stringify({ pid: process.pid, host: os.hostname(), started: new Date().toISOString() }) + '\n');
    // A run that fails (diverges, crashes) does not stop the others; the failures are reported at the end.
    const queue = [...tasks];
    const failures: string[] = [];
    // Workers run quietly; one bar here sums the steps their metrics.jsonl files have reached.
    const stopBar = jobs > 1 && !o.quiet ? aggregateBar(tasks, `${path.basename(o.dir)}: ${tasks.length} runs`) : undefined;
    try {
      await Promise.all(
        Array.from({ length: jobs }, async () => {
          for (let t = queue.shift(); t; t = queue.shift()) await runTask(t, o, threads, jobs === 1).catch((e: Error) => failures.push(e.message));
        }),
      );
    } finally {
      stopBar?.();
    }
    if (failures.length > 0) throw new Error(failureReport(failures, tasks.length));
    return { kind: 'done' };
  },
};

/**
 * The failures, each message once: when a model does not fit the data, every run fails alike before
 * it trains, and the one reason is what the user needs to read.
 */
export function failureReport(failures: readonly string[], runs: number): string {
  const counts = new Map<string, number>();
  for (const f of failures) counts.set(f, (counts.get(f) ?? 0) + 1);
  return [...counts].map(([message, n]) => (n > 1 ? `${n} of ${runs} runs: ${message}` : message)).join('\n');
}

/** A bar of the steps the tasks' metrics.jsonl files have reached, redrawn each second until the returned function stops it. */
export function aggregateBar(tasks: readonly LaunchTask[], label: string): () => void {
  const metrics = tasks.map((t) => runFiles(t.dir).metrics);
  const total = tasks.reduce((n, t) => n + t.config.steps, 0);
  const bar = new ProgressBar({ total, initial: metrics.reduce((n, f) => n + lastLoggedStep(f), 0), label, unit: ' steps' });
  return pollProgress(bar, () => {
    const steps = metrics.map(lastLoggedStep);
    const done = steps.filter((s, i) => s >= tasks[i].config.steps).length;
    return { count: steps.reduce((a, b) => a + b, 0), suffix: `${done}/${tasks.length} finished` };
  });
}
