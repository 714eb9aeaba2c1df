/**
 * Checkpoints: one safetensors file with the model's state_dict (PyTorch names, loadable with
 * load_state_dict after dropping the `optimizer.` entries), the optimizer's state slots under
 * `optimizer.<slot>.<name>` (e.g. `optimizer.momentum_buffer.conv1.weight`), and the loop's
 * position in the metadata.
 *
 * Rolling checkpoints are `checkpoints/step-<N>.safetensors` (the newest `keep` are kept);
 * snapshots for SWA are `checkpoints/epoch-<E>.safetensors` and are never pruned.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TensorMap } from '../graph/tensors';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import { ModelLayout, modelMetadata } from '../nn/model';
import { ModelSpec, sameModel, specName } from '../nn/spec';

export const FORMAT = 'intrinsic-lr/checkpoint-1';
export const OPTIMIZER_PREFIX = 'optimizer.';

export interface Position {
  /** Steps completed. */
  step: number;
  /** The next batch: epoch and index within it. */
  epoch: number;
  index: number;
  /** Training loss summed since the last metrics line, and its step count (for loss_avg). */
  window: { loss: number; count: number };
}

export interface Checkpoint {
  spec: ModelSpec;
  /** Parameters and buffers by state_dict name, and optimizer slots (float32). */
  state: TensorMap;
  position: Position;
  /** Train-mode forward passes per step (default 1; under SVAG 2L: two per optimizer step, L steps per unit of SDE time). */
  forwardsPerStep?: number;
}

/** The state_dict entries PyTorch has and our state does not: each BatchNorm's count of the train-mode forward passes it has seen. */
function batchCounters(layout: ModelLayout, forwards: number): TensorMap {
  const out: TensorMap = new Map();
  for (const b of layout.buffers) {
    if (b.name.endsWith('.running_mean')) {
      out.set(b.name.replace(/running_mean$/, 'num_batches_tracked'), { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(forwards)) });
    }
  }
  return out;
}

export function checkpointTensors(c: Checkpoint, layout: ModelLayout): TensorMap {
  return new Map([...c.state, ...batchCounters(layout, c.position.step * (c.forwardsPerStep ?? 1))]);
}

export function saveCheckpoint(file: string, c: Checkpoint, layout: ModelLayout): void {
  writeSafetensors(file, checkpointTensors(c, layout), {
    format: FORMAT,
    ...modelMetadata(layout),
    model_name: specName(c.spec),
    position: JSON.stringify(c.position),
  });
}

/**
 * Loads a checkpoint and checks it against the model the caller expects: same architecture,
 * every parameter and buffer present with the right shape. Errors say which file and what differs.
 */
export function loadCheckpoint(file: string, expected: { spec: ModelSpec; layout: ModelLayout }): Checkpoint {
  const { tensors, metadata } = readSafetensors(file);
  if (!metadata.model) throw new Error(`${file}: no model description in its metadata; is it an intrinsic-lr checkpoint?`);
  const spec = JSON.parse(metadata.model) as ModelSpec;
  if (!sameModel(spec, expected.spec)) {
    throw new Error(`${file} is a checkpoint of ${specName(spec)} (${metadata.model}), but this run uses ${specName(expected.spec)} (${JSON.stringify(expected.spec)})`);
  }
  const state: TensorMap = new Map();
  for (const info of [...expected.layout.params, ...expected.layout.buffers]) {
    const t = tensors.get(info.name);
    if (!t) throw new Error(`${file}: missing tensor ${info.name}; the checkpoint does not match the model ${specName(spec)}`);
    if (t.dtype !== 'float32' || t.shape.join(',') !== info.shape.join(',')) {
      throw new Error(`${file}: tensor ${info.name} is ${t.dtype}[${t.shape}], the model needs float32[${info.shape}]`);
    }
    state.set(info.name, t);
  }
  for (const [k, v] of tensors) if (k.startsWith(OPTIMIZER_PREFIX)) state.set(k, v);
  if (!metadata.position) throw new Error(`${file}: no loop position in its metadata; it is an exported model, not a training checkpoint`);
  const position = JSON.parse(metadata.position) as Position;
  return { spec, state, position };
}

export const rollingName = (step: number): string => `step-${String(step).padStart(8, '0')}.safetensors`;
export const snapshotName = (epoch: number): string => `epoch-${String(epoch).padStart(5, '0')}.safetensors`;

/** Rolling checkpoints in a run's checkpoint directory, newest first. */
export function rollingCheckpoints(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => /^step-\d+\.safetensors$/.test(f)).sort().reverse().map((f) => path.join(dir, f));
}

/**
 * Keeps the newest `keep` rolling checkpoints. Safe to call once a checkpoint was saved: the save
 * read the file back and compared it with what was meant, so the newest is whole.
 */
export function pruneCheckpoints(dir: string, keep: number): void {
  for (const f of rollingCheckpoints(dir).slice(keep)) fs.rmSync(f, { force: true });
}

/** The tensors of a checkpoint that PyTorch's load_state_dict takes (no optimizer state). */
export function stateDictOnly(tensors: TensorMap): TensorMap {
  return new Map([...tensors].filter(([k]) => !k.startsWith(OPTIMIZER_PREFIX)));
}
