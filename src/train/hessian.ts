/**
 * The Hessian of the training loss, measured: exact Hessian-vector products, the largest
 * eigenvalue (Lanczos) and the trace (Hutchinson), on a fixed batch or on the whole training set
 * in chunks, with BatchNorm in train mode as the training loss sees it (each chunk with its own
 * statistics, as in full-batch training), accumulated in float64.
 *
 * The products come from the hessianVector program (programs.ts), which differentiates the
 * backward pass once more. Central differences of the gradient, (∇L(w+εv) − ∇L(w−εv))/2ε, are
 * not used: on a ReLU net they pick up every activation that changes sign between the two
 * points, and the product they give grows as ε shrinks instead of converging
 * (docs/science.md, Hessian).
 *
 * The measured space is a subset S of the trainable tensors (all of them, the scale-invariant
 * ones, or those matching a pattern): v lives on S and only S's part of Hv is kept, so the
 * quantities are those of the Hessian block H_SS.
 */
import type { StepBatch } from './engine';
import type { TensorMap } from '../graph/tensors';
import { InputShape, modelLayout, ParamInfo } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { hessianVectorGraph } from '../programs/programs';
import { Feeds, Program, RuntimeOptions } from '../runtime/session';
import { StepLines } from '../io/step-lines';
import { Rng, Seed, SeedPart } from '../util/rng';
import * as fs from 'fs';

/** Which trainable tensors the Hessian is measured over. */
export type ParamSelection = 'all' | 'si' | RegExp;

export interface CurvatureOptions {
  spec: ModelSpec;
  input: InputShape;
  /** Images per program run: the fixed batch's size, or the chunk size over the whole set. */
  batch: number;
  runtime: RuntimeOptions;
  params?: ParamSelection;
}

/** The parameters a selection keeps, refusing an empty one (it names the choices). */
export function selectParams(trainable: readonly ParamInfo[], sel: ParamSelection): ParamInfo[] {
  const kept = trainable.filter((p) => (sel === 'all' ? true : sel === 'si' ? p.scaleInvariant : sel.test(p.name)));
  if (kept.length === 0) {
    const what = sel === 'si' ? 'no trainable tensor is scale-invariant' : `no trainable tensor matches ${sel}`;
    throw new Error(`--params: ${what}; the trainable tensors are ${trainable.map((p) => p.name).join(', ')}`);
  }
  return kept;
}

const seedParts = (seed: Seed = 0): SeedPart[] => (Array.isArray(seed) ? [...seed] : [seed as SeedPart]);

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const norm = (a: Float64Array): number => Math.sqrt(dot(a, a));
const scaled = (a: Float64Array, c: number): Float64Array => a.map((x) => x * c);

/** r ← r − ⟨r, b⟩ b for a unit vector b. */
function subtractProjection(r: Float64Array, b: Float64Array): void {
  const c = dot(r, b);
  for (let i = 0; i < r.length; i++) r[i] -= c * b[i];
}

/**
 * The largest eigenvalue of the symmetric tridiagonal matrix with diagonal `alpha` and
 * off-diagonal `beta`, and its unit eigenvector. The value by bisection on Sturm counts (how many
 * eigenvalues lie below x, from the signs of the LDLᵀ pivots of T − x), the vector by inverse
 * iteration just above it, where T − σ is negative definite and the tridiagonal solve is stable.
 * Both are O(n) per step, so a Lanczos run can afford them at every iteration.
 */
