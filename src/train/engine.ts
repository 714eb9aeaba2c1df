/**
 * The step engine: the one place that compiles the training programs of a model and optimizer,
 * builds their feeds from (state, batch, hyperparameters), runs them and returns the next state
 * with the step's statistics. Every driver trains through it: the trainer, the ExpLR figure's
 * lockstep runs, the PyTorch SGD replay.
 *
 * A train state is one map by checkpoint name: parameters and buffers under their state_dict
 * keys, optimizer slots as `optimizer.<slot>.<param>`. The programs take exactly these names as
 * inputs and return `next.<name>`, so a step only moves buffers from one run to the next.
 *
 * Two modes. Mini-batch: one train-step program, one batch per step (two under SVAG, each with
 * its own batch statistics). Full-batch gradient descent:
 * the gradient program runs over fixed chunks (BatchNorm statistics per chunk, the running
 * statistics chained through them), the mean gradient (summed in float64) feeds the apply program.
 */
import type { Batch } from '../data';
import type { Graph, TypedArray } from '../graph/ir';
import { TensorMap } from '../graph/tensors';
import { initialState } from '../nn/init';
import { InputShape, ModelLayout, modelLayout, ParamInfo } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { OptimizerConfig, optimizerDef, slotName, stepLr } from '../programs/optimizers';
import { applyGraph, gradientGraph, trainStepGraph } from '../programs/programs';
import { carriedOutputs, ResidentState } from '../runtime/carry';
import { hostValues } from '../runtime/device';
import { Feeds, Fetches, Program, RuntimeOptions, TensorFeeds, TensorFetches } from '../runtime/session';
import { Rng } from '../util/rng';

export type { ExecutionProvider, RuntimeOptions } from '../runtime/session';
export type { OptimizerConfig } from '../programs/optimizers';

/** Parameters, buffers and optimizer slots, by checkpoint name. */
export type TrainState = TensorMap;

/**
 * The state as the engine holds it between steps. On the CPU these are the host arrays
 * themselves (ORT reads its inputs without a copy); on WebGPU the mini-batch step leaves them on
 * the device, and `download` brings them back only when asked. A step consumes its input state
 * (device buffers it replaced are freed): keep the one it returns.
 */
export type EngineState = ResidentState;

export interface Hyper {
  /** The schedule's η; under SVAG a step takes η/L (stepLr). */
  lr: number;
  /** Weight decay of each trainable tensor, in `engine.trainable` order (parameter groups are data). */
  wd: Float32Array;
}

export interface StepResult {
  state: EngineState;
  /** Mean loss over the step's images. */
  loss: number;
  correct: number;
  images: number;
  /** Per trainable tensor, one row of |w|², |g|², ⟨w,g⟩, |Δw|², ⟨w,Δw⟩ (programs/update.ts). */
  stats: Float32Array;
  /** Set when the step produced a non-finite loss or state: what went wrong, in words. */
  diverged?: string;
}

export interface EngineOptions {
  spec: ModelSpec;
  input: InputShape;
  /** Images per step (mini-batch) or per chunk (full batch). */
  batch: number;
  optimizer: OptimizerConfig;
  runtime: RuntimeOptions;
  /** Full-batch gradient descent: each step takes every chunk of the training set. */
  fullBatch?: boolean;
}

/** What a step reads of a batch: the normalised images and their labels. */
export type StepBatch = Pick<Batch, 'x' | 'y'>;

type Runner = (feeds: (extra: Feeds) => TensorFeeds, batches: readonly StepBatch[]) => Promise<TensorFetches>;

export class StepEngine {
  readonly layout: ModelLayout;
  readonly trainable: ParamInfo[];
  /** The optimizer's state entries, `optimizer.<slot>.<param>`, with the parameter each belongs to and its shape. */
  readonly slots: { key: string; param: ParamInfo; shape: number[] }[];
  /** The batches a mini-batch step takes: two under SVAG, one otherwise. */
  readonly batchesPerStep: number;
  private readonly hyperFeeds: Feeds;

