/**
 * A run directory and who owns it. It holds config.json, metrics.jsonl, checkpoints/, perhaps
 * predictions.jsonl, channels.jsonl, sharpness.jsonl and, when the run is done, summary.json; while a process trains in it, also `lock` (that process's PID).
 *
 * Opening one for a fresh start or a resume takes the lock first, so two processes never write
 * the same run; a lock left by a process that died is taken over. A run that never reached its
 * first checkpoint has lost nothing worth keeping: it may be started again in place, and a
 * resume of it starts from step 0. Temp files of writes that a crash cut short are removed; a
 * temp file is never used, even a complete one (the run redoes those steps, with the same result).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readJsonFile, tempFileWriter, tempName, writeFileAtomic, writeJsonAtomic } from '../io/files';
import { checkExecutionProvider, ExecutionProvider } from '../runtime/session';
import { rollingCheckpoints } from './checkpoint';
import { parseConfig, TrainConfig } from './config';
import type { EvalRecord } from './metrics';

export interface RunFiles {
  config: string;
  metrics: string;
  /** The predicted test labels at every evaluation (config.recordPredictions). */
  predictions: string;
  /** Per-output-channel angular updates every config.channelEvery steps (channels.ts). */
  channels: string;
  /** λ_max of the loss's Hessian every config.sharpnessEvery steps (hessian.ts). */
  sharpness: string;
  checkpoints: string;
  summary: string;
}

export const runFiles = (runDir: string): RunFiles => ({
  config: path.join(runDir, 'config.json'),
  metrics: path.join(runDir, 'metrics.jsonl'),
  predictions: path.join(runDir, 'predictions.jsonl'),
  channels: path.join(runDir, 'channels.jsonl'),
  sharpness: path.join(runDir, 'sharpness.jsonl'),
  checkpoints: path.join(runDir, 'checkpoints'),
  summary: path.join(runDir, 'summary.json'),
});

/** Held by the process that trains in runDir; not among runFiles, which callers may clear. */
export const lockFile = (runDir: string): string => path.join(runDir, 'lock');

export const rollingCheckpointsOf = (runDir: string): string[] => rollingCheckpoints(runFiles(runDir).checkpoints);

/** The step a rolling checkpoint was written after, from its name. */
const stepOf = (file: string): number => Number(/step-(\d+)\.safetensors$/.exec(file)![1]);

// ---- config.json and summary.json ----------------------------------------------------------

export function readRunConfig(runDir: string): TrainConfig {
  const f = runFiles(runDir).config;
  if (!fs.existsSync(f)) throw new Error(`${runDir} holds no run (no config.json); nothing to resume`);
  const body = readJsonFile(f, `restore it, or remove ${runDir} and start the run again`) as { config?: unknown };
  return parseConfig(body.config, `${f}, "config"`);
}

/** config.json: the resolved config, plus what it ran on and the command, for the record. */
export interface RunRecord {
  config: TrainConfig;
  model: unknown;
  data: Record<string, string | null>;
  env: Record<string, string | number>;
  command: string;
  created: string;
  /** Each resume that changed the config (more steps, another device): when, the command, what changed. */
  resumed?: { at: string; command: string; changed: Partial<TrainConfig> }[];
}

function environment(c: TrainConfig): RunRecord['env'] {
  return {
    node: process.version,
    onnxruntime: require('onnxruntime-node/package.json').version as string,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    ep: c.ep,
    threads: c.threads,
  };
}

const command = (): string => process.argv.slice(1).join(' ');

export function writeRunConfig(runDir: string, c: TrainConfig, described: Pick<RunRecord, 'model' | 'data'>): void {
  const record: RunRecord = { config: c, ...described, env: environment(c), command: command(), created: new Date().toISOString() };
  writeJsonAtomic(runFiles(runDir).config, record);
}

