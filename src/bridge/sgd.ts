/**
 * Optimizer parity against torch.optim: K steps of the step engine from the same weights on the
 * same batches, compared by the bridge's float64 replay with the optimizer's torch class
 * (parameters, optimizer state and BN running statistics).
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
import { ParityReport } from './parity';
import { runBridge } from './python';

export interface SgdCheckOptions {
  model: string;
  steps: number;
  lr: number;
  wd: number;
  /** sgd with heavy-ball momentum β unless `optimizer` says otherwise. */
  momentum: number;
  optimizer?: Omit<OptimizerConfig, 'momentum'>;
  batch?: number;
  input?: InputShape;
  seed?: number;
  tol?: number;
}

export async function runSgdCheck(o: SgdCheckOptions): Promise<ParityReport> {
  const input = o.input ?? [3, 16, 16];
  const batch = o.batch ?? 8;
  const spec = modelSpec(o.model, { inChannels: input[0] });
  const rng = new Rng([o.seed ?? 0, 'sgd-check']);
  const optimizer: OptimizerConfig = { name: 'sgd', ...o.optimizer, momentum: o.momentum };
  const engine = await StepEngine.create({ spec, input, batch, optimizer, runtime: { threads: 1 } });
  const init = engine.withZeroSlots(initialState(engine.layout, rng.fork('init')));

  const file: TensorMap = new Map();
  for (const info of [...engine.layout.params, ...engine.layout.buffers]) file.set(`init.${info.name}`, init.get(info.name)!);
  const hyper = { lr: o.lr, wd: new Float32Array(engine.trainable.length).fill(o.wd) };
  let state = engine.upload(init);
  for (let k = 0; k < o.steps; k++) {
    const b = randomBatch(rng, batch, input, spec.numClasses);
    file.set(`batch.${k}.input`, { dtype: 'float32', shape: [batch, ...input], data: b.input });
    file.set(`batch.${k}.target`, { dtype: 'int64', shape: [batch], data: b.target });
    state = (await engine.step(state, [{ x: b.input, y: b.target }], hyper)).state;
  }
  const final = await engine.download(state);
  await engine.release();

  for (const info of [...engine.trainable, ...engine.layout.buffers]) file.set(`final.${info.name}`, final.get(info.name)!);
  for (const { key } of engine.slots) file.set(`final.${key}`, final.get(key)!);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-sgd-'));
  const target = path.join(dir, 'sgd-check.safetensors');
  // The hyperparameters the programs ran with, so that the referee uses the same ones.
  const h = optimizerDef(optimizer.name).hyper(optimizer);
  const adam = 'beta1' in h ? { betas: [h.beta1, h.beta2], eps: h.eps } : {};
  const optim = { optimizer: optimizer.name, lr: o.lr, wd: o.wd, momentum: o.momentum, nesterov: !!optimizer.nesterov, ...adam, steps: o.steps };
  writeSafetensors(target, file, { ...modelMetadata(engine.layout), optim: JSON.stringify(optim) });
  try {
    return runBridge<ParityReport>(['sgd-check', '--file', target, '--tol', String(o.tol ?? 1e-4)]).result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
