/**
 * The training loop: state in, state out. Each step feeds the parameters, buffers and a batch to
 * the train-step program and takes the new state from its outputs; the schedule is a function of
 * the step; metrics, evaluations and checkpoints are written to the run directory as it goes.
 *
 * The run directory (run-dir.ts) is locked while the loop runs. Resuming loads the newest
 * checkpoint (or starts from step 0 when there is none yet), cuts its logs back to what a run of
 * its length had written by then (an extended run's old final evaluation goes) and continues; on
 * CPU the weights are bit-identical, and the logs byte-identical, to a run that was never
 * interrupted.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Batch, BatchStream, Dataset, describeDataset, fullBatches, loadSubset, pooledShape, poolImages, storedTrainSplit, subsetOf } from '../data';
import { shapeSize } from '../graph/ir';
import { TensorMap } from '../graph/tensors';
import { StepLines } from '../io/step-lines';
import { InputShape, modelLayout } from '../nn/model';
import { ModelSpec, modelSpec } from '../nn/spec';
import { pinModelFile } from './model-file';
import { equilibriumAt, predictedAngle, stepLr } from '../programs/optimizers';
import { ProgressBar } from '../util/progress';
import { Checkpoint, loadCheckpoint, pruneCheckpoints, rollingName, saveCheckpoint, snapshotName } from './checkpoint';
import { optimizerOf, TrainConfig, wdScales } from './config';
import { BnStatistics } from './bn-stats';
import { ChannelRecord, channelRecord } from './channels';
import { Curvature, SharpnessRecord, sharpnessRecord } from './hessian';
import { EngineOptions, EngineState, RuntimeOptions, StepEngine, StepResult } from './engine';
import { Evaluator } from './evaluate';
import { EvalRecord, MetricsLog, stepRecord, TensorBoardSink } from './metrics';
import { PredictionLog } from './predictions';
import { afterDivergence, openRunDir, OpenRun, ResumeChanges, RunFiles, runFiles, writeRunConfig, writeSummary } from './run-dir';
import { scheduleAt } from './schedule';
import { StopSignal, stopOnSignals } from './stop';

export interface RunOptions {
  /** Continue the run in runDir from its newest checkpoint (the config given to train() is then not used). */
  resume?: boolean;
  /** What a resume changes in the stored config (length, where it runs). */
  changes?: ResumeChanges;
  /** No progress bar. */
  quiet?: boolean;
  /** Also write the metrics as a TensorBoard event file in the run directory (default true). */
  tensorboard?: boolean;
}

export interface RunResult {
  status: 'finished' | 'stopped' | 'diverged';
  step: number;
  runDir: string;
  state: TensorMap;
  lastEval?: EvalRecord;
  message?: string;
  /** The signal that stopped the run ('stopped'). */
  signal?: NodeJS.Signals;
}

interface RunData {
  train: Dataset;
  test: Dataset;
  evalTrain?: Dataset;
  /** The images update_bn runs on before each evaluation (config.bnRecompute). */
  bnData?: Dataset;
}

/** The data a run trains and evaluates on; pooled images are normalised with the pooled training split's statistics. */
export async function loadRunData(c: TrainConfig): Promise<RunData> {
  const opts = { dataDir: c.dataDir, synthetic: c.synthetic };
  const train = poolImages(await loadSubset({ dataset: c.dataset, split: 'train', size: c.trainSubset, seed: c.dataSeed, synthetic: c.synthetic }, opts), c.pool);
  const pooledTest = poolImages(await loadSubset({ dataset: c.dataset, split: 'test', size: c.testSubset, seed: c.dataSeed, synthetic: c.synthetic }, opts), c.pool);
  const test = { ...pooledTest, mean: train.mean, std: train.std };
  const evalTrain = c.evalTrainSubset > 0 ? subsetOf(train, Math.min(c.evalTrainSubset, train.count), c.dataSeed + 1) : undefined;
  const bnData = c.bnRecompute > 0 ? subsetOf(train, Math.min(c.bnRecompute, train.count), c.dataSeed + 2) : undefined;
  return { train, test, evalTrain, bnData };
}

