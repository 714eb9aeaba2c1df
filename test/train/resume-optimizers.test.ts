/**
 * Exact resume for every optimizer: a run continued from its step-10 checkpoint reproduces the
 * straight run's metrics and final checkpoint bit for bit, so the checkpoint holds all of the
 * optimizer's state (`optimizer.<slot>.<param>`, Adam's step count included).
 */
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors } from '../../src/io/safetensors';
import { OptimizerName } from '../../src/programs/optimizers';
import { rollingName } from '../../src/train/checkpoint';
import { train } from '../../src/train/trainer';
import { tmpDir } from '../cli';
import { tinyConfig } from './fixtures';

const SETTINGS: Record<OptimizerName, { lr: number; wd: number; momentum: number; nesterov?: boolean }> = {
  sgd: { lr: 0.1, wd: 5e-4, momentum: 0.9, nesterov: true },
  sgdw: { lr: 0.1, wd: 5e-2, momentum: 0.9 },
  adamw: { lr: 1e-3, wd: 0.5, momentum: 0 },
  adam: { lr: 1e-3, wd: 5e-3, momentum: 0 },
};

describe.each(Object.entries(SETTINGS))('%s', (optimizer, s) => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('ilr-resume-opt-');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('20 steps straight = resumed at step 10', async () => {
    const config = tinyConfig({ model: 'cnn4-gn-si', optimizer: optimizer as OptimizerName, ...s, steps: 20, checkpointEvery: 10, evalEvery: 0 });
    const straight = path.join(dir, 'straight');
    const resumed = path.join(dir, 'resumed');
    await train(config, straight, { quiet: true });
    // The straight run's directory as it stood at step 10: its step-10 checkpoint, nothing after.
    fs.cpSync(straight, resumed, { recursive: true });
    fs.rmSync(path.join(resumed, 'checkpoints', rollingName(20)));
    fs.rmSync(path.join(resumed, 'summary.json'));
    await train(config, resumed, { quiet: true, resume: true });

    expect(fs.readFileSync(path.join(resumed, 'metrics.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(straight, 'metrics.jsonl'), 'utf8'));
    const a = readSafetensors(path.join(straight, 'checkpoints', rollingName(20)));
    const b = readSafetensors(path.join(resumed, 'checkpoints', rollingName(20)));
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    expect([...a.tensors.keys()].some((k) => k.startsWith('optimizer.'))).toBe(true);
    for (const [name, t] of a.tensors) expect({ name, same: Buffer.from(b.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)) }).toEqual({ name, same: true });
  });
});