function recordResume(runDir: string, c: TrainConfig, changed: Partial<TrainConfig>): void {
  const f = runFiles(runDir).config;
  const record = readJsonFile(f, `restore it, or remove ${runDir} and start the run again`) as RunRecord;
  const resumed = [...(record.resumed ?? []), { at: new Date().toISOString(), command: command(), changed }];
  writeJsonAtomic(f, { ...record, config: c, env: environment(c), resumed });
}

export interface Summary {
  status: 'finished';
  steps: number;
  final: EvalRecord;
}

export function readSummary(runDir: string): Summary | undefined {
  const f = runFiles(runDir).summary;
  if (!fs.existsSync(f)) return undefined;
  const s = readJsonFile(f, `delete it and run \`ilr train --resume ${runDir}\`, which evaluates the final checkpoint again`) as Summary;
  if (s.status !== 'finished' || !Number.isInteger(s.steps) || !s.final) {
    throw new Error(`${f} is not a run summary ({"status": "finished", "steps", "final"}); delete it and run \`ilr train --resume ${runDir}\``);
  }
  return s;
}

export const writeSummary = (runDir: string, s: Summary): void => writeJsonAtomic(runFiles(runDir).summary, s);

/** True when the run in runDir finished (experiments skip such runs). */
export const isFinished = (runDir: string): boolean => readSummary(runDir) !== undefined;

// ---- the lock ------------------------------------------------------------------------------

interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

function readHolder(lock: string): LockHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(lock, 'utf8')) as LockHolder;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${lock} cannot be read (${(e as Error).message}); if no process trains in ${path.dirname(lock)}, delete it`);
  }
}

/** Places our lock file if there is none: written whole to a temp file, then linked, which fails if the lock exists. */
function tryLock(lock: string): boolean {
  const mine: LockHolder = { pid: process.pid, host: os.hostname(), command: command(), since: new Date().toISOString() };
  const tmp = tempName(lock);
  writeFileAtomic(tmp, JSON.stringify(mine) + '\n');
  try {
    fs.linkSync(tmp, lock);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Moves a dead process's lock aside. If another process took it over first and placed its own
 * in between, what we moved is that live lock: it is put back and we report its holder.
 */
function takeOver(lock: string, dead: LockHolder): LockHolder | undefined {
  const aside = tempName(`${lock}.stale`); // a temp file: removed if we die holding it
  try {
    fs.renameSync(lock, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // someone else moved it; try again
    throw e;
  }
  const moved = readHolder(aside);
  if (moved && moved.pid !== dead.pid) {
    try {
      fs.linkSync(aside, lock);
    } finally {
      fs.rmSync(aside, { force: true });
    }
    return moved;
  }
  fs.rmSync(aside, { force: true });
  return undefined;
}

function inUse(runDir: string, lock: string, h: LockHolder): Error {
  const where = h.host === os.hostname() ? `process ${h.pid}` : `process ${h.pid} on ${h.host}`;
  return new Error(`${runDir} is in use by ${where} (\`${h.command}\`, since ${h.since}); wait for it to finish or stop it. ` +
    `If that process no longer runs, delete ${lock}`);
}

export interface RunLock {
  release(): void;
}

/** Takes the run directory for this process, or says which process holds it. */
export function lockRunDir(runDir: string): RunLock {
  const lock = lockFile(runDir);
  fs.mkdirSync(runDir, { recursive: true });
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryLock(lock)) {
      return {
        release: () => {
          if (readHolder(lock)?.pid === process.pid) fs.rmSync(lock, { force: true });
        },
      };
    }
    const holder = readHolder(lock);
    if (!holder) continue; // released just now
    // On another host we cannot tell whether the process lives; only a person can.
    if (holder.host !== os.hostname() || isAlive(holder.pid)) throw inUse(runDir, lock, holder);
    const live = takeOver(lock, holder);
    if (live) throw inUse(runDir, lock, live);
  }
  throw new Error(`${runDir}: could not take ${lock}, which other processes keep taking; try again`);
}

