/**
 * The Slurm launcher: the unfinished tasks go to one `sbatch --array` job (several when there are
 * more than the cluster's MaxArraySize), whose task i runs line i of its task list by the run's
 * config file (`ilr train --config FILE --out DIR --continue`).
 *
 * - Resubmitting is safe: tasks that are finished, or still queued or running in an array this
 *   launcher submitted before, are left out of the new array.
 * - A task that is preempted, cancelled or reaches its time limit gets SIGTERM (the batch
 *   shell execs node, so node gets it; `--signal=B:TERM@120` sends it two minutes before the
 *   limit): the trainer writes a checkpoint and stops, and the next run of the task resumes
 *   from it exactly. `--requeue` lets Slurm put a preempted task back in the queue itself.
 * - Everything it writes sits under `<dir>/slurm/`: the job scripts, the task lists, the
 *   submissions (submitted.json) and Slurm's own logs; each run's output goes to
 *   `<run dir>/train.log`.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { isFinished } from '../train/run-dir';
import type { LaunchOptions, LaunchTask, Launcher, LaunchResult } from './launcher';
import { CLI, prepareRunDir, taskArgs, writeTaskConfig } from './task';
import { writeFileAtomic, writeJsonAtomic } from '../io/files';

/** The #SBATCH settings a command line passes through (undefined: the cluster's default). */
export interface SlurmOptions {
  partition?: string;
  time?: string;
  cpusPerTask?: number;
  gres?: string;
  mem?: string;
  account?: string;
  /** Further `#SBATCH` lines, each an option such as `--qos=high`. */
  extra: string[];
  /** Tasks of the array running at once (its `%N`; 0: as many as the cluster gives). */
  maxParallel: number;
}

/** One submitted array: its job id and the task (by name) behind each array index. */
interface Submission {
  jobId: string;
  script: string;
  tasks: Record<string, string>;
}

export type QueueState = 'pending' | 'running';

export const slurmDir = (dir: string): string => path.join(dir, 'slurm');
const submittedFile = (dir: string): string => path.join(slurmDir(dir), 'submitted.json');
export const taskLog = (runDir: string): string => path.join(runDir, 'train.log');

/** Fails with what to install when a Slurm command is not on PATH. */
export function requireSlurmCommand(name: string): void {
  const found = (process.env.PATH ?? '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, name)));
  if (!found) {
    throw new Error(
      `--launcher slurm: \`${name}\` is not on PATH. Run this on the cluster's login node, or install Slurm's client commands ` +
        '(Debian/Ubuntu: apt-get install slurm-client; a one-node cluster to try it: apt-get install slurm-wlm munge, then scripts/slurm-up.sh), or use --launcher local.',
    );
  }
}

function slurm(cmd: string, args: string[]): string {
  requireSlurmCommand(cmd);
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr || err.message).trim()}`);
  }
}

export function readSubmissions(dir: string): Submission[] {
  const f = submittedFile(dir);
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as Submission[]) : [];
}

function writeSubmissions(dir: string, subs: Submission[]): void {
  writeJsonAtomic(submittedFile(dir), subs);
}

/** The tasks (by name) of this directory's arrays that Slurm still has queued or running. */
export function queuedTasks(dir: string): Map<string, QueueState> {
  const subs = readSubmissions(dir);
  const out = new Map<string, QueueState>();
  if (subs.length === 0) return out;
  const byJob = new Map(subs.map((s) => [s.jobId, s]));
  // This user's jobs, one line per array task (-r), pending ones included; %F is the array's job id, %K the index.
  for (const line of slurm('squeue', ['--me', '-h', '-r', '-o', '%F|%K|%T']).split('\n')) {
    const [job, index, state] = line.trim().split('|');
    const name = byJob.get(job)?.tasks[index];
    if (name) out.set(name, state === 'PENDING' || state === 'CONFIGURING' ? 'pending' : 'running');
  }
  return out;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The job script: #SBATCH lines, then the task of this array index, run by node in place of the shell. */
export function jobScript(o: { name: string; array: string; logDir: string; taskList: string; slurm: SlurmOptions }): string {
  const s = o.slurm;
  const lines = [
    `--job-name=${o.name}`,
    `--array=${o.array}`,
    `--output=${path.join(o.logDir, '%A_%a.out')}`,
    '--open-mode=append',
    '--requeue',
    '--signal=B:TERM@120',
    ...(s.partition ? [`--partition=${s.partition}`] : []),
    ...(s.time ? [`--time=${s.time}`] : []),
    ...(s.cpusPerTask ? [`--cpus-per-task=${s.cpusPerTask}`] : []),
    ...(s.gres ? [`--gres=${s.gres}`] : []),
    ...(s.mem ? [`--mem=${s.mem}`] : []),
    ...(s.account ? [`--account=${s.account}`] : []),
    ...s.extra,
  ];
  return [
    '#!/bin/bash',
    ...lines.map((l) => `#SBATCH ${l}`),
    'set -euo pipefail',
    '# Line i + 1 of the task list is "<run dir><TAB><name>" of array index i.',
    `RUN=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${quote(o.taskList)} | cut -f1)`,
    '[ -n "$RUN" ] || { echo "no task $SLURM_ARRAY_TASK_ID in the task list" >&2; exit 1; }',
    'mkdir -p "$RUN"',
    `echo "== $(date -u +%FT%TZ) job $SLURM_JOB_ID (array $SLURM_ARRAY_JOB_ID index $SLURM_ARRAY_TASK_ID, restart \${SLURM_RESTART_COUNT:-0}) on $(hostname)" >>"$RUN/train.log"`,
    `exec ${[process.execPath, CLI, ...taskArgs({ dir: '$RUN' })].map((a) => (a.includes('$RUN') ? `"${a}"` : quote(a))).join(' ')} >>"$RUN/train.log" 2>&1`,
    '',
  ].join('\n');
}

