/**
 * SGD parity against torch.optim.SGD: K steps of our train-step program from the same weights on
 * the same batches, compared by the bridge's float64 replay (parameters, momentum buffers and BN
 * running statistics).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TensorMap, writeSafetensors } from '../io/safetensors';
import { initialState } from '../nn/init';
import { InputShape, modelLayout, modelMetadata } from '../nn/model';
import { modelSpec } from '../nn/spec';
import { trainStepGraph } from '../programs/programs';
import { Feeds, Program } from '../runtime/session';
import { Rng } from '../util/rng';
import { feedsOf, ParityReport, randomBatch } from './parity';
import { runBridge } from './python';

export interface SgdCheckOptions {
  model: string;
  steps: number;
  lr: number;
  wd: number;
  momentum: number;
  batch?: number;
  input?: InputShape;
  seed?: number;
  tol?: number;
}

export async function runSgdCheck(o: SgdCheckOptions): Promise<ParityReport> {
  const input = o.input ?? [3, 16, 16];
  const batch = o.batch ?? 8;
  const spec = modelSpec(o.model, { inChannels: input[0] });
  const layout = modelLayout(spec, input);
  const rng = new Rng([o.seed ?? 0, 'sgd-check']);
  const init = initialState(layout, rng.fork('init'));
  const trainable = layout.params.filter((p) => p.trainable);
  const withMomentum = o.momentum > 0;
  const program = await Program.create(trainStepGraph({ spec, batch, input }, withMomentum), { threads: 1 });

  const file: TensorMap = new Map();
  for (const [k, v] of init) file.set(`init.${k}`, v);
  let feeds: Feeds = { ...feedsOf(init), lr: Float32Array.of(o.lr), wd: new Float32Array(trainable.length).fill(o.wd) };
  if (withMomentum) {
    feeds.momentum = Float32Array.of(o.momentum);
    for (const p of trainable) feeds[`momentum.${p.name}`] = new Float32Array(init.get(p.name)!.data.length);
  }
  for (let k = 0; k < o.steps; k++) {
    const b = randomBatch(rng, batch, input, spec.numClasses);
    file.set(`batch.${k}.input`, { dtype: 'float32', shape: [batch, ...input], data: b.input });
    file.set(`batch.${k}.target`, { dtype: 'int64', shape: [batch], data: b.target });
    const out = await program.run({ ...feeds, ...b });
    const next: Feeds = { ...feeds };
    for (const [name, data] of Object.entries(out)) if (name.startsWith('next.')) next[name.slice(5)] = data;
    feeds = next;
  }
  await program.release();

  for (const info of [...layout.params.filter((p) => p.trainable), ...layout.buffers]) {
    file.set(`final.${info.name}`, { dtype: 'float32', shape: info.shape, data: feeds[info.name] });
    if (withMomentum && info.name in feeds && feeds[`momentum.${info.name}`]) {
      file.set(`final.momentum.${info.name}`, { dtype: 'float32', shape: info.shape, data: feeds[`momentum.${info.name}`] });
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-sgd-'));
  const target = path.join(dir, 'sgd-check.safetensors');
  writeSafetensors(target, file, { ...modelMetadata(layout), optim: JSON.stringify({ lr: o.lr, wd: o.wd, momentum: o.momentum, steps: o.steps }) });
  try {
    return runBridge<ParityReport>(['sgd-check', '--file', target, '--tol', String(o.tol ?? 1e-4)]).result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
