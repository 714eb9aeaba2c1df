/**
 * Exports: `ilr export --format onnx` gives the eval program's logits (1e-5) in ORT,
 * and the checkpoint gives the same logits in PyTorch (float64, scripts/torch_bridge.py logits);
 * PyTorch loads our checkpoints, momentum buffers and all (torch_bridge.py load).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { runBridge } from '../../src/bridge/python';
import { fullBatches, loadDataset } from '../../src/data';
import { TensorMap } from '../../src/graph/tensors';
import { writeSafetensors } from '../../src/io/safetensors';
import { InputShape, modelLayout } from '../../src/nn/model';
import { ModelSpec } from '../../src/nn/spec';
import { evaluateGraph } from '../../src/programs/programs';
import { Program } from '../../src/runtime/session';
import { loadCheckpoint, rollingName } from '../../src/train/checkpoint';
import { exportStateDict } from '../../src/train/export';
import { runFiles } from '../../src/train/run-dir';
import { runSpec, train } from '../../src/train/trainer';
import { itTorch } from '../helpers';
import { runCli, tmpDir } from '../cli';
import { tinyConfig, TINY_DATA } from './fixtures';

const BATCH = 8;
const input = TINY_DATA.shape as InputShape;

/** max |a − b| / max |b|: the error relative to the logits' scale. */
function relMaxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-export-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

for (const model of ['cnn4', 'preresnet8']) {
  describe(`export of a trained ${model} checkpoint (momentum 0.9, 20 steps)`, () => {
    let file: string;
    let spec: ModelSpec;
    let batch: { x: Float32Array; y: BigInt64Array };
    let evalLogits: Float32Array;
    let onnxLogits: Float32Array;

    beforeAll(async () => {
      const config = tinyConfig({ model, momentum: 0.9, steps: 20 });
      const run = path.join(dir, model);
      await train(config, run, { quiet: true });
      file = path.join(runFiles(run).checkpoints, rollingName(20));
      const test = await loadDataset('synthetic', 'test', { synthetic: TINY_DATA });
      spec = runSpec(config, test);
      const b = fullBatches(test, { chunkSize: BATCH }).next().value!;
      batch = { x: b.x, y: b.y };
      const ck = loadCheckpoint(file, { spec, layout: modelLayout(spec, input) });
      const program = await Program.create(evaluateGraph({ spec, batch: BATCH, input }), { threads: 1 });
      const feeds: Record<string, Float32Array> = {};
      for (const [k, v] of ck.state) feeds[k] = v.data as Float32Array;
      evalLogits = (await program.run({ ...feeds, input: batch.x, target: batch.y }, ['logits'])).logits as Float32Array;
      await program.release();
    });

    it('ilr export --format onnx: same logits as the eval program in ORT (1e-5)', async () => {
      const out = path.join(dir, `${model}.onnx`);
      const r = await runCli(['export', '--checkpoint', file, '--format', 'onnx', '--batch', String(BATCH), '--input', input.join('x'), '--out', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`wrote ${out}`);
      const session = await ort.InferenceSession.create(out);
      expect(session.inputNames).toEqual(['input']);
      expect(session.outputNames).toEqual(['logits']);
      const res = await session.run({ input: new ort.Tensor('float32', batch.x, [BATCH, ...input]) });
      onnxLogits = res.logits.data as Float32Array;
      expect(res.logits.dims).toEqual([BATCH, spec.numClasses]);
      expect(relMaxErr(onnxLogits, evalLogits)).toBeLessThan(1e-5);
      // The checkpoint trained: the logits are not those of a constant function.
      expect(Math.max(...evalLogits) - Math.min(...evalLogits)).toBeGreaterThan(0.1);
    });

    itTorch('PyTorch (float64, eval mode) gives the same logits from the exported state_dict (1e-5)', async () => {
      const { tensors, metadata } = exportStateDict(file);
      expect([...tensors.keys()].some((k) => k.startsWith('optimizer.'))).toBe(false);
      const f: TensorMap = new Map(tensors);
      f.set('input', { dtype: 'float32', shape: [BATCH, ...input], data: batch.x });
      f.set('ours.logits', { dtype: 'float32', shape: [BATCH, spec.numClasses], data: evalLogits });
      const target = path.join(dir, `${model}-logits.safetensors`);
      writeSafetensors(target, f, metadata);
      const r = runBridge<{ ok: boolean; errors: { logits: number } }>(['logits', '--file', target, '--tol', '1e-5']);
      expect(r.result.errors.logits).toBeLessThan(1e-5);
      expect(r.result.ok).toBe(true);
      expect(relMaxErr(onnxLogits ?? evalLogits, evalLogits)).toBeLessThan(1e-5);
    });

    itTorch('torch_bridge.py load takes the checkpoint itself: strict load_state_dict, momentum buffers checked', () => {
      const r = runBridge<{ ok: boolean; momentum_buffers: string[]; ignored_optimizer_keys: string[]; non_finite: string[]; defaulted: string[] }>(['load', '--file', file]);
      expect(r.status).toBe(0);
      expect(r.result.ok).toBe(true);
      const trainable = modelLayout(spec, input).params.filter((p) => p.trainable).map((p) => p.name).sort();
      expect(r.result.momentum_buffers).toEqual(trainable);
      expect(r.result.ignored_optimizer_keys).toEqual([]);
      expect(r.result.non_finite).toEqual([]);
      expect(r.result.defaulted).toEqual([]); // every key, num_batches_tracked included
    });
  });
}

itTorch('torch_bridge.py load names a momentum buffer of the wrong shape', async () => {
  const file = path.join(dir, 'cnn4', 'checkpoints', rollingName(20));
  const { readSafetensors } = await import('../../src/io/safetensors');
  const { tensors, metadata } = readSafetensors(file);
  tensors.set('optimizer.momentum_buffer.conv1.weight', { dtype: 'float32', shape: [3], data: new Float32Array(3) });
  tensors.set('optimizer.step_count', { dtype: 'float32', shape: [], data: new Float32Array(1) });
  const bad = path.join(dir, 'bad-momentum.safetensors');
  writeSafetensors(bad, tensors, metadata);
  expect(() => runBridge(['load', '--file', bad])).toThrow(/the momentum buffer of conv1\.weight has shape \[3\]/);
});
