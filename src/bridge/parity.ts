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
import { InputShape, ModelLayout, modelLayout, modelMetadata } from '../nn/model';
import { ModelSpec, modelSpec, specName } from '../nn/spec';
import { gradientGraph } from '../programs/programs';
import { feedsOf, randomBatch } from '../runtime/sample';
import { Program } from '../runtime/session';
import { Rng } from '../util/rng';
import { runBridge } from './python';

/** The user's PyTorch module, the referee of an imported model: MODULE:FACTORY and its keyword arguments (scripts/user_module.py). */
export interface TorchModuleRef {
  factory: string;
  kwargs: Record<string, unknown>;
}

/** The metadata that names an imported model's PyTorch module, with the parameters our side does not train. */
export function torchModuleMetadata(ref: TorchModuleRef | undefined, layout: ModelLayout): Record<string, string> {
  if (!ref) {
    if (layout.architecture.model.arch === 'onnx') throw new Error(`${layout.architecture.model.file} is an imported model: name its PyTorch module with --torch MODULE:FACTORY (e.g. torchvision.models:resnet18, or path/to/nets.py:Net)`);
    return {};
  }
  const frozen = layout.params.filter((p) => !p.trainable).map((p) => p.name);
  return { torch_module: JSON.stringify({ factory: ref.factory, kwargs: ref.kwargs, frozen }) };
}

export interface ParityOptions {
  model: string;
  /** Imported models: the PyTorch module that is their referee. */
  torch?: TorchModuleRef;
  /** Imported models: the fully scale-invariant variant. */
  si?: boolean;
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
  /** PyTorch's own float32 computation against its float64 one: the rounding floor of the comparison. */
  baseline_f32_max_rel_err?: number;
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
  const spec = modelSpec(o.model, { inChannels: input[0], ...(o.si === undefined ? {} : { si: o.si }) });
  const rng = new Rng([o.seed ?? 0, 'parity']);
  const layout = modelLayout(spec, input);
  const metadata = { ...modelMetadata(layout), ...torchModuleMetadata(o.torch, layout) };
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
  const target = path.join(dir, `parity-${specName(spec)}.safetensors`);
  writeSafetensors(target, file, metadata);
  try {
    return runBridge<ParityReport>(['parity', '--file', target, '--tol', String(o.tol ?? 1e-4)]).result;
  } finally {
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