export function runSpec(c: TrainConfig, data: Pick<Dataset, 'shape' | 'numClasses'>): ModelSpec {
  return modelSpec(c.model, { inChannels: data.shape[0], numClasses: data.numClasses, bnEps: c.bnEps, fcScale: c.fcScale, widths: c.widths, si: c.si });
}

/** What the step engine is given to train `c` on its training data (of this shape, class count and size), but the runtime. */
export function engineOptionsFor(c: TrainConfig, train: Pick<Dataset, 'shape' | 'numClasses' | 'count'>): Omit<EngineOptions, 'runtime'> {
  const fullBatch = c.batchSize === 0;
  const batch = fullBatch ? Math.min(c.chunkSize, train.count) : c.batchSize;
  if (fullBatch && train.count % batch !== 0) {
    throw new Error(`full-batch mode processes ${train.count} images in chunks of ${batch}: choose a chunk size that divides the training set`);
  }
  return { spec: runSpec(c, train), input: train.shape as InputShape, batch, optimizer: optimizerOf(c), fullBatch };
}

/** The shape, class count and size of `c`'s training data as the engine sees it (pooled), from the config alone. */
export function trainDataShape(c: TrainConfig): Pick<Dataset, 'shape' | 'numClasses' | 'count'> {
  const stored = storedTrainSplit(c.dataset, c.synthetic);
  return { shape: pooledShape(stored.shape, c.pool, c.dataset), numClasses: stored.numClasses, count: Math.min(c.trainSubset ?? stored.count, stored.count) };
}

function describeRun(spec: ModelSpec, data: RunData) {
  const describe = (d?: Dataset) => (d ? describeDataset(d) : null);
  return { model: spec, data: { train: describe(data.train), test: describe(data.test), evalTrain: describe(data.evalTrain), bnRecompute: describe(data.bnData) } };
}

/**
 * Trains (or resumes) the run in runDir, which it holds locked throughout. SIGINT and SIGTERM
 * are caught from the start, before the slow program creation: the run then stops at the next
 * step with a checkpoint.
 */
export async function train(config: TrainConfig, runDir: string, opts: RunOptions = {}): Promise<RunResult> {
  // The model must fit the data (an imported model's channels and classes) before a run directory exists.
  if (!opts.resume) runSpec(config, trainDataShape(config));
  const stop = stopOnSignals();
  try {
    const run = openRunDir(runDir, opts.resume ? { resume: true, changes: opts.changes ?? {} } : { resume: false, config });
    try {
      return await trainIn(run, runDir, stop, opts);
    } finally {
      run.lock.release();
    }
  } finally {
    stop.remove();
  }
}