export function topOfTridiagonal(alpha: readonly number[], beta: readonly number[]): { value: number; coefficients: number[] } {
  const n = alpha.length;
  const off = (i: number) => (i >= 0 && i < n - 1 ? Math.abs(beta[i]) : 0);
  let lo = Math.min(...alpha.map((a, i) => a - off(i - 1) - off(i)));
  let hi = Math.max(...alpha.map((a, i) => a + off(i - 1) + off(i)));
  const scale = Math.max(Math.abs(lo), Math.abs(hi), Number.MIN_VALUE);
  const below = (x: number): number => {
    let count = 0;
    let d = 1;
    for (let i = 0; i < n; i++) {
      d = alpha[i] - x - (i > 0 ? (beta[i - 1] * beta[i - 1]) / d : 0);
      if (d === 0) d = -Number.EPSILON * scale;
      if (d < 0) count++;
    }
    return count;
  };
  while (hi - lo > 4 * Number.EPSILON * scale) {
    const mid = (lo + hi) / 2;
    if (mid <= lo || mid >= hi) break;
    if (below(mid) === n) hi = mid;
    else lo = mid;
  }
  const value = (lo + hi) / 2;
  // (T − σ) s = b by the Thomas algorithm, twice, from b = 1.
  const sigma = hi + 4 * Number.EPSILON * scale;
  let s = new Array<number>(n).fill(1);
  for (let round = 0; round < 3; round++) {
    const c = new Array<number>(n);
    const d = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const pivot = alpha[i] - sigma - (i > 0 ? (beta[i - 1] ?? 0) * c[i - 1] : 0);
      c[i] = i < n - 1 ? beta[i] / pivot : 0;
      d[i] = (s[i] - (i > 0 ? (beta[i - 1] ?? 0) * d[i - 1] : 0)) / pivot;
    }
    for (let i = n - 2; i >= 0; i--) d[i] -= c[i] * d[i + 1];
    const norm = Math.sqrt(d.reduce((a, x) => a + x * x, 0));
    s = d.map((x) => x / norm);
  }
  return { value, coefficients: s };
}

export interface Eigen {
  /** The largest eigenvalue of H_SS. */
  value: number;
  vector: Float64Array;
  iterations: number;
  /** |Hv − λv| / |λ| of the returned pair (the Lanczos residual). */
  residual: number;
  converged: boolean;
}

export interface Trace {
  /** Hutchinson's estimate: the mean of vᵀHv over Rademacher vectors v. */
  value: number;
  /** Its standard error (the samples' standard deviation / √n). */
  stderr: number;
  samples: number;
}

export interface Sharpness {
  /** The largest eigenvalue of H_SS, and how the Lanczos iteration ended. */
  lambdaMax: number;
  iterations: number;
  /** |Hv − λv| / |λ| of the returned pair. */
  residual: number;
  converged: boolean;
  /** |w_S|, the norm of the measured weights. */
  weightNorm: number;
  /**
   * |w_S|²·λ_max. For a scale-invariant S, H(c·w) = H(w)/c², so this is λ_max at the unit sphere's
   * point w/|w|: the sharpness with the norm's effect taken out.
   */
  spherical: number;
  /** Hutchinson's trace, when asked for. */
  trace?: Trace;
}

export interface SharpnessOptions {
  /** Lanczos stops at a relative residual |Hv − λv|/|λ| below this (default 1e-3). */
  tol?: number;
  maxIterations?: number;
  seed?: Seed;
  /** Rademacher vectors for the trace (0: no trace). */
  traceSamples?: number;
}

export class Curvature {
  /** The measured tensors, in the order of the flat vectors. */
  readonly params: ParamInfo[];
  /** Offset of each measured tensor in a flat vector, and the vectors' length. */
  private readonly offsets: number[];
  private readonly counts: number[];
  readonly size: number;

  private constructor(private readonly program: Program, params: ParamInfo[]) {
    this.params = params;
    this.counts = params.map((p) => p.shape.reduce((a, b) => a * b, 1));
    this.offsets = this.counts.map((_, i) => this.counts.slice(0, i).reduce((a, b) => a + b, 0));
    this.size = this.counts.reduce((a, b) => a + b, 0);
  }

  static async create(o: CurvatureOptions): Promise<Curvature> {
    const trainable = modelLayout(o.spec, o.input).params.filter((p) => p.trainable);
    const params = selectParams(trainable, o.params ?? 'all');
    const graph = hessianVectorGraph({ spec: o.spec, batch: o.batch, input: o.input }, params.map((p) => p.name));
    return new Curvature(await Program.create(graph, o.runtime), params);
  }

