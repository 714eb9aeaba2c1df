/**
 * channels.jsonl: per-output-channel angular updates (config.channelEvery). Every N steps, for
 * each scale-invariant weight, the angle between each output channel's weights (one row of the
 * tensor, its first axis) before and after the step: one line per step, `{step, layers: {name:
 * [angle per channel]}}`. A channel behind a normalization layer (a BatchNorm channel, a neuron)
 * is scale-invariant on its own, so each one has its own rotational equilibrium.
 *
 * The angles come from the host copies of the state before and after the step, in float64: no
 * per-channel output is added to the step program, so the other steps cost nothing more. The
 * trainer appends the records with StepLines, which cuts them back on a resume and reads them.
 */
import * as fs from 'fs';
import type { TensorMap } from '../graph/tensors';
import { StepLines } from '../io/step-lines';
import { angularUpdate } from './metrics';

export interface ChannelRecord {
  step: number;
  /** Per weight tensor, by parameter name: the angle (radians) each output channel turned by in this step. */
  layers: Record<string, number[]>;
}

/** The angle each output channel of `before` turned by to `after` (same shape, [out, ...]), in float64. */
export function channelAngles(before: ArrayLike<number>, after: ArrayLike<number>, channels: number): number[] {
  if (before.length !== after.length || before.length % channels !== 0) {
    throw new Error(`channel angles: ${before.length} and ${after.length} weights do not split into ${channels} channels`);
  }
  const per = before.length / channels;
  return Array.from({ length: channels }, (_, o) => {
    let w2 = 0;
    let wdw = 0;
    let dw2 = 0;
    for (let i = o * per; i < (o + 1) * per; i++) {
      const w = before[i];
      const d = after[i] - w; // exact in float64 for float32 inputs
      w2 += w * w;
      wdw += w * d;
      dw2 += d * d;
    }
    return angularUpdate({ w2, wdw, dw2 });
  });
}

/** The record of one step: every tensor of `names` in both states, split by its first axis. */
export function channelRecord(step: number, before: TensorMap, after: TensorMap, names: readonly string[]): ChannelRecord {
  const layers: Record<string, number[]> = {};
  for (const name of names) {
    const a = before.get(name);
    const b = after.get(name);
    if (!a || !b) throw new Error(`channel angles: the state has no tensor ${name}`);
    layers[name] = channelAngles(a.data as ArrayLike<number>, b.data as ArrayLike<number>, a.shape[0]);
  }
  return { step, layers };
}

/** The per-channel records of a run, in step order (complete lines only: the run may still be writing). */
export function readChannels(file: string): ChannelRecord[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: no per-channel angular updates; train with --channel-every N to record them`);
  return new StepLines<ChannelRecord>(file).read();
}
