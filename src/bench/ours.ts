/**
 * Our side of the benchmark: the step engine's momentum train step of a model on one fixed
 * synthetic batch, timed over warm steps. Runs in its own process (worker.ts), so the peak RSS it reports
 * is the training step's alone.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { TorchModuleRef } from '../bridge/parity';
import { Graph } from '../graph/ir';
import { InputShape } from '../nn/model';
import { modelSpec } from '../nn/spec';
import { randomBatch } from '../runtime/sample';
import { OptimizerConfig } from '../programs/optimizers';
import { ExecutionProvider } from '../runtime/providers';
import { EngineOptions, StepEngine } from '../train/engine';
import { Rng } from '../util/rng';
import { median } from '../util/stats';

export interface BenchCase {
  model: string;
  /** An imported model's PyTorch module, for the PyTorch side (--torch). */
  torch?: TorchModuleRef;
  batch: number;
  input: InputShape;
  steps: number;
  warmup: number;
  threads: number;
  lr: number;
  momentum: number;
  wd: number;
  seed: number;
  /** ORT's NCHWc conv kernels (RuntimeOptions.nchwc); false measures the plain ONNX Conv. */
  nchwc: boolean;
  /** Where our side runs; PyTorch runs on CUDA for the GPU providers when it has CUDA. */
  ep: ExecutionProvider;
  /** Write ORT's profile with this prefix (the profiled run is slower; its timings are for the breakdown only). */
  profilePrefix?: string;
}

/** What each side reports, in the field names of `torch_bridge.py bench`. */
export interface SideResult {
  images_per_s: number;
  ms_per_step: number;
  ms_per_step_min: number;
  ms_per_step_max: number;
  peak_rss_mb: number;
  threads: number;
  /** The ORT profile file, when profiled. */
  profile?: string;
  /** PyTorch's side, when profiled: self CPU ms per step of each aten op. */
  profile_ms?: Record<string, number>;
  /** Where the side ran: our execution provider, or PyTorch's device. */
  device?: string;
}

/** The optimizer the bench trains with: torch.optim.SGD with momentum, as the PyTorch side. */
const benchOptimizer = (c: BenchCase): OptimizerConfig => ({ name: 'sgd', momentum: c.momentum });

/** What the bench's engine is created with, but the runtime. */
const engineShape = (c: BenchCase) => ({ spec: modelSpec(c.model, { inChannels: c.input[0] }), input: c.input, batch: c.batch, optimizer: benchOptimizer(c) });

/** The train-step graph the bench's engine compiles (for the profile's node groups). */
export const benchGraph = (c: BenchCase): Graph => StepEngine.stepGraph(engineShape(c));

/**
 * Times the momentum train step through the step engine, as training runs it: every step starts
 * from the previous step's state (on WebGPU it stays on the device; on the CPU and CUDA it goes up
 * and back each step, as the binding allows), and returns loss, accuracy and statistics.
 */
export async function benchOurs(c: BenchCase): Promise<SideResult> {
  const runtime = { ep: c.ep, threads: c.threads, nchwc: c.nchwc, ...(c.profilePrefix ? { profilePrefix: c.profilePrefix } : {}) };
  const times = await timeSteps({ ...engineShape(c), runtime }, { ...c, label: `bench of ${c.model}` });
  const profile = c.profilePrefix ? profileFile(c.profilePrefix) : undefined;
  const ms = median(times);
  return {
    images_per_s: (c.batch * 1000) / ms,
    ms_per_step: ms,
    ms_per_step_min: Math.min(...times),
    ms_per_step_max: Math.max(...times),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    threads: c.threads,
    device: c.ep,
    ...(profile ? { profile } : {}),
  };
}

/** How `timeSteps` steps: `label` names the measurement in a divergence's error. */
export interface StepTiming {
  steps: number;
  warmup: number;
  seed: number;
  lr: number;
  wd: number;
  label: string;
}

/**
 * The milliseconds of each of `t.steps` steps of the engine `o` makes, after `t.warmup` unmeasured
 * ones, from seed's initial state on one random batch (each chunk of a full-batch step is that batch).
 */
export async function timeSteps(o: EngineOptions, t: StepTiming, chunks = 1): Promise<number[]> {
  const engine = await StepEngine.create(o);
  const data = randomBatch(new Rng([t.seed, 'bench']).fork('data'), o.batch, o.input, o.spec.numClasses);
  const batches = Array.from({ length: o.fullBatch ? chunks : engine.batchesPerStep }, () => ({ x: data.input, y: data.target }));
  const hyper = { lr: t.lr, wd: new Float32Array(engine.trainable.length).fill(t.wd) };
  let state = engine.upload(engine.initialState(t.seed));
  const times: number[] = [];
  try {
    for (let i = 0; i < t.warmup + t.steps; i++) {
      const start = performance.now();
      const r = await engine.step(state, batches, hyper);
      if (i >= t.warmup) times.push(performance.now() - start);
      if (r.diverged) throw new Error(`${t.label}: step ${i} diverged (${r.diverged}); try a smaller --lr`);
      state = r.state;
    }
  } finally {
    // Releasing the session makes ORT write its profile.
    await engine.release();
  }
  return times;
}

/** ORT names the profile `<prefix>_<date>.json`; the newest such file. */
function profileFile(prefix: string): string {
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${base}_`) && f.endsWith('.json'));
  if (!files.length) throw new Error(`onnxruntime wrote no profile ${prefix}_*.json`);
  return path.join(dir, files.sort().at(-1)!);
}
