/** The launcher options that `ilr sweep`, `ilr reproduce` and each figure's command share. */
import { LAUNCHER_NAMES, LauncherChoice } from '../launch/launcher';

export interface LaunchArgs {
  launcher: string;
  wait: boolean;
  partition?: string;
  time?: string;
  'cpus-per-task'?: number;
  gres?: string;
  mem?: string;
  account?: string;
  sbatch: string[];
  'max-parallel': number;
}

export const launchOptions = {
  launcher: { choices: LAUNCHER_NAMES as unknown as string[], default: 'local', describe: 'where the training runs execute: local (here, --jobs at a time) or slurm (one sbatch --array job)' },
  wait: { type: 'boolean', default: false, describe: 'slurm: wait for the array to finish, with progress, then go on (default: submit and return)' },
  partition: { type: 'string', describe: 'slurm: #SBATCH --partition (default: the cluster\'s)' },
  time: { type: 'string', describe: 'slurm: #SBATCH --time per task, e.g. 12:00:00 (default: the partition\'s)' },
  'cpus-per-task': { type: 'number', describe: 'slurm: #SBATCH --cpus-per-task, also each run\'s ORT threads (default: 1)' },
  gres: { type: 'string', describe: 'slurm: #SBATCH --gres, e.g. gpu:1' },
  mem: { type: 'string', describe: 'slurm: #SBATCH --mem, e.g. 8G' },
  account: { type: 'string', describe: 'slurm: #SBATCH --account' },
  sbatch: { type: 'string', array: true, default: [] as string[], describe: 'slurm: further #SBATCH lines, e.g. --sbatch=--qos=high' },
  'max-parallel': { type: 'number', default: 0, describe: 'slurm: array tasks running at once (the array\'s %N; 0: no limit)' },
} as const;

export function parseLauncher(a: LaunchArgs): LauncherChoice {
  if (a.launcher === 'local') return { kind: 'local' };
  for (const line of a.sbatch) if (!line.startsWith('-')) throw new Error(`--sbatch "${line}": expected an sbatch option such as --qos=high`);
  if (!(Number.isInteger(a['max-parallel']) && a['max-parallel'] >= 0)) throw new Error(`--max-parallel ${a['max-parallel']}: expected a non-negative integer`);
  return {
    kind: 'slurm',
    wait: a.wait,
    slurm: { partition: a.partition, time: a.time, cpusPerTask: a['cpus-per-task'], gres: a.gres, mem: a.mem, account: a.account, extra: a.sbatch, maxParallel: a['max-parallel'] },
  };
}
