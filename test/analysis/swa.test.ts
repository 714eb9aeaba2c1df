/**
 * SWA: `ilr swa` averages snapshots, recomputes BN statistics (update_bn) and
 * evaluates; PyTorch's AveragedModel + update_bn (torch_bridge.py swa-eval) must agree on test
 * accuracy (±0.1 point), logits and the averaged state (relative error < 1e-4).
 */
import * as fs from 'fs';
import * as path from 'path';
import { averageSnapshots, resolveSnapshots, swa, SwaResult } from '../../src/analysis/swa';
import { recomputeBn } from '../../src/train/bn-stats';
import { runBridge } from '../../src/bridge/python';
import { Dataset, fullBatches, loadDataset } from '../../src/data';
import { TensorMap } from '../../src/graph/tensors';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { InputShape, modelLayout, modelMetadata } from '../../src/nn/model';
import { modelSpec } from '../../src/nn/spec';
import { evaluateGraph } from '../../src/programs/programs';
import { Program } from '../../src/runtime/session';
import { saveCheckpoint } from '../../src/train/checkpoint';
import { runFiles } from '../../src/train/run-dir';
import { train } from '../../src/train/trainer';
import { itTorch } from '../helpers';
import { runCli, tmpDir } from '../cli';
import { tinyConfig, TINY_DATA } from '../train/fixtures';

const input = TINY_DATA.shape as InputShape;
const BN_BATCH = 100; // 256 training images: batches of 100, 100 and 56 (the last one smaller)

let dir: string;
let run: string;
let trainSet: Dataset;
let testSet: Dataset;
let snapshots: string[];
let result: SwaResult;

beforeAll(async () => {
  dir = tmpDir('ilr-swa-');
  run = path.join(dir, 'run');
  // preresnet8, 8 steps per epoch, snapshots after epochs 2..5 (the last one is the final step).
  await train(tinyConfig({ model: 'preresnet8', momentum: 0.9, lr: 0.05, steps: 40, snapshotEpochs: [2, 3, 4, 5] }), run, { quiet: true });
  trainSet = await loadDataset('synthetic', 'train', { synthetic: TINY_DATA });
  testSet = await loadDataset('synthetic', 'test', { synthetic: TINY_DATA });
  snapshots = resolveSnapshots(run);
  result = await swa({ snapshots, train: trainSet, test: testSet, bnBatch: BN_BATCH, runtime: { threads: 1 } });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('choosing snapshots', () => {
  it('a run directory, its checkpoints directory, a glob, files', () => {
    const ck = runFiles(run).checkpoints;
    const all = [2, 3, 4, 5].map((e) => path.join(ck, `epoch-0000${e}.safetensors`));
    expect(resolveSnapshots(run)).toEqual(all);
    expect(resolveSnapshots(ck)).toEqual(all);
    expect(resolveSnapshots(path.join(ck, 'epoch-0000?*'))).toEqual(all);
    expect(resolveSnapshots(path.join(path.dirname(ck), '*', 'epoch-0000[3-4].*'))).toEqual(all.slice(1, 3));
    expect(resolveSnapshots([all[3], all[1], all[3]])).toEqual([all[3], all[1]]);
  });

  it('says what is wrong', () => {
    expect(() => resolveSnapshots(path.join(dir, 'nope'))).toThrow(/no such file or directory/);
    expect(() => resolveSnapshots(path.join(run, 'checkpoints', 'x-*'))).toThrow(/no file matches/);
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'step-00000010.safetensors'), '');
    expect(() => resolveSnapshots(empty)).toThrow(/holds no SWA snapshots .*--snapshot-epochs.*step-00000010\.safetensors/);
  });
});

describe('averaging', () => {
  it('is the equal-weight mean of the parameters; snapshots of another model are refused', () => {
    const spec = modelSpec('cnn4', { inChannels: 1 });
    const layout = modelLayout(spec, input);
    const files = [1, 2, 6].map((v, k) => {
      const state: TensorMap = new Map();
      for (const info of [...layout.params, ...layout.buffers]) {
        const n = info.shape.reduce((a, b) => a * b, 1);
        state.set(info.name, { dtype: 'float32', shape: info.shape, data: new Float32Array(n).fill(v) });
      }
      const f = path.join(dir, `avg-${k}.safetensors`);
      saveCheckpoint(f, { spec, state, position: { step: k, epoch: 0, index: 0, window: { loss: 0, count: 0 } } }, layout);
      return f;
    });
    const avg = averageSnapshots(files, spec, layout);
    expect([...avg.keys()].sort()).toEqual(layout.params.map((p) => p.name).sort());
    for (const t of avg.values()) expect((t.data as Float32Array).every((x) => x === 3)).toBe(true);
    const other = modelSpec('cnn4-si', { inChannels: 1 });
    expect(() => averageSnapshots([...files, snapshots[0]], spec, layout)).toThrow(/is a snapshot of preresnet8, but .*avg-0\.safetensors is one of cnn4/);
    expect(() => averageSnapshots(files, other, modelLayout(other, input))).toThrow(/is a snapshot of cnn4, but .* is one of cnn4-si/);
  });

  it('BN statistics are per-batch averages: for the first BN (its input does not depend on batch statistics) two halves give the mean over all', async () => {
    const spec = result.spec;
    const params = new Map([...result.state].filter(([k]) => !k.includes('running_')));
    const whole = await recomputeBn(spec, input, params, trainSet, trainSet.count, { threads: 1 });
    expect(whole.batches).toBe(1);
    const halves = await recomputeBn(spec, input, params, trainSet, 128, { threads: 1 });
    expect(halves.batches).toBe(2);
    const a = whole.stats.get('layer1.0.bn1.running_mean')!.data as Float32Array;
    const b = halves.stats.get('layer1.0.bn1.running_mean')!.data as Float32Array;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5 * (1 + Math.abs(a[i])));
    // Deeper BNs see inputs normalised with each batch's own statistics, so they differ (a little).
    const deep = (m: typeof whole) => m.stats.get('bn.running_var')!.data as Float32Array;
    expect(deep(whole)).not.toEqual(deep(halves));
  });
});

