/**
 * A disk that fills while a checkpoint is written: on a 3 MiB tmpfs (mounted for the test, so it
 * needs root; skipped with the reason otherwise), with a filler file leaving room for the first
 * checkpoint and half of the next. The run must stop with an error naming the file, leave no
 * truncated file under a checkpoint's name, keep the older checkpoint, and, once space is freed,
 * resume to the same bytes as a run that never ran out.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors } from '../../src/io/safetensors';
import { rollingCheckpointsOf, runFiles } from '../../src/train/run-dir';
import { runCli, tmpDir, writeConfig } from '../cli';
import { faultConfig, leftovers, outcome, resumeArgs, trainArgs } from './harness';

let dir: string;
let disk: string;
let mountError: string | undefined;

beforeAll(() => {
  dir = tmpDir('ilr-enospc-');
  disk = path.join(dir, 'disk');
  fs.mkdirSync(disk);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', disk], { stdio: 'pipe' });
  } catch (e) {
    mountError = `${(e as Error).message}`.split('\n')[0];
  }
});
afterAll(() => {
  if (!mountError) execFileSync('umount', [disk]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const freeBytes = (p: string): number => {
  const s = fs.statfsSync(p);
  return s.bavail * s.bsize;
};

it('ENOSPC while checkpointing: no truncated checkpoint, the older one kept, the error names the file; after freeing space the run resumes to the same bytes', async () => {
  if (mountError) {
    console.log(`skipped: a small tmpfs cannot be mounted here (${mountError}); this test needs root`);
    return;
  }
  // keepCheckpoints 1: the disk holds one checkpoint while the next is written beside it.
  const config = writeConfig(dir, 'config.json', faultConfig({ keepCheckpoints: 1 }));
  const reference = path.join(dir, 'reference');
  expect((await runCli(trainArgs(config, reference))).code).toBe(0);
  const checkpointBytes = fs.statSync(rollingCheckpointsOf(reference)[0]).size;

  const filler = path.join(disk, 'filler');
  fs.writeFileSync(filler, Buffer.alloc(freeBytes(disk) - Math.round(1.5 * checkpointBytes)));
  const run = path.join(disk, 'run');
  const full = await runCli(trainArgs(config, run));
  expect(full.code).toBe(2);
  expect(full.stderr).toMatch(new RegExp(`^error: cannot write ${run}/checkpoints/step-\\d+\\.safetensors: no space left on the device \\(ENOSPC\\)`));
  expect(full.stderr).toContain(`continue it with: ilr train --resume ${run}`);
  const kept = rollingCheckpointsOf(run);
  expect(kept.length).toBe(1);
  for (const f of fs.readdirSync(runFiles(run).checkpoints)) expect(f).toMatch(/^step-\d+\.safetensors$/);
  expect(readSafetensors(kept[0]).tensors.size).toBeGreaterThan(0); // whole: it parses to its last byte
  expect(leftovers(run)).toEqual([]);

  fs.rmSync(filler);
  const resumed = await runCli(resumeArgs(run));
  expect([resumed.code, resumed.stderr]).toEqual([0, '']);
  expect(outcome(run)).toEqual(outcome(reference));
});
