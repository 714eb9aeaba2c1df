/**
 * Launchers: where a set of training runs executes. Each run is a task: a name, a run directory
 * and its config. `local` runs them here (in this process, or in worker processes); `slurm`
 * submits them as one job array. Both start each task the same way (`ilr train --config FILE
 * --out DIR --continue`, see task.ts), so finished runs are skipped and interrupted ones resume.
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

export type LaunchResult = { kind: 'done' } | { kind: 'submitted'; jobId: string; tasks: number; message: string };

export interface Launcher {
  /** Runs (local) or submits (slurm) every task not finished yet. */
  launch(tasks: readonly LaunchTask[], o: LaunchOptions): Promise<LaunchResult>;
}

/** Which launcher a command line chose, with its settings. */
export type LauncherChoice = { kind: 'local' } | { kind: 'slurm'; slurm: SlurmOptions; wait: boolean };

export const LAUNCHER_NAMES: readonly LauncherChoice['kind'][] = ['local', 'slurm'];

export const launcherFor = (c: LauncherChoice): Launcher => (c.kind === 'slurm' ? slurmLauncher(c.slurm, c.wait) : localLauncher);
