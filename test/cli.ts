/** Running the built CLI (`node dist/cli.js`, compiled by test/global-setup.js) from tests. */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `node dist/cli.js ...args` in the repository root; two threads for ORT unless the args say otherwise. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Waits for a started CLI process and collects its output. */
export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export const runCli = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => finished(startCli(args, env));

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes a training config (the `config` of a run's config.json) to a file for `ilr train --config`. */
export function writeConfig(dir: string, name: string, config: object): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Polls until `file` exists, then SIGKILLs the child. Resolves with whether the kill was needed. */
export function killWhenWritten(child: ReturnType<typeof startCli>, file: string): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (fs.existsSync(file)) {
        clearInterval(timer);
        child.kill('SIGKILL');
        resolve();
      }
    }, 2);
    child.on('close', () => {
      clearInterval(timer);
      resolve();
    });
  });
}

/**
 * The same run twice in `dir`, for resume tests: `straight` uninterrupted, and `killed` SIGKILLed
 * as soon as its checkpoint `at` exists (resume it, then compare). Returns both processes' results.
 */
export async function straightAndKilled(config: string, dir: string, at: string): Promise<{ straight: string; killed: string; uninterrupted: CliResult; kill: CliResult }> {
  const straight = path.join(dir, 'straight');
  const killed = path.join(dir, 'killed');
  const uninterrupted = await runCli(['train', '--config', config, '--out', straight, '--quiet']);
  const child = startCli(['train', '--config', config, '--out', killed, '--quiet']);
  const done = finished(child);
  await killWhenWritten(child, path.join(killed, 'checkpoints', at));
  return { straight, killed, uninterrupted, kill: await done };
}
