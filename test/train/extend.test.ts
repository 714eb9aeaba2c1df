/**
 * Extending a finished run (`ilr train --resume DIR --steps MORE`) must leave the run directory's
 * logs as a run that long from the start writes them: the old end's final evaluation and its
 * off-schedule step record go, and the loss_avg window carries on across the old end. And a log
 * that is missing when a run resumes is said to be missing, not silently restarted.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { TrainConfig } from '../../src/train/config';
import { runFiles } from '../../src/train/run-dir';
import { train } from '../../src/train/trainer';
import { runCli, tmpDir, writeConfig } from '../cli';
import { tinyConfig } from './fixtures';

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-extend-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const N = 20;
const M = 30;
const logs = (run: string) => [runFiles(run).metrics, runFiles(run).predictions, runFiles(run).channels].map((f) => fs.readFileSync(f, 'utf8'));

it.each([
  ['off the schedules of logging and evaluation', { logEvery: 7, evalEvery: 8 }],
  ['on the schedules of logging and evaluation', { logEvery: 5, evalEvery: 10 }],
])(`a run of ${N} steps extended to ${M}, its old end %s, has the logs of a run of ${M} steps straight`, async (name, schedules) => {
  const config = (steps: number) => tinyConfig({ steps, ...schedules, recordPredictions: true, channelEvery: 3, checkpointEvery: 10 });
  const straight = path.join(dir, `straight-${schedules.logEvery}`);
  const extended = path.join(dir, `extended-${schedules.logEvery}`);
  await train(config(M), straight, { quiet: true });
  await train(config(N), extended, { quiet: true });
  const r = await train(config(N), extended, { resume: true, changes: { steps: M }, quiet: true });
  expect(r.status).toBe('finished');
  // The records hold no wall-clock fields: byte for byte.
  const [metrics, predictions, channels] = logs(extended);
  const [metricsStraight, predictionsStraight, channelsStraight] = logs(straight);
  expect(metrics).toBe(metricsStraight);
  expect(predictions).toBe(predictionsStraight);
  expect(channels).toBe(channelsStraight);
});

describe('a log missing when a run resumes is named in a warning', () => {
  const interrupted = async (name: string, over: Partial<TrainConfig>) => {
    const run = path.join(dir, name);
    const config = writeConfig(dir, `${name}.json`, tinyConfig({ steps: 20, checkpointEvery: 10, evalEvery: 5, ...over }));
    const r = await runCli(['train', '--config', config, '--out', run, '--quiet']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    // Interrupted after its checkpoint at step 10.
    fs.rmSync(runFiles(run).summary);
    fs.rmSync(path.join(runFiles(run).checkpoints, 'step-00000020.safetensors'));
    return run;
  };

  it('metrics.jsonl', async () => {
    const run = await interrupted('no-metrics', {});
    fs.rmSync(runFiles(run).metrics);
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: ${runFiles(run).metrics} is missing: the records of steps 1 to 10 are lost, and it starts again after the checkpoint at step 10\n`);
    expect(fs.readFileSync(runFiles(run).metrics, 'utf8').split('\n')[0]).toMatch(/^\{"type":"step","step":15,/);
  });

  it('predictions.jsonl and channels.jsonl, when the run writes them', async () => {
    const run = await interrupted('no-logs', { recordPredictions: true, channelEvery: 4 });
    fs.rmSync(runFiles(run).predictions);
    fs.rmSync(runFiles(run).channels);
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe([runFiles(run).predictions, runFiles(run).channels].map((f) => `warning: ${f} is missing: the records of steps 1 to 10 are lost, and it starts again after the checkpoint at step 10\n`).join(''));
  });

  it('no warning when the run had written nothing to the log by its checkpoint', async () => {
    const run = await interrupted('nothing-yet', { logEvery: 11, evalEvery: 0, channelEvery: 12 });
    fs.rmSync(runFiles(run).metrics);
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect([r.code, r.stderr]).toEqual([0, '']);
  });
});