  private constructor(readonly options: EngineOptions, private readonly programs: Program[], private readonly runner: Runner) {
    this.layout = modelLayout(options.spec, options.input);
    this.trainable = this.layout.params.filter((p) => p.trainable);
    const def = optimizerDef(options.optimizer.name);
    this.slots = def.slots(options.optimizer).flatMap((s) => this.trainable.map((param) => ({ key: slotName(s.name, param.name), param, shape: s.scalar ? [] : param.shape })));
    this.batchesPerStep = batchesPerStep(options.optimizer);
    this.hyperFeeds = Object.fromEntries(Object.entries(def.hyper(options.optimizer)).map(([k, v]) => [k, Float32Array.of(v)]));
  }

  /** The program a mini-batch engine compiles for `o` (also what a profile of it is read against). */
  static stepGraph(o: Pick<EngineOptions, 'spec' | 'batch' | 'input' | 'optimizer'>): Graph {
    return trainStepGraph({ spec: o.spec, batch: o.batch, input: o.input }, o.optimizer);
  }

  /** The programs `create` compiles for `o`: the train step, or full-batch descent's gradient and apply programs. */
  static graphs(o: Omit<EngineOptions, 'runtime'>): Graph[] {
    const shape = { spec: o.spec, batch: o.batch, input: o.input };
    return o.fullBatch ? [gradientGraph(shape), applyGraph(shape, o.optimizer)] : [StepEngine.stepGraph(o)];
  }

  /** The ONNX bytes of the programs `create` compiles for `o`: what the engine runs, to the byte. */
  static programBytes(o: EngineOptions): Promise<Uint8Array[]> {
    return Promise.all(StepEngine.graphs(o).map((g) => Program.bytes(g, o.runtime)));
  }

  static async create(o: EngineOptions): Promise<StepEngine> {
    if (!o.fullBatch) {
      const [graph] = StepEngine.graphs(o);
      // The next state stays on the device where the provider allows it (WebGPU).
      const step = await Program.create(graph, o.runtime, carriedOutputs(graph.outputs.keys()));
      const count = batchesPerStep(o.optimizer);
      return new StepEngine(o, [step], async (feeds, batches) => {
        if (batches.length !== count || batches.some((b) => b.y.length !== o.batch)) {
          throw new Error(`the mini-batch step takes ${count === 1 ? 'one batch' : 'two batches (SVAG)'} of ${o.batch} images, got ${batches.map((b) => b.y.length).join(' + ')}`);
        }
        const [first, second] = batches;
        return step.runOnDevice(feeds({ input: first.x, target: first.y, ...(second ? { input2: second.x, target2: second.y } : {}) }));
      });
    }
    if (batchesPerStep(o.optimizer) > 1) throw new Error(`SVAG (svag ${o.optimizer.svag}) needs mini-batches: full-batch descent has no gradient noise for it to scale`);
    const graphs = StepEngine.graphs(o);
    const gradient = await Program.create(graphs[0], o.runtime);
    const apply = await Program.create(graphs[1], o.runtime);
    return new StepEngine(o, [gradient, apply], (feeds, batches) => fullBatchStep(gradient, apply, feeds, batches));
  }

  /** A fresh run's state: PyTorch's default initialisation from `seed`, optimizer slots at zero. */
  initialState(seed: number): TrainState {
    return this.withZeroSlots(initialState(this.layout, new Rng([seed, 'init'])));
  }

