/**
 * What a set of runs costs before it is spent: each run's training steps times its step time,
 * measured here (a few warm steps after two unmeasured ones) on the very programs the step engine
 * compiles for the run's config, and cached in `<cache>/step-times.json` by those programs' bytes
 * (so the model, its widths, the input pooling, the batch and the optimizer all count), the
 * threads, CPU, ORT version and provider. Evaluations, data loading and program compilation are
 * not counted, so the estimate is a lower bound.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { timeSteps } from '../bench/ours';
import { median } from '../util/stats';
import { cacheRoot } from '../data/sources';
import type { TrainConfig } from '../train/config';
import { EngineOptions, StepEngine } from '../train/engine';
import { engineOptionsFor, trainDataShape } from '../train/trainer';
import { writeJsonAtomic } from '../io/files';
import { formatDuration } from '../util/format';

const WARM_STEPS = 3;

const cacheFile = (): string => path.join(cacheRoot(), 'step-times.json');

function readCache(): Record<string, number> {
  try {
    return JSON.parse(fs.readFileSync(cacheFile(), 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/** What the step engine is created with to train `c` with `threads` ORT threads, and the chunks a step takes. */
function stepEngine(c: TrainConfig, threads: number): { options: EngineOptions; chunks: number } {
  const data = trainDataShape(c);
  const options = { ...engineOptionsFor(c, data), runtime: { ep: c.ep, threads } };
  return { options, chunks: options.fullBatch ? data.count / options.batch : 1 };
}

/** Hashes by engine options already built in this process: a sweep's runs mostly share their programs, whose construction takes a while. */
const hashes = new Map<string, Promise<string>>();

/** A hash of the ONNX bytes of the programs the engine compiles for `options`. */
function programsHash(options: EngineOptions): Promise<string> {
  const id = JSON.stringify(options);
  let hash = hashes.get(id);
  if (!hash) {
    hash = StepEngine.programBytes(options).then((programs) => {
      const h = createHash('sha256');
      for (const bytes of programs) h.update(bytes);
      return h.digest('hex').slice(0, 16);
    });
    hashes.set(id, hash);
  }
  return hash;
}

/**
 * The cache key of `c`'s step time: the hash of the programs its engine compiles decides; the
 * model, input and batch before it are for a person reading the cache.
 */
export async function stepKey(c: TrainConfig, threads: number): Promise<string> {
  const { options, chunks } = stepEngine(c, threads);
  const ort = require('onnxruntime-node/package.json').version as string;
  return [c.model, options.input.join('x'), `batch ${options.batch}${chunks > 1 ? ` × ${chunks} chunks` : ''}`, `programs ${await programsHash(options)}`, `threads ${threads || os.cpus().length}`, os.cpus()[0]?.model ?? '?', `ort ${ort}`, `ep ${c.ep}`].join(' | ');
}

/** Seconds per training step of `c` with `threads` ORT threads, from the cache or measured now. */
export async function stepSeconds(c: TrainConfig, threads: number): Promise<number> {
  const key = await stepKey(c, threads);
  const cached = readCache()[key];
  if (cached !== undefined) return cached;
  const { options, chunks } = stepEngine(c, threads);
  const times = await timeSteps(options, { steps: WARM_STEPS, warmup: 2, seed: 0, lr: c.lr, wd: c.wd, label: `the step time of ${c.model}` }, chunks);
  const seconds = median(times) / 1000;
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
    // Under SVAG a step of the config (a unit of SDE time) is `svag` optimizer steps.
    const t = (await stepSeconds(r.config, threads)) * r.config.steps * r.config.svag;
    steps += r.config.steps;
    seconds += t;
    lines.push(`  ${r.name}: ${r.config.steps} steps, ≈ ${formatDuration(t)}`);
  }
  lines.push(`  total: ${runs.length} runs, ${steps} steps, ≈ ${formatDuration(seconds)} of training one run at a time on this machine (${os.cpus().length} cores, ${threads || 'all'} threads per run; measured step times, cached in ${cacheFile()}; evaluations not counted)`);
  return lines;
}
