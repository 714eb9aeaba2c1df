/**
 * What a set of runs costs before it is spent: each run's training steps times the step time of
 * its model at its batch size, measured here (`ilr bench`'s train-step program, a few warm steps
 * after two unmeasured ones) and cached per model, input, batch, threads, CPU and ORT version in
 * `<cache>/step-times.json`. A full-batch step counts one program run per chunk. Evaluations,
 * data loading and program compilation are not counted, so the estimate is a lower bound.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { benchOurs } from '../bench/ours';
import { DATASETS, resolveSyntheticSpec } from '../data';
import { cacheRoot } from '../data/sources';
import type { InputShape } from '../nn/model';
import type { TrainConfig } from '../train/config';
import { writeJsonAtomic } from '../io/files';
import { formatDuration } from '../util/format';

const WARM_STEPS = 3;

/** The program one step runs (its batch) and how many times a step runs it. */
export function stepShape(c: TrainConfig): { input: InputShape; batch: number; runsPerStep: number } {
  const synthetic = c.dataset === 'synthetic' ? resolveSyntheticSpec(c.synthetic) : undefined;
  const input = (synthetic ? synthetic.shape : DATASETS[c.dataset as keyof typeof DATASETS].shape) as InputShape;
  if (c.batchSize > 0) return { input, batch: c.batchSize, runsPerStep: 1 };
  const train = c.trainSubset ?? (synthetic ? synthetic.trainCount : DATASETS[c.dataset as keyof typeof DATASETS].counts.train);
  const chunk = Math.min(c.chunkSize, train);
  return { input, batch: chunk, runsPerStep: Math.ceil(train / chunk) };
}

const cacheFile = (): string => path.join(cacheRoot(), 'step-times.json');

function readCache(): Record<string, number> {
  try {
    return JSON.parse(fs.readFileSync(cacheFile(), 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/** Seconds per program run of `c`'s train step with `threads` ORT threads, from the cache or measured now. */
export async function stepSeconds(c: TrainConfig, threads: number): Promise<number> {
  const { input, batch } = stepShape(c);
  const ort = require('onnxruntime-node/package.json').version as string;
  const key = [c.model, input.join('x'), `batch ${batch}`, c.momentum > 0 ? 'momentum' : 'sgd', `threads ${threads || os.cpus().length}`, os.cpus()[0]?.model ?? '?', `ort ${ort}`, `ep ${c.ep}`].join(' | ');
  const cached = readCache()[key];
  if (cached !== undefined) return cached;
  const r = await benchOurs({ model: c.model, batch, input, steps: WARM_STEPS, warmup: 2, threads, lr: c.lr, momentum: c.momentum, wd: c.wd, seed: 0, nchwc: true, ep: c.ep });
  const seconds = r.ms_per_step / 1000;
  writeJsonAtomic(cacheFile(), { ...readCache(), [key]: seconds });
  return seconds;
}

/** Lines for a dry run: each run's steps and estimated time, then the totals. */
export async function describeCost(runs: readonly { name: string; config: TrainConfig }[], threads: number): Promise<string[]> {
  if (runs.length === 0) return ['  no training runs'];
  const lines: string[] = [];
  let steps = 0;
  let seconds = 0;
  for (const r of runs) {
    const t = (await stepSeconds(r.config, threads)) * stepShape(r.config).runsPerStep * r.config.steps;
    steps += r.config.steps;
    seconds += t;
    lines.push(`  ${r.name}: ${r.config.steps} steps, ≈ ${formatDuration(t)}`);
  }
  lines.push(`  total: ${runs.length} runs, ${steps} steps, ≈ ${formatDuration(seconds)} of training one run at a time on this machine (${os.cpus().length} cores, ${threads || 'all'} threads per run; measured step times, cached in ${cacheFile()}; evaluations not counted)`);
  return lines;
}