  /** The measured tensors of `state`, flattened in float64. */
  weights(state: TensorMap): Float64Array {
    const w = new Float64Array(this.size);
    this.params.forEach((p, i) => w.set(state.get(p.name)!.data as Float32Array, this.offsets[i]));
    return w;
  }

  /** A flat vector over the measured tensors as those tensors, by name (rounded to float32). */
  tensors(flat: Float64Array): TensorMap {
    return new Map(this.params.map((p, i) => [p.name, { dtype: 'float32', shape: p.shape, data: Float32Array.from(flat.subarray(this.offsets[i], this.offsets[i] + this.counts[i])) }]));
  }

  /** `state` with the measured tensors replaced by the flat vector `w` (rounded to float32). */
  withWeights(state: TensorMap, w: Float64Array): TensorMap {
    return new Map([...state, ...this.tensors(w)]);
  }

  /**
   * The mean loss, its gradient and H_SS·v over `batches` (weighted by their sizes, summed in
   * float64). Each batch uses its own BatchNorm statistics, as in training.
   */
  async evaluate(state: TensorMap, batches: readonly StepBatch[], v: Float64Array): Promise<{ loss: number; grad: Float64Array; hv: Float64Array }> {
    const feeds: Feeds = {};
    for (const [k, t] of state) if (!k.startsWith('optimizer.')) feeds[k] = t.data;
    for (const [name, tensor] of this.tensors(v)) feeds[`v.${name}`] = tensor.data;
    const grad = new Float64Array(this.size);
    const hv = new Float64Array(this.size);
    let loss = 0;
    let images = 0;
    for (const b of batches) {
      const out = await this.program.run({ ...feeds, input: b.x, target: b.y });
      const m = b.y.length;
      this.params.forEach((p, i) => {
        const o = this.offsets[i];
        const g = out[`grad.${p.name}`] as Float32Array;
        const h = out[`hv.${p.name}`] as Float32Array;
        for (let j = 0; j < g.length; j++) {
          grad[o + j] += g[j] * m;
          hv[o + j] += h[j] * m;
        }
      });
      loss += (out.loss[0] as number) * m;
      images += m;
    }
    for (let i = 0; i < this.size; i++) {
      grad[i] /= images;
      hv[i] /= images;
    }
    return { loss: loss / images, grad, hv };
  }

  /** H_SS·v over `batches`. The direction is fed in float32, so scale it to unit norm first if it is extreme. */
  async hvp(state: TensorMap, batches: readonly StepBatch[], v: Float64Array): Promise<Float64Array> {
    return (await this.evaluate(state, batches, v)).hv;
  }

