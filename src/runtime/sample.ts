/**
 * Feeds for any program of a model, made from its inputs' names: the seeded initial state,
 * optimizer slots, a random batch and fixed hyperparameters. For checks and benchmarks that
 * need one realistic run (the doctor, the bench, the PyTorch parity), not for training.
 */
import { Graph } from '../graph/ir';
import { TensorMap } from '../graph/tensors';
import { initialState } from '../nn/init';
import { InputShape, modelLayout } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { Rng } from '../util/rng';
import { Feeds } from './session';

/** A random batch: standard-normal images and uniformly drawn labels. */
export function randomBatch(rng: Rng, batch: number, input: InputShape, classes: number): { input: Float32Array; target: BigInt64Array } {
  const x = rng.fillNormal(new Float32Array(batch * input[0] * input[1] * input[2])) as Float32Array;
  const target = BigInt64Array.from({ length: batch }, () => BigInt(rng.int(classes)));
  return { input: x, target };
}

/** A state as feeds by name (every tensor of a model state is float32). */
export function feedsOf(state: TensorMap): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  for (const [k, v] of state) feeds[k] = v.data as Float32Array;
  return feeds;
}

export interface SampleHyper {
  lr: number;
  wd: number;
  momentum: number;
}

export const SAMPLE_HYPER: SampleHyper = { lr: 0.1, wd: 5e-4, momentum: 0.9 };

export function sampleFeeds(graph: Graph, spec: ModelSpec, input: InputShape, seed: number, hyper: SampleHyper = SAMPLE_HYPER): Feeds {
  const rng = new Rng([seed, 'sample']);
  const state = feedsOf(initialState(modelLayout(spec, input), rng.fork('init')));
  const batchInput = graph.inputs.find((v) => v.name === 'input');
  const batch = batchInput ? randomBatch(rng.fork('data'), batchInput.shape[0], input, spec.numClasses) : undefined;
  const slots = rng.fork('slots');
  const feeds: Feeds = {};
  for (const v of graph.inputs) {
    const size = v.shape.reduce((a, b) => a * b, 1);
    if (v.name in state) feeds[v.name] = state[v.name];
    else if (batch && (v.name === 'input' || v.name === 'target')) feeds[v.name] = batch[v.name];
    else if (v.name === 'lr' || v.name === 'momentum') feeds[v.name] = Float32Array.of(hyper[v.name]);
    else if (v.name === 'wd') feeds[v.name] = new Float32Array(size).fill(hyper.wd);
    // Optimizer slots and given gradients: small random values, so every term of the update shows.
    else if (v.name.startsWith('optimizer.') || v.name.startsWith('grad.')) feeds[v.name] = slots.fillNormal(new Float32Array(size)).map((x) => 0.01 * x);
    else throw new Error(`sampleFeeds: program ${graph.name} has an input ${v.name} it does not know how to fill`);
  }
  return feeds;
}
