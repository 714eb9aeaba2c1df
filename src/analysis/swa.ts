/**
 * Stochastic weight averaging (Izmailov et al. 2018; timgaripov/swa): the equal
 * average of SWA snapshots, BatchNorm statistics recomputed for the averaged weights, and its
 * test loss and accuracy.
 *
 * - Averaging is a running mean (avg += (w − avg)/(k+1), in float64), so one model is in memory
 *   however many snapshots there are; only parameters are averaged (as AveragedModel does).
 * - The BN recomputation is PyTorch's update_bn (train/bn-stats.ts) over the training set in its
 *   stored order, unaugmented; the bridge's `swa-eval` replays exactly these batches.
 */
import fg from 'fast-glob';
import * as fs from 'fs';
import * as path from 'path';
import { Dataset } from '../data';
import { TensorMap } from '../graph/tensors';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import { InputShape, ModelLayout, modelLayout, modelMetadata } from '../nn/model';
import { ModelSpec, specName } from '../nn/spec';
import type { RuntimeOptions } from '../train/engine';
import { recomputeBn } from '../train/bn-stats';
import { FORMAT } from '../train/checkpoint';
import { TrainConfig } from '../train/config';
import { EvalResult, Evaluator } from '../train/evaluate';

export const SWA_FORMAT = `${FORMAT}/swa`;

/** The files a glob matches, sorted by path. */
function globFiles(pattern: string): string[] {
  return fg.sync(pattern, { onlyFiles: true }).sort();
}

/**
 * The snapshot files that `spec` names: a file; a checkpoints directory (its SWA snapshots,
 * epoch-*.safetensors); a run directory (the same in its checkpoints/); or a glob
 * (`run/checkpoints/epoch-*`, `runs/seed-?/checkpoints/epoch-000[1-3]*`). Sorted by path, which is
 * epoch order within a directory. A path that exists is taken literally, glob characters and all.
 */
export function resolveSnapshots(specs: string | readonly string[]): string[] {
  const out: string[] = [];
  for (const s of typeof specs === 'string' ? [specs] : specs) {
    let files: string[];
    if (fs.existsSync(s) && fs.statSync(s).isDirectory()) {
      const dir = fs.existsSync(path.join(s, 'checkpoints')) ? path.join(s, 'checkpoints') : s;
      files = globFiles(`${fg.convertPathToPattern(dir)}/epoch-*.safetensors`);
      if (files.length === 0) {
        const there = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
        throw new Error(
          `--checkpoints ${s}: ${dir} holds no SWA snapshots (epoch-*.safetensors; train with --snapshot-epochs)` +
            (there.length ? `; it has ${there.join(', ')} — name them with a glob or one by one` : ''),
        );
      }
    } else if (fs.existsSync(s)) {
      files = [s];
    } else if (fg.isDynamicPattern(s)) {
      files = globFiles(s);
      if (files.length === 0) throw new Error(`--checkpoints ${s}: no file matches`);
    } else {
      throw new Error(`--checkpoints ${s}: no such file or directory`);
    }
    out.push(...files);
  }
  return [...new Set(out)];
}

/** The training config of the run a snapshot belongs to (<run>/checkpoints/F → <run>/config.json), if any. */
export function runConfigOf(file: string): TrainConfig | undefined {
  const f = path.join(path.dirname(path.resolve(file)), '..', 'config.json');
  if (!fs.existsSync(f)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8')).config as TrainConfig;
  } catch {
    return undefined;
  }
}

/** The model spec in a snapshot's metadata. */
export function snapshotSpec(file: string): ModelSpec {
  const { metadata } = readSafetensors(file);
  if (!metadata.model) throw new Error(`${file}: no model description in its metadata; is it an intrinsic-lr checkpoint?`);
  return JSON.parse(metadata.model) as ModelSpec;
}

