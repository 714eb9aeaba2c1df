/**
 * The runs under the dashboard's directories: any folder holding a metrics.jsonl or a
 * config.json, found a few levels down (a run dir itself, a figure's output dir, a sweep dir,
 * `runs/`). Symbolic links are not followed, so the walk stays inside the directories given.
 * A run's id is the index of its root and its path under it (`0/decay/lr0.1`).
 */
import type { OptimizerConfig } from '../programs/optimizers';
import { DEFAULTS, optimizerOf, TrainConfig } from '../train/config';
import * as fs from 'fs';
import * as path from 'path';

export interface RunEntry {
  id: string;
  /** Where it is, as shown: the root's name and the path under it. */
  name: string;
  dir: string;
  /** config.steps of config.json, when there is one. */
  steps?: number;
  momentum: number;
  /** The run's optimizer, for its predicted equilibrium. */
  optimizer: OptimizerConfig;
  /** From summary.json, which only a finished run has: 'finished'; absent while a run trains, or after it stopped, diverged or was killed. */
  status?: string;
  /** Last change of metrics.jsonl (ms since the epoch), 0 when it has none yet. */
  updated: number;
}

const MAX_DEPTH = 4;
const SKIP = new Set(['checkpoints', 'node_modules', 'figures']);

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined; // absent, or being written
  }
}

function isRunDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'metrics.jsonl')) || fs.existsSync(path.join(dir, 'config.json'));
}

function entry(rootIndex: number, root: string, dir: string): RunEntry {
  const rel = path.relative(root, dir);
  const config = readJson(path.join(dir, 'config.json'))?.config as Partial<TrainConfig> | undefined;
  const summary = readJson(path.join(dir, 'summary.json'));
  let updated = 0;
  try {
    updated = fs.statSync(path.join(dir, 'metrics.jsonl')).mtimeMs;
  } catch {
    // no metrics yet
  }
  return {
    id: rel ? `${rootIndex}/${rel.split(path.sep).join('/')}` : `${rootIndex}`,
    name: rel ? `${path.basename(root)}/${rel.split(path.sep).join('/')}` : path.basename(root),
    dir,
    steps: config?.steps,
    momentum: config?.momentum ?? 0,
    optimizer: optimizerOf({ ...DEFAULTS, ...config }),
    status: typeof summary?.status === 'string' ? summary.status : undefined,
    updated,
  };
}

/** Every run under `roots`, in path order. */
export function listRuns(roots: readonly string[]): RunEntry[] {
  const out: RunEntry[] = [];
  const walk = (i: number, dir: string, depth: number) => {
    if (isRunDir(dir)) {
      out.push(entry(i, roots[i], dir));
      return;
    }
    if (depth >= MAX_DEPTH) return;
    let children: fs.Dirent[];
    try {
      children = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const c of children.sort((a, b) => a.name.localeCompare(b.name))) {
      if (c.isDirectory() && !c.name.startsWith('.') && !SKIP.has(c.name)) walk(i, path.join(dir, c.name), depth + 1);
    }
  };
  roots.forEach((r, i) => walk(i, r, 0));
  return out;
}
