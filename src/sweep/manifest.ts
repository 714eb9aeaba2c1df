/**
 * A sweep directory: `sweep.json` (the manifest: the spec as given, and each run's name, the
 * values it overrides and its whole config), one normal run directory per point under `runs/`,
 * and whatever the launcher keeps (`slurm/`, `local-launch.json`).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { LaunchTask } from '../launch/launcher';
import { configKey } from '../launch/task';
import type { TrainConfig } from '../train/config';
import type { Overrides, SweepPoint, SweepSpec } from './spec';
import { writeJsonAtomic } from '../io/files';

export const MANIFEST_FORMAT = 'intrinsic-lr/sweep-1';

export interface SweepManifest {
  format: typeof MANIFEST_FORMAT;
  created: string;
  command: string;
  spec: SweepSpec;
  runs: { name: string; overrides: Overrides; config: TrainConfig }[];
}

export const manifestFile = (dir: string): string => path.join(dir, 'sweep.json');
export const sweepRunDir = (dir: string, name: string): string => path.join(dir, 'runs', name);

export function readManifest(dir: string): SweepManifest {
  const f = manifestFile(dir);
  if (!fs.existsSync(f)) throw new Error(`${dir} holds no sweep (no sweep.json); start one with: ilr sweep --out ${dir} --grid KEY=V1,V2 -- <ilr train options>`);
  const m = JSON.parse(fs.readFileSync(f, 'utf8')) as SweepManifest;
  if (m.format !== MANIFEST_FORMAT) throw new Error(`${f}: format "${m.format}", expected ${MANIFEST_FORMAT}`);
  return m;
}

/**
 * Writes the manifest of `points` to `dir`. A directory that holds another sweep is refused,
 * so that resubmitting the same sweep continues it and a changed one cannot mix with it.
 */
export function writeManifest(dir: string, spec: SweepSpec, points: readonly SweepPoint[], command: string): SweepManifest {
  const runs = points.map((p) => ({ name: p.name, overrides: p.overrides, config: p.config }));
  if (fs.existsSync(manifestFile(dir))) {
    const old = readManifest(dir);
    const key = (rs: SweepManifest['runs']) => JSON.stringify(rs.map((r) => [r.name, configKey(r.config)]));
    if (key(old.runs) !== key(runs)) throw new Error(`${dir} holds another sweep (${manifestFile(dir)}); choose another --out, or continue that one with: ilr sweep --out ${dir}`);
    return old;
  }
  const m: SweepManifest = { format: MANIFEST_FORMAT, created: new Date().toISOString(), command, spec, runs };
  writeJsonAtomic(manifestFile(dir), m);
  return m;
}

export const sweepTasks = (dir: string, m: SweepManifest): LaunchTask[] => m.runs.map((r) => ({ name: r.name, dir: sweepRunDir(dir, r.name), config: r.config }));