/** Equal-weight running average of the snapshots' parameters (float64 accumulation, float32 result). */
export function averageSnapshots(files: readonly string[], spec: ModelSpec, layout: ModelLayout): TensorMap {
  if (files.length === 0) throw new Error('SWA needs at least one snapshot');
  const avg = new Map<string, Float64Array>(layout.params.map((p) => [p.name, new Float64Array(p.shape.reduce((a, b) => a * b, 1))]));
  files.forEach((file, k) => {
    const { tensors, metadata } = readSafetensors(file);
    if (metadata.model !== JSON.stringify(spec)) {
      throw new Error(`${file} is a snapshot of ${metadata.model ? specName(JSON.parse(metadata.model)) : 'an unknown model'}, but ${files[0]} is one of ${specName(spec)}: SWA averages snapshots of one model`);
    }
    for (const p of layout.params) {
      const t = tensors.get(p.name);
      if (!t || t.dtype !== 'float32' || t.shape.join(',') !== p.shape.join(',')) {
        throw new Error(`${file}: tensor ${p.name} is ${t ? `${t.dtype}[${t.shape}]` : 'missing'}, the model needs float32[${p.shape}]`);
      }
      const a = avg.get(p.name)!;
      const w = t.data as Float32Array;
      for (let i = 0; i < a.length; i++) a[i] += (w[i] - a[i]) / (k + 1);
    }
  });
  const out: TensorMap = new Map();
  for (const p of layout.params) out.set(p.name, { dtype: 'float32', shape: p.shape, data: Float32Array.from(avg.get(p.name)!) });
  return out;
}

export interface SwaOptions {
  snapshots: readonly string[];
  train: Dataset;
  test: Dataset;
  bnBatch?: number;
  evalBatch?: number;
  runtime?: RuntimeOptions;
  /** Write the averaged model here (state_dict + num_batches_tracked, SWA metadata). */
  out?: string;
}

export interface SwaResult {
  spec: ModelSpec;
  snapshots: string[];
  /** Averaged parameters and recomputed running statistics, by state_dict name. */
  state: TensorMap;
  bn: { batches: number; images: number };
  test: EvalResult;
  out?: string;
}

export async function swa(o: SwaOptions): Promise<SwaResult> {
  const input = o.train.shape as InputShape;
  const spec = snapshotSpec(o.snapshots[0]);
  if (spec.inChannels !== input[0] || spec.numClasses !== o.train.numClasses) {
    throw new Error(`${o.snapshots[0]}: ${specName(spec)} takes ${spec.inChannels} channels and ${spec.numClasses} classes, ${o.train.name} has ${input[0]} and ${o.train.numClasses}: wrong --dataset?`);
  }
  const layout = modelLayout(spec, input);
  const params = averageSnapshots(o.snapshots, spec, layout);
  const bn = await recomputeBn(spec, input, params, o.train, o.bnBatch ?? 128, o.runtime);
  const state: TensorMap = new Map([...params, ...bn.stats]);
  const evaluator = await Evaluator.create(spec, input, Math.min(o.evalBatch ?? 500, o.test.count), o.runtime ?? {});
  let test: EvalResult;
  try {
    test = await evaluator.evaluate(state, o.test);
  } finally {
    await evaluator.release();
  }
  const result: SwaResult = { spec, snapshots: [...o.snapshots], state, bn: { batches: bn.batches, images: bn.images }, test };
  if (o.out) {
    const tensors: TensorMap = new Map(state);
    for (const b of layout.buffers) {
      if (b.name.endsWith('.running_mean')) {
        tensors.set(b.name.replace(/running_mean$/, 'num_batches_tracked'), { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(bn.batches)) });
      }
    }
    writeSafetensors(o.out, tensors, {
      format: SWA_FORMAT,
      ...modelMetadata(layout),
      model_name: specName(spec),
      swa: JSON.stringify({ snapshots: o.snapshots, bn: result.bn, bnData: `${o.train.name} ${o.train.split}`, test: { ...test, data: `${o.test.name} ${o.test.split}` } }),
    });
    result.out = o.out;
  }
  return result;
}