/** Removes the temp files in `dir` of writes whose process is gone (a crash cut them short). */
function removeDeadTempFiles(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    const writer = tempFileWriter(name);
    if (writer !== undefined && !isAlive(writer)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

// ---- opening a run -------------------------------------------------------------------------

/** What `--resume` may change: none of these alter the trajectory, only its length or where it runs. */
export interface ResumeChanges {
  steps?: number;
  ep?: ExecutionProvider;
  threads?: number;
}

export interface OpenRun {
  config: TrainConfig;
  lock: RunLock;
  /** The newest rolling checkpoint; none when the run never reached one (it starts from step 0). */
  newest?: string;
  /** Set when a resumed run had already finished at its (possibly changed) length: nothing to do. */
  finished?: Summary;
  /** True when config.json must be written (a fresh start). */
  fresh: boolean;
}

function changedFields(stored: TrainConfig, changes: ResumeChanges): Partial<TrainConfig> {
  const out: Partial<TrainConfig> = {};
  for (const [k, v] of Object.entries(changes) as [keyof ResumeChanges, number | ExecutionProvider | undefined][]) {
    if (v !== undefined && v !== stored[k]) Object.assign(out, { [k]: v });
  }
  return out;
}

function openForResume(runDir: string, changes: ResumeChanges, lock: RunLock): OpenRun {
  const files = runFiles(runDir);
  const stored = readRunConfig(runDir);
  const newest = rollingCheckpointsOf(runDir)[0];
  const done = newest ? stepOf(newest) : 0;
  const changed = changedFields(stored, changes);
  const config = parseConfig({ ...stored, ...changed }, `the config of ${runDir} with the resume's changes`);
  if (config.steps < done) {
    throw new Error(`--steps ${config.steps}: the run in ${runDir} has already done ${done} steps (${newest}); give at least ${done}`);
  }
  checkExecutionProvider(config.ep);
  const summary = readSummary(runDir);
  // Finished, and its final checkpoint is there: nothing to do.
  if (summary && config.steps <= summary.steps && done === summary.steps) return { config, lock, newest, finished: summary, fresh: false };
  if (Object.keys(changed).length > 0) recordResume(runDir, config, changed);
  // Extended, or its final checkpoint was deleted: no longer finished (a kill before the end must resume, not be skipped).
  if (summary) fs.rmSync(files.summary);
  return { config, lock, newest, fresh: false };
}

function openForStart(runDir: string): void {
  const files = runFiles(runDir);
  const newest = rollingCheckpointsOf(runDir)[0];
  if (newest) throw new Error(`${runDir} already holds a run (its newest checkpoint is ${newest}); continue it with --resume ${runDir}, or choose another --out`);
  // What an earlier start left before its first checkpoint is replaced, not appended to.
  for (const f of [files.metrics, files.predictions, files.channels, files.sharpness, files.summary]) fs.rmSync(f, { force: true });
}

/**
 * Opens runDir for training: locked, leftovers of interrupted writes removed, and the config to
 * run with (the given one for a fresh start; config.json's, with `changes`, for a resume).
 */
export function openRunDir(runDir: string, o: { resume: false; config: TrainConfig } | { resume: true; changes: ResumeChanges }): OpenRun {
  // Refuse before creating anything: a resume needs a run, a start a provider that is there.
  if (o.resume) readRunConfig(runDir);
  else checkExecutionProvider(o.config.ep);
  const lock = lockRunDir(runDir);
  try {
    for (const dir of [runDir, runFiles(runDir).checkpoints]) removeDeadTempFiles(dir);
    if (o.resume) return openForResume(runDir, o.changes, lock);
    openForStart(runDir);
    return { config: o.config, lock, fresh: true };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** The divergence message's advice, true to what the checkpoint directory holds. */
export function afterDivergence(runDir: string): string {
  const newest = rollingCheckpointsOf(runDir)[0];
  return newest
    ? `The last good checkpoint, ${newest}, is kept; lower the learning rate or λη and start a new run (another --out).`
    : `No checkpoint was written before it; lower the learning rate or λη and start again (the same --out may be reused).`;
}