  /**
   * The largest eigenvalue λ_max of H_SS (the sharpness) and its eigenvector, by the Lanczos
   * iteration from a seeded random start, fully reorthogonalised (each product is a pair of
   * gradient runs, so the vectors cost nothing by comparison). Power iteration would find the
   * eigenvalue of largest magnitude, which away from a minimum can be a negative one, and it
   * crawls when the top two are close; Lanczos converges to the top of the spectrum in far fewer
   * products. It stops when the Ritz residual |Hv − λv| ≤ tol·|λ|.
   */
  async topEigen(state: TensorMap, batches: readonly StepBatch[], o: { tol?: number; maxIterations?: number; seed?: Seed } = {}): Promise<Eigen> {
    const tol = o.tol ?? 1e-3;
    const max = Math.min(o.maxIterations ?? 60, this.size);
    const rng = new Rng([...seedParts(o.seed), 'hessian', 'lanczos']);
    let q: Float64Array = Float64Array.from({ length: this.size }, () => rng.normal());
    q = scaled(q, 1 / norm(q));
    const basis: Float64Array[] = [];
    const alpha: number[] = [];
    const beta: number[] = [];
    let ritz = { value: NaN, coefficients: [1] };
    let residual = Infinity;
    while (basis.length < max) {
      basis.push(q);
      const r = await this.hvp(state, batches, q);
      alpha.push(dot(q, r));
      for (const b of basis) subtractProjection(r, b);
      for (const b of basis) subtractProjection(r, b); // twice: Kahan's "twice is enough"
      const b = norm(r);
      ritz = topOfTridiagonal(alpha, beta);
      // |H y − θ y| = β_k·|s_k| for the Ritz pair (θ, y = Q s).
      residual = b * Math.abs(ritz.coefficients[ritz.coefficients.length - 1]);
      if (residual <= tol * Math.abs(ritz.value) || b === 0) break;
      beta.push(b);
      q = scaled(r, 1 / b);
    }
    const vector = new Float64Array(this.size);
    ritz.coefficients.forEach((c, i) => {
      for (let j = 0; j < vector.length; j++) vector[j] += c * basis[i][j];
    });
    return { value: ritz.value, vector, iterations: basis.length, residual: residual / Math.abs(ritz.value), converged: residual <= tol * Math.abs(ritz.value) };
  }

  /** The trace of H_SS by Hutchinson's estimator over `samples` seeded Rademacher vectors. */
  async trace(state: TensorMap, batches: readonly StepBatch[], o: { samples?: number; seed?: Seed } = {}): Promise<Trace> {
    const n = o.samples ?? 20;
    const rng = new Rng([...seedParts(o.seed), 'hessian', 'hutchinson']);
    const values: number[] = [];
    for (let k = 0; k < n; k++) {
      const v = Float64Array.from({ length: this.size }, () => (rng.uniform() < 0.5 ? -1 : 1));
      values.push(dot(v, await this.hvp(state, batches, v)));
    }
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const variance = n > 1 ? values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : NaN;
    return { value: mean, stderr: Math.sqrt(variance / n), samples: n };
  }

  /** λ_max, |w_S|, the spherical sharpness and optionally the trace, at `state` on `batches`. */
  async sharpness(state: TensorMap, batches: readonly StepBatch[], o: SharpnessOptions = {}): Promise<Sharpness> {
    const top = await this.topEigen(state, batches, o);
    const weightNorm = norm(this.weights(state));
    const trace = o.traceSamples ? await this.trace(state, batches, { samples: o.traceSamples, seed: o.seed }) : undefined;
    return { lambdaMax: top.value, iterations: top.iterations, residual: top.residual, converged: top.converged, weightNorm, spherical: weightNorm ** 2 * top.value, ...(trace ? { trace } : {}) };
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}

/**
 * sharpness.jsonl (config.sharpnessEvery): one line per measurement, at the weights step `step`
 * starts from, so it sits beside that step's loss in metrics.jsonl; `lr` is that step's LR.
 */
export interface SharpnessRecord {
  step: number;
  lr: number;
  lambda_max: number;
  /** η·λ_max: gradient descent is unstable along the top direction above 2. */
  lr_lambda_max: number;
  weight_norm: number;
  /** |w|²·λ_max. */
  spherical: number;
  iterations: number;
  residual: number;
  /** Which tensors: "si" (the scale-invariant ones) or "all". */
  params: 'si' | 'all';
}

export function sharpnessRecord(step: number, lr: number, params: 'si' | 'all', s: Sharpness): SharpnessRecord {
  return { step, lr, lambda_max: s.lambdaMax, lr_lambda_max: lr * s.lambdaMax, weight_norm: s.weightNorm, spherical: s.spherical, iterations: s.iterations, residual: s.residual, params };
}

/** The sharpness records of a run, in step order (complete lines only: the run may still be writing). */
export function readSharpness(file: string): SharpnessRecord[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: no sharpness measurements; train with --sharpness-every N to record them`);
  return new StepLines<SharpnessRecord>(file).read();
}
