/**
 * `ilr hessian CHECKPOINT`: the sharpness of a run's checkpoint — λ_max of the training loss's
 * Hessian, η·λ_max against the stability limit 2, the spherical sharpness |w|²·λ_max and
 * (optionally) the trace — on a fixed batch or the whole training subset, as the run trains.
 */
import * as path from 'path';
import { CommandModule } from 'yargs';
import { batchesPerEpoch, fullBatches, subsetOf } from '../data';
import { InputShape, modelLayout } from '../nn/model';
import { runConfigOf } from '../analysis/swa';
import { stepLr } from '../programs/optimizers';
import { loadCheckpoint } from '../train/checkpoint';
import { optimizerOf } from '../train/config';
import { Curvature, ParamSelection } from '../train/hessian';
import { scheduleAt } from '../train/schedule';
import { loadRunData, runSpec } from '../train/trainer';
import { commonOptions, parseEp } from './options';

interface Args {
  checkpoint: string;
  batch?: number;
  full: boolean;
  params: string;
  trace: number;
  tol: number;
  seed: number;
  json: boolean;
  ep: string;
  threads: number;
}

/** `--params`: si (the scale-invariant weights), all (every trainable tensor), or a regular expression on names. */
export function parseParamSelection(text: string): ParamSelection {
  if (text === 'si' || text === 'all') return text;
  try {
    return new RegExp(text);
  } catch {
    throw new Error(`--params "${text}": expected si, all or a regular expression on parameter names (e.g. "conv")`);
  }
}

export const hessianCommand: CommandModule<object, Args> = {
  command: 'hessian <checkpoint>',
  describe: "the sharpness of a checkpoint: λ_max of the loss's Hessian, η·λ_max against 2, |w|²·λ_max, the trace",
  builder: (y) =>
    y
      .positional('checkpoint', { type: 'string', demandOption: true, describe: "a checkpoint in a run directory (<run>/checkpoints/*.safetensors); the run's config.json gives the data and the LR" })
      .option('batch', { type: 'number', describe: "one fixed batch of this many training images, class-balanced and chosen by --seed (default: the run's batch size)" })
      .option('full', { type: 'boolean', default: false, describe: "the whole training subset in the run's chunks (BatchNorm statistics per chunk), as full-batch GD sees it" })
      .option('params', { type: 'string', default: 'si', describe: 'the Hessian block measured: si (scale-invariant weights), all, or a regular expression on parameter names' })
      .option('trace', { type: 'number', default: 0, describe: "Hutchinson's trace with this many Rademacher vectors (0: none)" })
      .option('tol', { type: 'number', default: 1e-3, describe: 'Lanczos stops when |Hv − λv| / λ is below this' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the batch, the Lanczos start and the trace vectors' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
      .option('ep', commonOptions.ep)
      .option('threads', commonOptions.threads)
      .conflicts('batch', 'full'),
  handler: async (a) => {
    const run = runConfigOf(a.checkpoint);
    if (!run) throw new Error(`${a.checkpoint}: no config.json two folders up; ilr hessian measures a checkpoint inside a run directory (<run>/checkpoints/…)`);
    if (a.batch !== undefined && (!Number.isInteger(a.batch) || a.batch < 2)) throw new Error(`--batch must be a whole number ≥ 2 (BatchNorm needs two images), got ${a.batch}`);
    if (!(a.tol > 0)) throw new Error(`--tol must be positive, got ${a.tol}`);
    const params = parseParamSelection(a.params);
    const data = await loadRunData(run);
    const input = data.train.shape as InputShape;
    const spec = runSpec(run, data.train);
    const { state, position } = loadCheckpoint(a.checkpoint, { spec, layout: modelLayout(spec, input) });
    const fullBatch = a.full || run.batchSize === 0;
    const size = fullBatch ? Math.min(run.chunkSize, data.train.count) : Math.min(a.batch ?? run.batchSize, data.train.count);
    const images = fullBatch ? data.train : subsetOf(data.train, size, a.seed);
    const batches = [...fullBatches(images, { chunkSize: size, last: 'keep' })];
    const stepsPerEpoch = run.batchSize === 0 ? 1 : batchesPerEpoch(data.train.count, run.batchSize);
    // The LR the optimizer steps take (η/L under SVAG), as train --sharpness-every records it.
    const lr = stepLr(optimizerOf(run), scheduleAt(run.schedule, { lr: run.lr, wd: run.wd }, position.step, stepsPerEpoch).lr);

    const started = Date.now();
    const curvature = await Curvature.create({ spec, input, batch: size, params, runtime: { ep: parseEp(a.ep), threads: a.threads } });
    try {
      const s = await curvature.sharpness(state, batches, { tol: a.tol, seed: a.seed, traceSamples: a.trace });
      const result = {
        checkpoint: path.resolve(a.checkpoint), step: position.step, params: curvature.params.map((p) => p.name),
        images: batches.reduce((n, b) => n + b.y.length, 0), chunks: batches.length, lr,
        lambda_max: s.lambdaMax, lr_lambda_max: lr * s.lambdaMax, weight_norm: s.weightNorm, spherical_sharpness: s.spherical,
        ...(s.trace ? { trace: s.trace.value, trace_stderr: s.trace.stderr, trace_samples: s.trace.samples } : {}),
        lanczos: { iterations: s.iterations, residual: s.residual, converged: s.converged }, seconds: (Date.now() - started) / 1000,
      };
      if (a.json) {
        console.log(JSON.stringify(result));
        return;
      }
      const where = fullBatch ? `the training subset (${result.images} images in ${result.chunks} chunks of ${size})` : `a fixed batch of ${size} training images (seed ${a.seed})`;
      console.log(`${path.basename(a.checkpoint)} at step ${position.step}, on ${where}, over ${curvature.params.length} tensors (${a.params}):`);
      console.log(`  λ_max              ${s.lambdaMax.toPrecision(5)}${s.converged ? '' : `  (Lanczos not converged: residual ${s.residual.toExponential(1)} after ${s.iterations} products)`}`);
      console.log(`  η·λ_max            ${(lr * s.lambdaMax).toPrecision(4)}  (η = ${lr}; GD is unstable along the top direction above 2)`);
      console.log(`  |w|                ${s.weightNorm.toPrecision(5)}`);
      console.log(`  |w|²·λ_max         ${s.spherical.toPrecision(5)}  (the spherical sharpness)`);
      if (s.trace) console.log(`  trace              ${s.trace.value.toPrecision(5)} ± ${s.trace.stderr.toPrecision(2)}  (Hutchinson, ${s.trace.samples} vectors)`);
      console.log(`  ${s.iterations + (s.trace?.samples ?? 0)} Hessian-vector products in ${result.seconds.toFixed(1)} s`);
    } finally {
      await curvature.release();
    }
  },
};
