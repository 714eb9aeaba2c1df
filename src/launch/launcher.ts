/**
 * Launchers: where a set of training runs executes. Each run is a task: a name, a run directory
 * and its config. `local` runs them here (in this process, or in worker processes); `slurm`
 * submits them as one job array. Both ready each run directory the same way (task.ts), so
 * finished runs are skipped and interrupted ones resume; a worker process or an array task runs
 * `ilr train --config FILE --out DIR --continue`, which does the same again where it runs.
 */
import type { ExecutionProvider } from '../runtime/session';
import type { TrainConfig } from '../train/config';
import { localLauncher } from './local';
import { SlurmOptions, slurmLauncher } from './slurm';

export interface LaunchTask {
  name: string;
  /** The run directory (absolute or relative to the working directory). */
  dir: string;
  config: TrainConfig;
}

export interface LaunchOptions {
  /** Where the launcher keeps its own files (job scripts, logs, what it submitted): a sweep's or a figure's directory. */
  dir: string;
  /** A short name for the job (a sweep's or a figure's). */
  name: string;
  /** Local: runs at a time, each in a worker process when more than one (Slurm: see SlurmOptions.maxParallel). */
  jobs: number;
  /** ORT threads per run (0: what the launcher gives each task). */
  threads: number;
  ep: ExecutionProvider;
  quiet: boolean;
}

/** done: every task finished here; submitted: they are in a queue, and `message` says where and what to run next. */
export type LaunchResult = { kind: 'done' } | { kind: 'submitted'; message: string };

export interface Launcher {
  /** Runs (local) or submits (slurm) every task not finished yet. */
  launch(tasks: readonly LaunchTask[], o: LaunchOptions): Promise<LaunchResult>;
}

/** Which launcher a command line chose, with its settings. */
export type LauncherChoice = { kind: 'local' } | { kind: 'slurm'; slurm: SlurmOptions; wait: boolean };

export const LAUNCHER_NAMES: readonly LauncherChoice['kind'][] = ['local', 'slurm'];

export const launcherFor = (c: LauncherChoice): Launcher => (c.kind === 'slurm' ? slurmLauncher(c.slurm, c.wait) : localLauncher);