/** The cluster's MaxArraySize (array indices stay below it; Slurm's default is 1001). */
function maxArraySize(): number {
  const m = /^MaxArraySize\s*=\s*(\d+)/m.exec(slurm('scontrol', ['show', 'config']));
  return m ? Number(m[1]) : 1001;
}

/** Submits `tasks` as one array (index i runs tasks[i]) and records it; returns the job id. */
function submit(tasks: readonly LaunchTask[], o: LaunchOptions, s: SlurmOptions): string {
  const dir = slurmDir(o.dir);
  const logDir = path.resolve(dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const n = readSubmissions(o.dir).length + 1;
  const taskList = path.resolve(dir, `tasks-${n}.tsv`);
  writeFileAtomic(taskList, tasks.map((t) => `${path.resolve(t.dir)}\t${t.name}\n`).join(''));
  const array = `0-${tasks.length - 1}` + (s.maxParallel > 0 ? `%${s.maxParallel}` : '');
  const script = path.resolve(dir, `job-${n}.sh`);
  writeFileAtomic(script, jobScript({ name: o.name, array, logDir, taskList, slurm: s }));
  const jobId = slurm('sbatch', ['--parsable', script]).trim().split(';')[0];
  writeSubmissions(o.dir, [...readSubmissions(o.dir), { jobId, script, tasks: Object.fromEntries(tasks.map((t, i) => [String(i), t.name])) }]);
  return jobId;
}

/** Blocks until none of the tasks is queued or running, with a line of progress whenever it changes. */
async function waitFor(tasks: readonly LaunchTask[], o: LaunchOptions, jobId: string, pollMs: number): Promise<void> {
  let last = '';
  for (;;) {
    const queued = queuedTasks(o.dir);
    const running = [...queued.values()].filter((s) => s === 'running').length;
    const done = tasks.filter((t) => isFinished(t.dir)).length;
    const line = `${o.name}: job ${jobId}: ${done}/${tasks.length} finished, ${running} running, ${queued.size - running} pending`;
    if (line !== last && !o.quiet) console.error(line);
    last = line;
    if (queued.size === 0) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Polling interval of --wait (ILR_SLURM_POLL_MS overrides the default 5 s, for tests). */
const pollMs = (): number => Number(process.env.ILR_SLURM_POLL_MS) || 5000;

export function slurmLauncher(s: SlurmOptions, wait: boolean): Launcher {
  return {
    async launch(tasks, o): Promise<LaunchResult> {
      requireSlurmCommand('sbatch');
      const threads = o.threads || s.cpusPerTask || 1;
      const queued = queuedTasks(o.dir);
      const todo = tasks.filter((t) => {
        if (queued.has(t.name)) return false;
        const config = { ...t.config, threads, ep: o.ep };
        if (prepareRunDir(t.dir, config) === 'finished') return false;
        writeTaskConfig(t.dir, config);
        return true;
      });
      const submitted: string[] = [];
      // An array's indices stop below the cluster's MaxArraySize: a longer list goes as several arrays.
      const size = todo.length > 0 ? maxArraySize() : 1;
      for (let i = 0; i < todo.length; i += size) submitted.push(submit(todo.slice(i, i + size), o, s));
      const jobId = submitted.join(',') || (readSubmissions(o.dir).at(-1)?.jobId ?? '');
      const inQueue = todo.length + queued.size;
      if (inQueue === 0) return { kind: 'done' };
      if (!wait) {
        return {
          kind: 'submitted',
          message: `${o.name}: ${todo.length} run(s) submitted as Slurm job ${jobId}${queued.size ? `, ${queued.size} still queued from before` : ''}; logs in ${path.join(slurmDir(o.dir), 'logs')} and each run's train.log. Run the same command again when they finish (squeue -j ${jobId}), or add --wait.`,
        };
      }
      await waitFor(tasks, o, jobId, pollMs());
      const failed = tasks.filter((t) => !isFinished(t.dir));
      if (failed.length > 0) throw new Error(`${o.name}: ${failed.length} run(s) did not finish: ${failed.map((t) => `${t.name} (log: ${taskLog(t.dir)})`).join(', ')}. Run the same command again to resume them.`);
      return { kind: 'done' };
    },
  };
}