/** The newest checkpoint, if the run has one; errors say which file to delete to go back one. */
function newestCheckpoint(run: OpenRun, expected: Parameters<typeof loadCheckpoint>[1]): Checkpoint | undefined {
  if (!run.newest) return undefined;
  try {
    return loadCheckpoint(run.newest, expected);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nThe newest checkpoint cannot be read. To resume from the one before it, delete ${run.newest}.`);
  }
}

async function trainIn(run: OpenRun, runDir: string, stop: StopSignal, opts: RunOptions): Promise<RunResult> {
  const { recorded, used: c } = pinModelFile(run.config, runDir, run.fresh);
  const files = runFiles(runDir);
  const runtime: RuntimeOptions = { ep: c.ep, threads: c.threads };
  const data = await loadRunData(c);
  const engineOptions = engineOptionsFor(c, data.train);
  const { spec, input, batch, optimizer, fullBatch } = engineOptions;
  const layout = modelLayout(spec, input);
  if (run.fresh) writeRunConfig(runDir, recorded, describeRun(spec, data));
  const resumed = newestCheckpoint(run, { spec, layout });
  if (run.finished) return { status: 'finished', step: resumed!.position.step, runDir, state: resumed!.state, lastEval: run.finished.final };

  const log = new MetricsLog(files.metrics, opts.tensorboard === false ? [] : [new TensorBoardSink(runDir, (lr, wd) => predictedAngle(optimizer, lr, wd))]);
  const predictionLog = c.recordPredictions ? new PredictionLog(files.predictions) : undefined;
  const channelLog = c.channelEvery > 0 ? new StepLines<ChannelRecord>(files.channels) : undefined;
  const sharpnessLog = c.sharpnessEvery > 0 ? new StepLines<SharpnessRecord>(files.sharpness) : undefined;
  const engine = await StepEngine.create({ ...engineOptions, runtime });
  const start: Checkpoint = resumed ?? { spec, state: engine.initialState(c.seed), position: { step: 0, epoch: 0, index: 0, window: { loss: 0, count: 0 } } };
  const missing = engine.slots.filter((s) => !start.state.has(s.key)).map((s) => s.key);
  if (missing.length) throw new Error(`${runDir}: the checkpoint lacks the optimizer state ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}; it was not written by this run's optimizer`);
  if (resumed) warnOfMissingLogs(c, files, start.position.step);
  // What a run this long has written at the checkpoint's step stays; the rest is written again (an
  // extended run's old final evaluation, or the one a kill interrupted).
  const atStart = writesAt(c, start.position.step);
  log.resumeAt(start.position.step, atStart);
  predictionLog?.truncateAfter(start.position.step, atStart);
  channelLog?.truncateAfter(start.position.step);
  sharpnessLog?.truncateAfter(start.position.step);
  const channelTensors = engine.trainable.filter((p) => p.scaleInvariant).map((p) => p.name);

  const stream = new BatchStream(data.train, { batchSize: batch, seed: c.seed, augment: c.augment }, start.position);
  const chunks = fullBatch ? [...fullBatches(data.train, { chunkSize: batch, last: 'keep' })] : [];
  // Under SVAG the two batches of an optimizer step are the stream's next two: the data order stays a function of (seed, position).
  const nextBatches = () => (fullBatch ? chunks : Array.from({ length: engine.batchesPerStep }, () => stream.next()));
  const sharpness = sharpnessLog && (await sharpnessProbe(c, engine.trainable, spec, input, batch, fullBatch ? chunks : undefined, data.train, runtime));
  const stepsPerEpoch = fullBatch ? 1 : stream.perEpoch;
  const evaluator = await Evaluator.create(spec, input, Math.min(c.evalBatch, data.test.count, data.evalTrain?.count ?? Infinity), runtime);
  const wdScale = wdScales(c, engine.trainable.map((p) => p.name));
  // Each tensor that is scale-invariant alone has its own rotational equilibrium, at its own λ.
  const equilibrium = (sched: { lr: number; wd: number }) => (i: number) => {
    const p = engine.trainable[i];
    return p.scaleInvariantAlone ? equilibriumAt(optimizer, sched.lr, wdScale[i] * sched.wd, shapeSize(p.shape)) : undefined;
  };

  let state: EngineState = engine.upload(start.state);
  let position = start.position;
  let lastEval: EvalRecord | undefined;

  const checkpoint = async (file: string) => {
    saveCheckpoint(file, { spec, state: await engine.download(state), position, forwardsPerStep: engine.batchesPerStep * c.svag }, layout);
  };
  const bar = new ProgressBar({ total: c.steps, initial: position.step, label: path.basename(runDir), unit: ' steps', quiet: opts.quiet });
  const recompute = data.bnData && { bn: new BnStatistics(spec, input, Math.min(c.evalBatch, data.bnData.count), runtime), on: data.bnData };
  const evaluate = async (onImages?: (n: number) => void): Promise<EvalRecord> => {
    const params = await engine.download(state);
    const evalState = recompute ? new Map([...params, ...(await recompute.bn.compute(params, recompute.on)).stats]) : params;
    const test = await evaluator.evaluate(evalState, data.test, { labels: !!predictionLog, onImages });
    const tr = data.evalTrain ? await evaluator.evaluate(evalState, data.evalTrain, { onImages }) : undefined;
    const r: EvalRecord = { type: 'eval', step: position.step, epoch: position.step / stepsPerEpoch, test_loss: test.loss, test_acc: test.acc, ...(tr ? { train_loss: tr.loss, train_acc: tr.acc } : {}) };
    log.append(r);
    if (predictionLog && test.labels) predictionLog.append(position.step, test.labels);
    bar.log(evalLine(r));
    return r;
  };
  let status: RunResult['status'] = 'finished';
  let message: string | undefined;
  let finalState: TensorMap | undefined;
  try {
    while (position.step < c.steps) {
      if (stop.signal) {
        status = 'stopped';
        break;
      }
      // `step` counts units of SDE time: L optimizer steps under SVAG (c.svag), one otherwise.
      const sched = scheduleAt(c.schedule, { lr: c.lr, wd: c.wd }, position.step, stepsPerEpoch);
      const stepNo = position.step + 1;
      const writes = writesAt(c, stepNo);
      // The sharpness of the weights this step starts from, against the LR its optimizer steps take (η/L under SVAG).
      if (sharpness && writes.sharpness) {
        const measured = await sharpness.measure(await engine.download(state), stepNo);
        sharpnessLog!.append(sharpnessRecord(stepNo, stepLr(optimizer, sched.lr), sharpness.params, measured));
      }
      const hyper = { lr: sched.lr, wd: wdScale.map((s) => s * sched.wd) };
      let window = position.window;
      let last: StepResult | undefined;
      let diverged: string | undefined;
      for (let k = 1; k <= c.svag && !diverged; k++) {
        // The state before the (last) optimizer step, on the host (the same arrays on the CPU; a
        // download on a device, whose buffers the step frees).
        const before = channelLog && writes.channels && k === c.svag ? await engine.download(state) : undefined;
        const r = await engine.step(state, nextBatches(), hyper);
        if (r.diverged) {
          diverged = c.svag > 1 ? ` (optimizer step ${k} of its ${c.svag}): ${r.diverged}` : `: ${r.diverged}`;
          break;
        }
        state = r.state;
        if (before) channelLog!.append(channelRecord(stepNo, before, await engine.download(state), channelTensors));
        window = { loss: window.loss + r.loss, count: window.count + 1 };
        last = r;
      }
      if (diverged) {
        status = 'diverged';
        message = `training diverged at step ${stepNo}${diverged} (lr ${sched.lr}, wd ${sched.wd}). ${afterDivergence(runDir)}`;
        log.append({ type: 'diverged', step: stepNo, epoch: stepNo / stepsPerEpoch, message });
        break;
      }
      // The record reads the last optimizer step's loss, accuracy and statistics.
      const r = last!;
      const next = fullBatch ? { epoch: stepNo, index: 0 } : stream.position;
      position = { step: stepNo, epoch: next.epoch, index: next.index, window };

      if (writes.step) {
        const layers = c.layerEvery > 0 && stepNo % c.layerEvery === 0;
        const record = stepRecord(r.stats, engine.trainable, { step: stepNo, epoch: stepNo / stepsPerEpoch, ...sched, loss: r.loss, window, acc: r.correct / r.images }, layers, equilibrium(sched));
        log.append(record);
        // The window runs on across an end off the logging schedule, so that a run extended past
        // that end logs the loss_avg of one that was this long from the start.
        if (stepNo % c.logEvery === 0) position = { ...position, window: { loss: 0, count: 0 } };
        bar.update(stepNo, `loss ${record.loss_avg.toFixed(3)} acc ${(100 * record.acc).toFixed(1)}% |w| ${record.si_w_norm.toPrecision(4)} ηeff ${record.eff_lr.toExponential(2)}`);
      }
      // Epochs are SDE time too (steps per epoch of SGD): under SVAG the stream passes 2L times faster.
      if (stepNo % stepsPerEpoch === 0 && c.snapshotEpochs.includes(stepNo / stepsPerEpoch)) await checkpoint(path.join(files.checkpoints, snapshotName(stepNo / stepsPerEpoch)));
      if (writes.evaluation) lastEval = await evaluate();
      if (stepNo % c.checkpointEvery === 0 && stepNo !== c.steps) {
        await checkpoint(path.join(files.checkpoints, rollingName(stepNo)));
        pruneCheckpoints(files.checkpoints, c.keepCheckpoints);
      }
    }
    if (status !== 'diverged') {
      await checkpoint(path.join(files.checkpoints, rollingName(position.step)));
      pruneCheckpoints(files.checkpoints, c.keepCheckpoints);
    }
    if (status === 'finished') {
      bar.done();
      const evalBar = new ProgressBar({ total: data.test.count + (data.evalTrain?.count ?? 0), label: `${path.basename(runDir)} final evaluation`, unit: ' img', quiet: opts.quiet });
      lastEval = await evaluate((n) => evalBar.tick(n));
      evalBar.done(`test acc ${(100 * lastEval.test_acc).toFixed(2)}%`);
      writeSummary(runDir, { status, steps: position.step, final: lastEval });
    }
    finalState = await engine.download(state);
  } finally {
    bar.done(status);
    await engine.release();
    await evaluator.release();
    await recompute?.bn.release();
    await sharpness?.curvature.release();
  }
  return { status, step: position.step, runDir, state: finalState, lastEval, message, signal: stop.signal };
}

