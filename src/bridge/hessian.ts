/**
 * The Hessian measurements against PyTorch: our exact Hessian-vector products (float32 programs,
 * src/train/hessian.ts) and PyTorch's double backward in float64 on the twin, at the same weights,
 * batch and directions; optionally our Lanczos λ_max against the eigenvalues of the whole block,
 * built by PyTorch one product per row (small nets only).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TensorMap } from '../graph/tensors';
import { writeSafetensors } from '../io/safetensors';
import { initialState } from '../nn/init';
import { InputShape, modelLayout, modelMetadata } from '../nn/model';
import { ModelOverrides, modelSpec } from '../nn/spec';
import { randomBatch } from '../runtime/sample';
import { Curvature, ParamSelection } from '../train/hessian';
import { Rng } from '../util/rng';
import { ParityReport } from './parity';
import { runBridge } from './python';

export interface HessianParityOptions {
  model: string;
  overrides?: ModelOverrides;
  input?: InputShape;
  batch?: number;
  seed?: number;
  params?: ParamSelection;
  /** Random directions compared (Gaussian). */
  directions?: number;
  /** Also λ_max against the whole block's eigenvalues. */
  eigen?: boolean;
  tol?: number;
  /** Keep the comparison file here instead of a temp dir, to rerun by hand. */
  keep?: string;
}

export interface HessianParityReport extends ParityReport {
  lambda_max_ref?: number;
  lambda_second_ref?: number;
  size: number;
  /** Our λ_max and Lanczos iterations, when eigen was asked for. */
  ours_lambda_max?: number;
  ours_iterations?: number;
}

export async function runHessianParity(o: HessianParityOptions): Promise<HessianParityReport> {
  const input = o.input ?? [3, 16, 16];
  const batch = o.batch ?? 8;
  const spec = modelSpec(o.model, { inChannels: input[0], ...o.overrides });
  const rng = new Rng([o.seed ?? 0, 'hessian-parity']);
  const layout = modelLayout(spec, input);
  const state = initialState(layout, rng.fork('init'));
  const data = randomBatch(rng.fork('data'), batch, input, spec.numClasses);
  const batches = [{ x: data.input, y: data.target }];
  const curvature = await Curvature.create({ spec, input, batch, params: o.params ?? 'all', runtime: { threads: 1 } });

  const file: TensorMap = new Map(state);
  file.set('input', { dtype: 'float32', shape: [batch, ...input], data: data.input });
  file.set('target', { dtype: 'int64', shape: [batch], data: data.target });
  const put = (prefix: string, flat: Float64Array) => {
    for (const [name, t] of curvature.tensors(flat)) file.set(`${prefix}.${name}`, t);
  };
  let top: Awaited<ReturnType<Curvature['topEigen']>> | undefined;
  try {
    const directions = rng.fork('directions');
    for (let k = 0; k < (o.directions ?? 2); k++) {
      // Rounded to float32 here, so both sides take the same direction.
      const v = Float64Array.from(Float32Array.from({ length: curvature.size }, () => directions.normal()));
      put(`v.${k}`, v);
      put(`ours.hv.${k}`, await curvature.hvp(state, batches, v));
    }
    if (o.eigen) {
      top = await curvature.topEigen(state, batches, { tol: 1e-6, maxIterations: 200, seed: o.seed });
      file.set('ours.lambda_max', { dtype: 'float32', shape: [], data: Float32Array.of(top.value) });
    }
  } finally {
    await curvature.release();
  }
  const dir = o.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-hessian-'));
  const target = path.join(dir, `hessian-${o.model}.safetensors`);
  writeSafetensors(target, file, modelMetadata(layout));
  try {
    const args = ['hessian', '--file', target, '--tol', String(o.tol ?? 1e-3), ...(o.eigen ? ['--eigen'] : [])];
    const { result } = runBridge<HessianParityReport>(args);
    return { ...result, ...(top ? { ours_lambda_max: top.value, ours_iterations: top.iterations } : {}) };
  } finally {
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
