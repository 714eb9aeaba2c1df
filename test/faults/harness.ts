/**
 * Fault injection on real `ilr train` processes (node dist/cli.js), so that a SIGKILL is a real
 * one: small runs on synthetic data, started, signalled at chosen moments, resumed, and compared
 * byte for byte with a run that was never interrupted.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { runFiles } from '../../src/train/run-dir';
import { CLI, CliResult, finished, ROOT, startCli, tmpDir, writeConfig } from '../cli';
import { tinyConfig } from '../train/fixtures';
import type { TrainConfig } from '../../src/train/config';

/** A run of 60 steps with a checkpoint every 3: on two cores, about a second of start-up and a second of steps. */
export const faultConfig = (over: Partial<TrainConfig> = {}): TrainConfig =>
  tinyConfig({ steps: 60, checkpointEvery: 3, keepCheckpoints: 2, logEvery: 5, evalEvery: 20, sharpnessEvery: 15, ...over });

export const trainArgs = (configFile: string, out: string): string[] => ['train', '--config', configFile, '--out', out, '--quiet'];
export const resumeArgs = (out: string): string[] => ['train', '--resume', out, '--quiet'];

export interface Timed {
  result: CliResult;
  seconds: number;
}

export async function timedRun(args: string[]): Promise<Timed> {
  const t0 = Date.now();
  const result = await finished(startCli(args));
  return { result, seconds: (Date.now() - t0) / 1000 };
}

/** A test directory with the fault config written to it and that config's run, never interrupted: the reference. */
export interface Reference {
  dir: string;
  config: string;
  reference: string;
  /** How long the uninterrupted run's life (start-up included) took. */
  seconds: number;
}

export async function uninterruptedReference(prefix: string): Promise<Reference> {
  const dir = tmpDir(prefix);
  const config = writeConfig(dir, 'config.json', faultConfig());
  const reference = path.join(dir, 'reference');
  const run = await timedRun(trainArgs(config, reference));
  if (run.result.code !== 0) throw new Error(`the reference run failed: ${run.result.stderr}`);
  return { dir, config, reference, seconds: run.seconds };
}

/** Resolves when `file` exists (polled), or rejects after `timeoutMs`. */
export async function waitFor(file: string, child: ChildProcess, timeoutMs = 60000): Promise<void> {
  const t0 = Date.now();
  while (!fs.existsSync(file)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the process ended before ${file} appeared`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The files that must be identical after any sequence of interruptions and resumes. */
export function outcome(runDir: string): Record<string, string> {
  const f = runFiles(runDir);
  const out: Record<string, string> = {
    'metrics.jsonl': fs.readFileSync(f.metrics, 'utf8'),
    'summary.json': fs.readFileSync(f.summary, 'utf8'),
    'sharpness.jsonl': fs.readFileSync(f.sharpness, 'utf8'),
  };
  for (const name of fs.readdirSync(f.checkpoints).sort()) {
    out[`checkpoints/${name}`] = fs.readFileSync(path.join(f.checkpoints, name)).toString('base64');
  }
  return out;
}

/** Files a finished run must not have left: temp files, a lock. */
export function leftovers(runDir: string): string[] {
  const f = runFiles(runDir);
  const names = [...fs.readdirSync(runDir), ...fs.readdirSync(f.checkpoints).map((n) => `checkpoints/${n}`)];
  return names.filter((n) => n.endsWith('.tmp') || n === 'lock');
}

/** Why strace cannot inject faults here, or undefined when it can (it needs ptrace). */
export function straceUnavailable(): string | undefined {
  const r = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', 'true'], { stdio: 'pipe' });
  if (r.error) return `strace is not installed (${r.error.message})`;
  return r.status === 0 ? undefined : `strace cannot trace here: ${r.stderr.toString().trim()}`;
}

/** Runs the CLI under strace with `inject` (e.g. ['-e', 'inject=rename:signal=KILL:when=2']): a fault at an exact system call. */
export function runCliWithFault(inject: string[], args: string[]): Promise<CliResult> {
  return finished(spawn('strace', ['-f', '-qq', '-o', '/dev/null', ...inject, process.execPath, CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
}