  /** `params` (parameters and buffers) with every optimizer slot it lacks set to zero, as torch starts them. */
  withZeroSlots(params: TensorMap): TrainState {
    const state: TrainState = new Map(params);
    for (const { key, shape } of this.slots) {
      if (!state.has(key)) state.set(key, { dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    }
    return state;
  }

  upload(state: TrainState): EngineState {
    return ResidentState.fromHost(state);
  }

  async download(state: EngineState): Promise<TrainState> {
    return state.download();
  }

  /** One optimisation step from `state` on `batches` (one batch, two under SVAG; every chunk in full-batch mode). */
  async step(state: EngineState, batches: readonly StepBatch[], h: Hyper): Promise<StepResult> {
    if (h.wd.length !== this.trainable.length) throw new Error(`wd has ${h.wd.length} entries, the model has ${this.trainable.length} trainable tensors`);
    const stateFeeds = state.feeds();
    const feeds = (extra: Feeds): TensorFeeds => ({ ...stateFeeds, ...this.hyperFeeds, lr: Float32Array.of(stepLr(this.options.optimizer, h.lr)), wd: h.wd, ...extra });
    const out = await this.runner(feeds, batches);
    // What came to the host: loss, counts, statistics, and the state unless it stayed on the device,
    // where its finiteness shows in the statistics (|w|², |g|², |Δw|² of every trainable tensor).
    const host = hostValues(out);
    const loss = host.loss[0] as number;
    const broken = Number.isFinite(loss) ? firstNonFinite(host) : undefined;
    return {
      state: state.next(out),
      loss,
      correct: host.correct[0] as number,
      images: batches.reduce((n, b) => n + b.y.length, 0),
      stats: host.stats as Float32Array,
      // The new state must be finite too: a BN running variance or a weight can overflow float32
      // while the (normalised) loss still looks fine, and a checkpoint of it would not be "good".
      diverged: !Number.isFinite(loss) ? `the loss is ${loss}` : broken && `${broken} has non-finite values after the update (loss ${loss})`,
    };
  }

  async release(): Promise<void> {
    for (const p of this.programs) await p.release();
  }
}

async function fullBatchStep(gradient: Program, apply: Program, feeds: (extra: Feeds) => TensorFeeds, chunks: readonly StepBatch[]): Promise<Fetches> {
  const gradNames = gradient.outputNames.filter((n) => n.startsWith('grad.'));
  const running: Feeds = {};
  const sums = new Map<string, Float64Array>();
  let lossSum = 0;
  let correct = 0;
  let images = 0;
  for (const b of chunks) {
    const out = await gradient.run(feeds({ ...running, input: b.x, target: b.y }));
    for (const n of gradNames) {
      const g = out[n] as Float32Array;
      if (!sums.has(n)) sums.set(n, new Float64Array(g.length));
      const s = sums.get(n)!;
      for (let i = 0; i < g.length; i++) s[i] += g[i] * b.y.length;
    }
    for (const [k, v] of Object.entries(out)) if (k.startsWith('next.')) running[k.slice(5)] = v;
    lossSum += (out.loss[0] as number) * b.y.length;
    correct += out.correct[0] as number;
    images += b.y.length;
  }
  const grads: Feeds = {};
  for (const [n, s] of sums) grads[n] = Float32Array.from(s, (v) => v / images);
  const updated = await apply.run(feeds(grads));
  const out: Fetches = { ...updated, loss: Float32Array.of(lossSum / images), correct: Float32Array.of(correct) };
  for (const [k, v] of Object.entries(running)) out[`next.${k}`] = v;
  return out;
}

/** SVAG's step (trainStepGraph) reads two batches; every other step one. */
const batchesPerStep = (o: OptimizerConfig): number => ((o.svag ?? 1) === 1 ? 1 : 2);

/** The first updated tensor (`next.*`) or statistic holding a NaN or an infinity, if any. */
function firstNonFinite(out: Fetches): string | undefined {
  for (const [k, v] of Object.entries(out)) {
    if (!(k.startsWith('next.') || k === 'stats') || typeof v[0] !== 'number') continue;
    const a = v as Exclude<TypedArray, BigInt64Array>;
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return k === 'stats' ? 'a weight or gradient (its statistics)' : k.slice(5);
  }
  return undefined;
}