/**
 * What a run of `c` writes to its logs at step `s`, before its checkpoint there (the final
 * evaluation comes after the final checkpoint): one rule for the loop, and for what a resume from
 * a checkpoint at `s` keeps.
 */
function writesAt(c: TrainConfig, s: number): { step: boolean; evaluation: boolean; channels: boolean; sharpness: boolean } {
  return {
    step: s % c.logEvery === 0 || s === c.steps,
    evaluation: c.evalEvery > 0 && s % c.evalEvery === 0 && s !== c.steps,
    channels: c.channelEvery > 0 && s % c.channelEvery === 0,
    sharpness: c.sharpnessEvery > 0 && s % c.sharpnessEvery === 0,
  };
}

/**
 * What --sharpness-every measures on: the scale-invariant weights (every trainable tensor when the
 * model has none), on the training chunks of a full-batch run, or on one fixed, class-balanced
 * batch of the run's batch size (the same for every measurement, so they compare along the run).
 * The Lanczos start is seeded by (seed, step), so a resumed run measures the same numbers.
 */
async function sharpnessProbe(c: TrainConfig, trainable: readonly { scaleInvariant: boolean }[], spec: ModelSpec, input: InputShape, batch: number, chunks: Batch[] | undefined, train: Dataset, runtime: RuntimeOptions) {
  const params = trainable.some((p) => p.scaleInvariant) ? 'si' : 'all';
  const batches = chunks ?? [...fullBatches(subsetOf(train, batch, c.dataSeed + 3), { chunkSize: batch })];
  const curvature = await Curvature.create({ spec, input, batch, params, runtime });
  return {
    curvature,
    params,
    measure: (state: TensorMap, step: number) => curvature.sharpness(state, batches, { seed: [c.seed, step] }),
  } as const;
}

