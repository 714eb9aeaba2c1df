/**
 * The training loop: state in, state out. Each step feeds the parameters, buffers and a batch to
 * the train-step program and takes the new state from its outputs; the schedule is a function of
 * the step; metrics, evaluations and checkpoints are written to the run directory as it goes.
 *
 * A run directory holds config.json, metrics.jsonl, checkpoints/ and, when done, summary.json.
 * Resuming loads the newest checkpoint, cuts metrics.jsonl back to it and continues; on CPU the
 * result is bit-identical to a run that was never interrupted.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BatchStream, Dataset, describeDataset, fullBatches, loadSubset, subsetOf } from '../data';
import { TensorMap } from '../io/safetensors';
import { initialState } from '../nn/init';
import { InputShape, ModelLayout, modelLayout } from '../nn/model';
import { ModelSpec, modelSpec } from '../nn/spec';
import { applyGraph, gradientGraph, ProgramShape, trainStepGraph } from '../programs/programs';
import { Feeds, Fetches, Program, RuntimeOptions } from '../runtime/session';
import { ProgressBar } from '../util/progress';
import { Rng } from '../util/rng';
import { Checkpoint, loadCheckpoint, pruneCheckpoints, rollingCheckpoints, rollingName, saveCheckpoint, snapshotName } from './checkpoint';
import { resolveConfig, TrainConfig, wdScales } from './config';
import { BnStatistics } from './bn-stats';
import { Evaluator } from './evaluate';
import { angularUpdate, EvalRecord, MetricsLog, StepRecord, sumStats, TensorBoardSink } from './metrics';
import { scheduleAt } from './schedule';

export interface RunOptions {
  /** Continue the run in runDir from its newest checkpoint. */
  resume?: boolean;
  /** No progress bar. */
  quiet?: boolean;
  /** Also write the metrics as a TensorBoard event file in the run directory (default true). */
  tensorboard?: boolean;
  /** Called after each checkpoint is written (tests, experiment drivers). */
  onCheckpoint?: (step: number, file: string) => void;
}

export interface RunResult {
  status: 'finished' | 'stopped' | 'diverged';
  step: number;
  runDir: string;
  state: TensorMap;
  lastEval?: EvalRecord;
  message?: string;
}

export interface RunFiles {
  config: string;
  metrics: string;
  checkpoints: string;
  summary: string;
}

export const runFiles = (runDir: string): RunFiles => ({
  config: path.join(runDir, 'config.json'),
  metrics: path.join(runDir, 'metrics.jsonl'),
  checkpoints: path.join(runDir, 'checkpoints'),
  summary: path.join(runDir, 'summary.json'),
});

/** True when the run in runDir finished (experiments skip such runs). */
export function isFinished(runDir: string): boolean {
  const f = runFiles(runDir).summary;
  return fs.existsSync(f) && JSON.parse(fs.readFileSync(f, 'utf8')).status === 'finished';
}

export const rollingCheckpointsOf = (runDir: string): string[] => rollingCheckpoints(runFiles(runDir).checkpoints);

export function readRunConfig(runDir: string): TrainConfig {
  const f = runFiles(runDir).config;
  if (!fs.existsSync(f)) throw new Error(`${runDir} holds no run (no config.json); nothing to resume`);
  return resolveConfig(JSON.parse(fs.readFileSync(f, 'utf8')).config);
}

interface RunData {
  train: Dataset;
  test: Dataset;
  evalTrain?: Dataset;
  /** The images update_bn runs on before each evaluation (config.bnRecompute). */
  bnData?: Dataset;
}

async function loadRunData(c: TrainConfig): Promise<RunData> {
  const opts = { dataDir: c.dataDir, synthetic: c.synthetic };
  const train = await loadSubset({ dataset: c.dataset, split: 'train', size: c.trainSubset, seed: c.dataSeed, synthetic: c.synthetic }, opts);
  const test = await loadSubset({ dataset: c.dataset, split: 'test', size: c.testSubset, seed: c.dataSeed, synthetic: c.synthetic }, opts);
  const evalTrain = c.evalTrainSubset > 0 ? subsetOf(train, Math.min(c.evalTrainSubset, train.count), c.dataSeed + 1) : undefined;
  const bnData = c.bnRecompute > 0 ? subsetOf(train, Math.min(c.bnRecompute, train.count), c.dataSeed + 2) : undefined;
  return { train, test, evalTrain, bnData };
}