describe('swa()', () => {
  it('averages 4 snapshots, runs update_bn in 3 batches and evaluates the test set', () => {
    expect(result.snapshots).toHaveLength(4);
    expect(result.bn).toEqual({ batches: 3, images: 256 });
    expect(result.test.count).toBe(testSet.count);
    expect(result.test.acc).toBeGreaterThan(0.5); // the synthetic task is learnable
  });

  it('ilr swa on the run directory: same numbers, data settings taken from the run, the model written', async () => {
    const out = path.join(dir, 'swa.safetensors');
    const r = await runCli(['swa', '--checkpoints', run, '--bn-batch', String(BN_BATCH), '--out', out, '--threads', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SWA of 4 snapshots: epoch-00002.safetensors, epoch-00003.safetensors, epoch-00004.safetensors, epoch-00005.safetensors');
    expect(r.stdout).toContain('BN statistics recomputed on 256 training images in 3 batches');
    expect(r.stdout).toContain(`test (120 images): loss ${result.test.loss.toFixed(4)}, accuracy ${(100 * result.test.acc).toFixed(2)}%`);
    const written = readSafetensors(out);
    expect(JSON.parse(written.metadata.swa).snapshots).toHaveLength(4);
    for (const [k, t] of result.state) expect(Buffer.from(written.tensors.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    expect(written.tensors.get('bn.num_batches_tracked')!.data[0]).toBe(3n);
  });

  itTorch('PyTorch (AveragedModel + update_bn, float64) agrees: accuracy ±0.1 point, logits and state < 1e-4', async () => {
    // Our eval-mode logits of the whole test set.
    const program = await Program.create(evaluateGraph({ spec: result.spec, batch: testSet.count, input }), { threads: 1 });
    const test = fullBatches(testSet).next().value!;
    const feeds: Record<string, Float32Array> = {};
    for (const [k, v] of result.state) feeds[k] = v.data as Float32Array;
    const logits = (await program.run({ ...feeds, input: test.x, target: test.y }, ['logits'])).logits as Float32Array;
    await program.release();

    // update_bn's data: the training set in stored order, normalised, unaugmented.
    const bnInput = fullBatches(trainSet).next().value!.x;
    const file: TensorMap = new Map();
    file.set('bn.input', { dtype: 'float32', shape: [trainSet.count, ...input], data: bnInput });
    file.set('test.input', { dtype: 'float32', shape: [testSet.count, ...input], data: test.x });
    file.set('test.target', { dtype: 'int64', shape: [testSet.count], data: test.y });
    file.set('ours.logits', { dtype: 'float32', shape: [testSet.count, result.spec.numClasses], data: logits });
    for (const [k, t] of result.state) file.set(`ours.state.${k}`, t);
    const data = path.join(dir, 'swa-eval.safetensors');
    writeSafetensors(data, file, modelMetadata(modelLayout(result.spec, input)));

    const r = runBridge<{ ok: boolean; errors: Record<string, number>; test_acc: number; test_loss: number; ours_test_acc: number; bn_batches: number; num_batches_tracked: number[] }>(
      ['swa-eval', '--snapshots', ...snapshots, '--data', data, '--bn-batch', String(BN_BATCH), '--tol', '1e-4'],
    );
    expect(Object.entries(r.result.errors).filter(([, e]) => !(e < 1e-4))).toEqual([]);
    expect(r.result.ok).toBe(true);
    expect(Object.keys(r.result.errors)).toContain('state.layer1.0.bn1.running_var');
    expect(r.result.bn_batches).toBe(3);
    expect(r.result.num_batches_tracked).toEqual([3]);
    expect(Math.abs(r.result.test_acc - result.test.acc)).toBeLessThanOrEqual(0.001);
    expect(r.result.ours_test_acc).toBeCloseTo(result.test.acc, 12);
    expect(Math.abs(r.result.test_loss - result.test.loss)).toBeLessThan(1e-4 * Math.max(1, r.result.test_loss));
  });
});
