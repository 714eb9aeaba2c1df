/**
 * Optimizer parity against torch.optim: K steps of the step engine from the same weights on the
 * same batches (two per step under SVAG, replayed as svag's code steps), compared by the bridge's float64 replay with the optimizer's torch class
 * (parameters, optimizer state and BN running statistics). What the replay needs to know of the
 * optimizer (its hyperparameters, settings and state slots) comes from its entry in OPTIMIZERS and
 * travels in the file's `optim` metadata; the bridge knows only which torch class replays each name.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TensorMap } from '../graph/tensors';
import { writeSafetensors } from '../io/safetensors';
import { initialState } from '../nn/init';
import { InputShape, modelMetadata } from '../nn/model';
import { modelSpec } from '../nn/spec';
import { OptimizerConfig, optimizerDef } from '../programs/optimizers';
import { StepEngine } from '../train/engine';
import { Rng } from '../util/rng';
import { randomBatch } from '../runtime/sample';
import { ParityReport, TorchModuleRef, torchModuleMetadata } from './parity';
import { runBridge } from './python';

export interface ReplayOptions {
  model: string;
  /** Imported models: the PyTorch module that is their referee. */
  torch?: TorchModuleRef;
  steps: number;
  lr: number;
  wd: number;
  optimizer: OptimizerConfig;
  batch?: number;
  input?: InputShape;
  seed?: number;
  tol?: number;
  /** Keep the comparison file (replay.safetensors) here instead of a temp dir, to rerun by hand. */
  keep?: string;
}

export async function runOptimizerReplay(o: ReplayOptions): Promise<ParityReport> {
  const input = o.input ?? [3, 16, 16];
  const batch = o.batch ?? 8;
  const spec = modelSpec(o.model, { inChannels: input[0] });
  const rng = new Rng([o.seed ?? 0, 'replay']);
  const engine = await StepEngine.create({ spec, input, batch, optimizer: o.optimizer, runtime: { threads: 1 } });
  const init = engine.withZeroSlots(initialState(engine.layout, rng.fork('init')));

  const file: TensorMap = new Map();
  for (const info of [...engine.layout.params, ...engine.layout.buffers]) file.set(`init.${info.name}`, init.get(info.name)!);
  const hyper = { lr: o.lr, wd: new Float32Array(engine.trainable.length).fill(o.wd) };
  let state = engine.upload(init);
  // Under SVAG each step takes two batches, stored as batch 2k and 2k + 1.
  const perStep = engine.batchesPerStep;
  for (let k = 0; k < o.steps; k++) {
    const batches = Array.from({ length: perStep }, (_, i) => {
      const b = randomBatch(rng, batch, input, spec.numClasses);
      file.set(`batch.${perStep * k + i}.input`, { dtype: 'float32', shape: [batch, ...input], data: b.input });
      file.set(`batch.${perStep * k + i}.target`, { dtype: 'int64', shape: [batch], data: b.target });
      return { x: b.input, y: b.target };
    });
    state = (await engine.step(state, batches, hyper)).state;
  }
  const final = await engine.download(state);
  await engine.release();

  for (const info of [...engine.trainable, ...engine.layout.buffers]) file.set(`final.${info.name}`, final.get(info.name)!);
  for (const { key } of engine.slots) file.set(`final.${key}`, final.get(key)!);
  const dir = o.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-replay-'));
  const target = path.join(dir, 'replay.safetensors');
  writeSafetensors(target, file, { ...modelMetadata(engine.layout), ...torchModuleMetadata(o.torch, engine.layout), optim: JSON.stringify(replayMetadata(o)) });
  try {
    return runBridge<ParityReport>(['replay', '--file', target, '--tol', String(o.tol ?? 1e-4)]).result;
  } finally {
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The run as the registry describes it: the hyperparameters the programs ran with (so that the
 * referee uses the same ones), the settings the optimizer reads, and its state slots.
 */
function replayMetadata({ optimizer, lr, wd, steps }: ReplayOptions) {
  const def = optimizerDef(optimizer.name);
  const settings = Object.fromEntries(def.settings.filter((k) => optimizer[k] !== undefined).map((k) => [k, optimizer[k]]));
  return { optimizer: optimizer.name, hyper: def.hyper(optimizer), settings, slots: def.slots(optimizer), lr, wd, steps, svag: optimizer.svag ?? 1 };
}