export function runSpec(c: TrainConfig, data: Pick<Dataset, 'shape' | 'numClasses'>): ModelSpec {
  return modelSpec(c.model, { inChannels: data.shape[0], numClasses: data.numClasses, bnEps: c.bnEps, fcScale: c.fcScale });
}

/** One optimisation step: takes the state, returns the program outputs (next.*, stats, loss, correct). */
type StepFn = (state: TensorMap, momentum: TensorMap, hyper: { lr: number; wd: Float32Array; momentum: number }) => Promise<{ out: Fetches; images: number }>;

function stateFeeds(state: TensorMap, momentum: TensorMap): Feeds {
  const feeds: Feeds = {};
  for (const [k, v] of state) feeds[k] = v.data;
  for (const [k, v] of momentum) feeds[`momentum.${k}`] = v.data;
  return feeds;
}

function hyperFeeds(h: { lr: number; wd: Float32Array; momentum: number }, withMomentum: boolean): Feeds {
  return { lr: Float32Array.of(h.lr), wd: h.wd, ...(withMomentum ? { momentum: Float32Array.of(h.momentum) } : {}) };
}

async function minibatchStep(shape: ProgramShape, runtime: RuntimeOptions, withMomentum: boolean, stream: BatchStream): Promise<StepFn> {
  const program = await Program.create(trainStepGraph(shape, withMomentum), runtime);
  return async (state, momentum, h) => {
    const b = stream.next();
    const out = await program.run({ ...stateFeeds(state, momentum), ...hyperFeeds(h, withMomentum), input: b.x, target: b.y });
    return { out, images: b.y.length };
  };
}

/**
 * Full-batch gradient descent: the gradient program runs over fixed chunks (BatchNorm statistics
 * per chunk, running statistics chained through them), the mean gradient feeds the apply program.
 */
async function fullBatchStep(shape: ProgramShape, runtime: RuntimeOptions, withMomentum: boolean, train: Dataset, trainable: readonly string[]): Promise<StepFn> {
  const chunks = [...fullBatches(train, { chunkSize: shape.batch, last: 'keep' })];
  const gradient = await Program.create(gradientGraph(shape), runtime);
  const apply = await Program.create(applyGraph(shape, withMomentum), runtime);
  const gradNames = gradient.outputNames.filter((n) => n.startsWith('grad.'));
  return async (state, momentum, h) => {
    const running: Feeds = {};
    const sums = new Map<string, Float64Array>(gradNames.map((n) => [n, new Float64Array(state.get(n.slice(5))!.data.length)]));
    let lossSum = 0;
    let correct = 0;
    for (const b of chunks) {
      const out = await gradient.run({ ...stateFeeds(state, new Map()), ...running, input: b.x, target: b.y });
      for (const n of gradNames) {
        const g = out[n] as Float32Array;
        const s = sums.get(n)!;
        for (let i = 0; i < g.length; i++) s[i] += g[i] * b.y.length;
      }
      for (const [k, v] of Object.entries(out)) if (k.startsWith('next.')) running[k.slice(5)] = v;
      lossSum += (out.loss[0] as number) * b.y.length;
      correct += out.correct[0] as number;
    }
    const grads: Feeds = {};
    for (const [n, s] of sums) grads[n] = Float32Array.from(s, (v) => v / train.count);
    const params: Feeds = {};
    for (const name of trainable) params[name] = state.get(name)!.data;
    const updated = await apply.run({ ...params, ...grads, ...stateFeeds(new Map(), momentum), ...hyperFeeds(h, withMomentum) });
    const out: Fetches = { ...updated, loss: Float32Array.of(lossSum / train.count), correct: Float32Array.of(correct) };
    for (const [k, v] of Object.entries(running)) out[`next.${k}`] = v;
    return { out, images: train.count };
  };
}