/**
 * A log that the run had written to by its checkpoint at `step` but is not there now restarts
 * after that step, its earlier records lost: that is said, not done silently.
 */
function warnOfMissingLogs(c: TrainConfig, files: RunFiles, step: number): void {
  const logs: [string, boolean, (w: ReturnType<typeof writesAt>) => boolean][] = [
    [files.metrics, true, (w) => w.step || w.evaluation],
    [files.predictions, c.recordPredictions, (w) => w.evaluation],
    [files.channels, c.channelEvery > 0, (w) => w.channels],
    [files.sharpness, c.sharpnessEvery > 0, (w) => w.sharpness],
  ];
  for (const [file, written, writesTo] of logs) {
    if (!written || fs.existsSync(file)) continue;
    let wrote = false;
    for (let s = 1; s <= step && !wrote; s++) wrote = writesTo(writesAt(c, s));
    if (wrote) console.warn(`warning: ${file} is missing: the records of steps 1 to ${step} are lost, and it starts again after the checkpoint at step ${step}`);
  }
}

/** The line an evaluation prints: `step 500 (epoch 1.07): test loss 0.4321 acc 85.20%  train loss … acc …`. */
function evalLine(r: EvalRecord): string {
  const part = (what: string, loss: number, acc: number) => `${what} loss ${loss.toFixed(4)} acc ${(100 * acc).toFixed(2)}%`;
  const train = r.train_loss !== undefined && r.train_acc !== undefined ? `  ${part('train', r.train_loss, r.train_acc)}` : '';
  return `step ${r.step} (epoch ${r.epoch.toFixed(2)}): ${part('test', r.test_loss, r.test_acc)}${train}`;
}
