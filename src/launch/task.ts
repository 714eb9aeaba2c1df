/**
 * A launcher's task: one training run, started by `ilr train --config FILE --out DIR --continue`
 * wherever it executes. Before it trains, the task readies its run directory: a finished run is
 * left alone, an interrupted one resumes from its newest checkpoint, and one made with another
 * config, or stopped before its first checkpoint, starts again. Every launcher and every task
 * decides the same way, so a run is never done twice and a resubmitted task picks up where it
 * stopped.
 */
import * as fs from 'fs';
import * as path from 'path';
import { eventFileIn } from '../io/tensorboard';
import type { LaunchTask } from './launcher';
import type { TrainConfig } from '../train/config';
import { isFinished, lockRunDir, readRunConfig, rollingCheckpointsOf, runFiles } from '../train/run-dir';
import { writeJsonAtomic } from '../io/files';

export type RunDirState = 'finished' | 'resume' | 'fresh';

/** The file a launcher writes for each task: the whole config, for `ilr train --config`. */
export const taskConfigFile = (dir: string): string => path.join(dir, 'planned-config.json');

/** The config as text with sorted keys, without where it executes (threads, ep), which does not change the numbers. */
export function configKey(c: TrainConfig): string {
  const { threads: _threads, ep: _ep, ...rest } = c;
  const sorted = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sorted(rest));
}

/** Removes the run's own files (not the task config or logs a launcher keeps beside them). */
function clearRun(dir: string): void {
  const events = eventFileIn(dir);
  for (const f of [...Object.values(runFiles(dir)), ...(events ? [events] : [])]) fs.rmSync(f, { recursive: true, force: true });
}

/**
 * Readies `dir` for a run of `config` and says how to continue it. It holds the run's lock while
 * it looks and clears, so a run that is training there is refused (naming its process) rather
 * than having its files removed under it.
 */
export function prepareRunDir(dir: string, config: TrainConfig): RunDirState {
  const lock = lockRunDir(dir);
  try {
    if (fs.existsSync(runFiles(dir).config) && configKey(readRunConfig(dir)) !== configKey(config)) {
      console.log(`${dir} was made with another config than the one planned now; starting it again`);
      clearRun(dir);
    }
    if (isFinished(dir)) return 'finished';
    if (rollingCheckpointsOf(dir).length > 0) return 'resume';
    clearRun(dir);
    return 'fresh';
  } finally {
    lock.release();
  }
}

/** Writes the task's config file (atomically: a task may be reading the previous one). */
export function writeTaskConfig(dir: string, config: TrainConfig): string {
  const file = taskConfigFile(dir);
  writeJsonAtomic(file, config);
  return file;
}

/** The built CLI that tasks run (dist/cli.js). */
export const CLI = path.resolve(__dirname, '..', 'cli.js');

/** The arguments of `node CLI ...` that run a task, given its config file. */
export const taskArgs = (t: Pick<LaunchTask, 'dir'>): string[] => ['train', '--config', taskConfigFile(t.dir), '--out', t.dir, '--continue', '--quiet'];