function initialCheckpoint(c: TrainConfig, spec: ModelSpec, layout: ModelLayout): Checkpoint {
  const state = initialState(layout, new Rng([c.seed, 'init']));
  const momentum: TensorMap = new Map();
  if (c.momentum > 0) {
    for (const p of layout.params) if (p.trainable) momentum.set(p.name, { dtype: 'float32', shape: p.shape, data: new Float32Array(state.get(p.name)!.data.length) });
  }
  return { spec, state, momentum, position: { step: 0, epoch: 0, index: 0, window: { loss: 0, count: 0 } } };
}

function writeConfig(file: string, c: TrainConfig, spec: ModelSpec, data: RunData, runtime: RuntimeOptions): void {
  const env = {
    node: process.version,
    onnxruntime: require('onnxruntime-node/package.json').version as string,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    ep: runtime.ep,
    threads: runtime.threads,
  };
  const describe = (d?: Dataset) => (d ? describeDataset(d) : null);
  const body = { config: c, model: spec, data: { train: describe(data.train), test: describe(data.test), evalTrain: describe(data.evalTrain), bnRecompute: describe(data.bnData) }, env, command: process.argv.slice(1).join(' '), created: new Date().toISOString() };
  fs.writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
}

/** Trains (or resumes) the run in runDir. */
export async function train(config: TrainConfig, runDir: string, opts: RunOptions = {}): Promise<RunResult> {
  const files = runFiles(runDir);
  if (!opts.resume && fs.existsSync(files.config)) {
    throw new Error(`${runDir} already holds a run; continue it with --resume ${runDir}, or choose another --out`);
  }
  const c = opts.resume ? readRunConfig(runDir) : resolveConfig(config);
  const runtime: RuntimeOptions = { ep: c.ep, threads: c.threads };
  const data = await loadRunData(c);
  const input = data.train.shape as InputShape;
  const spec = runSpec(c, data.train);
  const layout = modelLayout(spec, input);

  let start: Checkpoint;
  if (opts.resume) {
    const newest = rollingCheckpoints(files.checkpoints)[0];
    if (!newest) throw new Error(`${runDir} has no checkpoint to resume from; start it again without --resume (remove ${runDir} first)`);
    try {
      start = loadCheckpoint(newest, { spec, layout });
    } catch (e) {
      throw new Error(`${(e as Error).message}\nThe newest checkpoint cannot be read. To resume from the one before it, delete ${newest}.`);
    }
  } else {
    fs.mkdirSync(files.checkpoints, { recursive: true });
    writeConfig(files.config, c, spec, data, runtime);
    start = initialCheckpoint(c, spec, layout);
  }
  const log = new MetricsLog(files.metrics, opts.tensorboard === false ? [] : [new TensorBoardSink(runDir, c.momentum)]);
  log.resumeAt(start.position.step);

  const fullBatch = c.batchSize === 0;
  const batch = fullBatch ? Math.min(c.chunkSize, data.train.count) : c.batchSize;
  if (fullBatch && data.train.count % batch !== 0) {
    throw new Error(`full-batch mode processes ${data.train.count} images in chunks of ${batch}: choose a chunk size that divides the training set`);
  }
  const withMomentum = c.momentum > 0;
  const shape: ProgramShape = { spec, batch, input };
  const stream = new BatchStream(data.train, { batchSize: batch, seed: c.seed, augment: c.augment }, start.position);
  const stepsPerEpoch = fullBatch ? 1 : stream.perEpoch;
  const trainable = layout.params.filter((p) => p.trainable);
  const step = fullBatch
    ? await fullBatchStep(shape, runtime, withMomentum, data.train, trainable.map((p) => p.name))
    : await minibatchStep(shape, runtime, withMomentum, stream);
  const evaluator = await Evaluator.create(spec, input, Math.min(c.evalBatch, data.test.count, data.evalTrain?.count ?? Infinity), runtime);

  const siRows = trainable.map((p, i) => (p.scaleInvariant ? i : -1)).filter((i) => i >= 0);
  const allRows = trainable.map((_, i) => i);
  const wdScale = wdScales(c, trainable.map((p) => p.name));

  let state = start.state;
  let momentum = start.momentum;
  let position = start.position;
  let lastEval: EvalRecord | undefined;
  let stopRequested = false;
  const onSignal = () => {
    stopRequested = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const checkpoint = (file: string) => {
    saveCheckpoint(file, { spec, state, momentum, position }, layout);
    opts.onCheckpoint?.(position.step, file);
  };
  const bar = new ProgressBar({ total: c.steps, initial: position.step, label: path.basename(runDir), unit: ' steps', quiet: opts.quiet });
  const recompute = data.bnData && { bn: new BnStatistics(spec, input, Math.min(c.evalBatch, data.bnData.count), runtime), on: data.bnData };
  const evaluate = async (onImages?: (n: number) => void): Promise<EvalRecord> => {
    const evalState = recompute ? new Map([...state, ...(await recompute.bn.compute(state, recompute.on)).stats]) : state;
    const test = await evaluator.evaluate(evalState, data.test, onImages);
    const tr = data.evalTrain ? await evaluator.evaluate(evalState, data.evalTrain, onImages) : undefined;
    const r: EvalRecord = { type: 'eval', step: position.step, epoch: position.step / stepsPerEpoch, test_loss: test.loss, test_acc: test.acc, ...(tr ? { train_loss: tr.loss, train_acc: tr.acc } : {}) };
    log.append(r);
    bar.log(evalLine(r));
    return r;
  };
  let status: RunResult['status'] = 'finished';
  let message: string | undefined;
  try {
    while (position.step < c.steps) {
      if (stopRequested) {
        status = 'stopped';
        break;
      }
      const sched = scheduleAt(c.schedule, { lr: c.lr, wd: c.wd }, position.step, stepsPerEpoch);
      const { out, images } = await step(state, momentum, { lr: sched.lr, wd: wdScale.map((s) => s * sched.wd), momentum: c.momentum });
      const loss = out.loss[0] as number;
      const stepNo = position.step + 1;
      // The new state must be finite too: a BN running variance or a weight can overflow float32
      // while the (normalised) loss still looks fine, and a checkpoint of it would not be "good".
      const broken = Number.isFinite(loss) ? firstNonFinite(out) : undefined;
      if (!Number.isFinite(loss) || broken) {
        status = 'diverged';
        const what = broken ? `${broken} has non-finite values after the update (loss ${loss})` : `the loss is ${loss}`;
        message = `training diverged at step ${stepNo}: ${what} (lr ${sched.lr}, wd ${sched.wd}). The last good checkpoint is kept in ${files.checkpoints}; lower the learning rate or λη and start again.`;
        log.append({ type: 'diverged', step: stepNo, epoch: stepNo / stepsPerEpoch, message });
        break;
      }
      state = nextState(state, out);
      if (withMomentum) momentum = nextMomentum(momentum, out);
      const next = fullBatch ? { epoch: stepNo, index: 0 } : stream.position;
      const window = { loss: position.window.loss + loss, count: position.window.count + 1 };
      position = { step: stepNo, epoch: next.epoch, index: next.index, window };

      if (stepNo % c.logEvery === 0 || stepNo === c.steps) {
        const record = stepRecord(out.stats as Float32Array, allRows, siRows, { step: stepNo, epoch: stepNo / stepsPerEpoch, ...sched, loss, window, acc: (out.correct[0] as number) / images });
        if (c.layerEvery > 0 && stepNo % c.layerEvery === 0) record.layers = layerNorms(out.stats as Float32Array, trainable.map((p) => p.name));
        log.append(record);
        position = { ...position, window: { loss: 0, count: 0 } };
        bar.update(stepNo, `loss ${record.loss_avg.toFixed(3)} acc ${(100 * record.acc).toFixed(1)}% |w| ${record.si_w_norm.toPrecision(4)} ηeff ${record.eff_lr.toExponential(2)}`);
      }
      const epochDone = fullBatch || position.index === 0;
      if (epochDone && c.snapshotEpochs.includes(position.epoch)) checkpoint(path.join(files.checkpoints, snapshotName(position.epoch)));
      if (c.evalEvery > 0 && stepNo % c.evalEvery === 0 && stepNo !== c.steps) lastEval = await evaluate();
      if (stepNo % c.checkpointEvery === 0 && stepNo !== c.steps) {
        checkpoint(path.join(files.checkpoints, rollingName(stepNo)));
        pruneCheckpoints(files.checkpoints, c.keepCheckpoints);
      }
    }
    if (status !== 'diverged') {
      checkpoint(path.join(files.checkpoints, rollingName(position.step)));
      pruneCheckpoints(files.checkpoints, c.keepCheckpoints);
    }
    if (status === 'finished') {
      bar.done();
      const evalBar = new ProgressBar({ total: data.test.count + (data.evalTrain?.count ?? 0), label: `${path.basename(runDir)} final evaluation`, unit: ' img', quiet: opts.quiet });
      lastEval = await evaluate((n) => evalBar.tick(n));
      evalBar.done(`test acc ${(100 * lastEval.test_acc).toFixed(2)}%`);
      fs.writeFileSync(files.summary, JSON.stringify({ status, steps: position.step, final: lastEval }, null, 2) + '\n');
    }
  } finally {
    bar.done(status);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await evaluator.release();
    await recompute?.bn.release();
  }
  return { status, step: position.step, runDir, state, lastEval, message };
}

/** The first updated tensor (`next.*`) holding a NaN or an infinity, if any. */
function firstNonFinite(out: Fetches): string | undefined {
  for (const [k, v] of Object.entries(out)) {
    if (!k.startsWith('next.') || typeof v[0] !== 'number') continue;
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return k.slice(5);
  }
  return undefined;
}

function nextState(state: TensorMap, out: Fetches): TensorMap {
  const next: TensorMap = new Map();
  for (const [k, v] of state) {
    const updated = out[`next.${k}`];
    next.set(k, updated ? { ...v, data: updated } : v);
  }
  return next;
}

function nextMomentum(momentum: TensorMap, out: Fetches): TensorMap {
  const next: TensorMap = new Map();
  for (const [k, v] of momentum) next.set(k, { ...v, data: out[`next.momentum.${k}`] });
  return next;
}

function stepRecord(
  stats: Float32Array, all: number[], si: number[],
  s: { step: number; epoch: number; lr: number; wd: number; loss: number; window: { loss: number; count: number }; acc: number },
): StepRecord {
  const a = sumStats(stats, all);
  const w = sumStats(stats, si);
  return {
    type: 'step',
    step: s.step,
    epoch: s.epoch,
    lr: s.lr,
    wd: s.wd,
    lambda_eta: s.lr * s.wd,
    loss: s.loss,
    loss_avg: s.window.loss / s.window.count,
    acc: s.acc,
    w_norm: Math.sqrt(a.w2),
    g_norm: Math.sqrt(a.g2),
    si_w_norm: Math.sqrt(w.w2),
    eff_lr: s.lr / w.w2,
    angular_update: angularUpdate(w),
    cos_wg: w.wg / Math.sqrt(w.w2 * w.g2),
  };
}

function layerNorms(stats: Float32Array, names: string[]): Record<string, [number, number, number]> {
  const out: Record<string, [number, number, number]> = {};
  names.forEach((n, i) => {
    const s = sumStats(stats, [i]);
    out[n] = [Math.sqrt(s.w2), Math.sqrt(s.g2), angularUpdate(s)];
  });
  return out;
}

/** The line an evaluation prints: `step 500 (epoch 1.07): test loss 0.4321 acc 85.20%  train loss … acc …`. */
function evalLine(r: EvalRecord): string {
  const part = (what: string, loss: number, acc: number) => `${what} loss ${loss.toFixed(4)} acc ${(100 * acc).toFixed(2)}%`;
  const train = r.train_loss !== undefined && r.train_acc !== undefined ? `  ${part('train', r.train_loss, r.train_acc)}` : '';
  return `step ${r.step} (epoch ${r.epoch.toFixed(2)}): ${part('test', r.test_loss, r.test_acc)}${train}`;
}
