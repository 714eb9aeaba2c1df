/**
 * Gradient parity against PyTorch: our float32 gradient program and PyTorch's float64 autograd on
 * the same weights and batch. The result file holds everything the referee needs, so a failing
 * comparison can be rerun by hand: `/usr/bin/python3 scripts/torch_bridge.py parity --file F`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TensorMap } from '../graph/tensors';
import { writeSafetensors } from '../io/safetensors';
import { initialState } from '../nn/init';
import { InputShape, modelLayout, modelMetadata } from '../nn/model';
import { ModelSpec, modelSpec } from '../nn/spec';
import { gradientGraph } from '../programs/programs';
import { feedsOf, randomBatch } from '../runtime/sample';
import { Program } from '../runtime/session';
import { Rng } from '../util/rng';
import { runBridge } from './python';

export interface ParityOptions {
  model: string;
  batch?: number;
  input?: InputShape;
  seed?: number;
  tol?: number;
  threads?: number;
  /** Keep the comparison file here instead of a temp dir. */
  keep?: string;
}

export interface ParityReport {
  model: ModelSpec;
  max_rel_err: number;
  tol: number;
  ok: boolean;
  errors: Record<string, number>;
  /** ReLU inputs within 1e-6·rms of zero in the float64 reference: a float32 run may take the other side of the kink there. */
  relu_near_ties?: { count: number; min_margin_rel: number };
  warning?: string;
}

export async function runParity(o: ParityOptions): Promise<ParityReport> {
  const input = o.input ?? [3, 32, 32];
  const batch = o.batch ?? 8;
  const spec = modelSpec(o.model, { inChannels: input[0] });
  const rng = new Rng([o.seed ?? 0, 'parity']);
  const layout = modelLayout(spec, input);
  const state = initialState(layout, rng.fork('init'));
  const data = randomBatch(rng.fork('data'), batch, input, spec.numClasses);

  const program = await Program.create(gradientGraph({ spec, batch, input }), { threads: o.threads ?? 1 });
  const out = await program.run({ ...feedsOf(state), ...data });
  await program.release();

  const file: TensorMap = new Map(state);
  file.set('input', { dtype: 'float32', shape: [batch, ...input], data: data.input });
  file.set('target', { dtype: 'int64', shape: [batch], data: data.target });
  file.set('ours.logits', { dtype: 'float32', shape: [batch, spec.numClasses], data: out.logits });
  file.set('ours.loss', { dtype: 'float32', shape: [], data: out.loss });
  for (const name of Object.keys(out)) {
    if (name.startsWith('grad.')) file.set(`ours.${name}`, { dtype: 'float32', shape: state.get(name.slice(5))!.shape, data: out[name] });
  }
  const dir = o.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-parity-'));
  const target = path.join(dir, `parity-${o.model}.safetensors`);
  writeSafetensors(target, file, modelMetadata(layout));
  try {
    return runBridge<ParityReport>(['parity', '--file', target, '--tol', String(o.tol ?? 1e-4)]).result;
  } finally {
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
