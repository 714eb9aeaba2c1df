/**
 * SIGTERM and SIGINT are caught from the start of a run, before its programs are created: the
 * run stops with a checkpoint, exits 128 + the signal's number (143, 130), and resumes to the
 * same bytes as a run that was never stopped.
 */
import * as fs from 'fs';
import * as path from 'path';
import { rollingCheckpointsOf, runFiles } from '../../src/train/run-dir';
import { finished, runCli, startCli } from '../cli';
import { outcome, resumeArgs, trainArgs, uninterruptedReference, waitFor } from './harness';

let dir: string;
let config: string;
let reference: string;
beforeAll(async () => {
  ({ dir, config, reference } = await uninterruptedReference('ilr-signals-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const cases: { signal: NodeJS.Signals; code: number; when: string; file: (run: string) => string }[] = [
  // config.json is written just before the programs are created: the start-up window.
  { signal: 'SIGTERM', code: 143, when: 'in start-up, as config.json appears', file: (run) => runFiles(run).config },
  { signal: 'SIGINT', code: 130, when: 'after the first checkpoint', file: (run) => path.join(runFiles(run).checkpoints, 'step-00000003.safetensors') },
];

it.each(cases)('$signal $when: exit $code with a checkpoint; the resume ends byte-identical', async ({ signal, code, file }) => {
  const run = path.join(dir, signal);
  const child = startCli(trainArgs(config, run));
  const done = finished(child);
  await waitFor(file(run), child);
  child.kill(signal);
  const r = await done;
  expect([r.code, r.signal]).toEqual([code, null]);
  expect(r.stderr).toMatch(new RegExp(`^stopped by ${signal} at step \\d+; continue with: ilr train --resume ${run}\\n$`));
  expect(rollingCheckpointsOf(run).length).toBeGreaterThan(0);
  const resumed = await runCli(resumeArgs(run));
  expect([resumed.code, resumed.stderr]).toEqual([0, '']);
  expect(outcome(run)).toEqual(outcome(reference));
});
