/**
 * The ExpLR equivalence (claim 8 in docs/science.md; Li and Arora 2020). On a fully scale-invariant net,
 * run A (SGD, WD λ, constant LR η) and run B (no WD, LR η·α^(−2t−1), momentum buffer from
 * v₀ = −(1 − α)/(αη)·w₀) satisfy w^B_t = α^(−t)·w^A_t, so they compute the same function.
 *
 * SGD is chaotic: rounding differences grow exponentially (docs/science.md, Calibration), so "the same
 * function" is measured against a rounding baseline, not a fixed tolerance. For each momentum
 * β, in lockstep on the same batches, from the same initialisation:
 *   A   WD λ, LR η (the reference);
 *   B   the ExpLR run;
 *   A'₁…A'ₖ  A from initialisations whose every trained weight is moved by one float32 ulp, up
 *       or down at random (k independent draws): the rounding baseline. One draw is not enough:
 *       the per-step expansion of chaotic SGD fluctuates by 10–100×, and two 1-ulp
 *       perturbations measured 20× apart after two steps; (b) is the geometric mean of the k;
 *   C   no WD, LR η: a control that is not equivalent;
 *   B0  (with momentum) B with its buffer starting at zero instead of v₀: the exact form matters.
 * After every step the train-mode logits (BatchNorm with batch statistics: the theorem is about
 * that function; running statistics are no part of it) on a fixed evaluation batch are compared
 * with A's: divergence = |z_X − z_A| / |z_A|.
 *
 * BatchNorm's ε breaks exact scale invariance (the normalisation is x/√(var + ε)), so the model
 * uses ε = 1e-12: in float32, var + ε rounds to var whenever ε < 2^−24·var, and the run measures
 * the smallest batch variance of any BN channel to show that it does.
 *
 * The runs step in lockstep through the step engine (a per-step LR, a non-zero initial momentum
 * buffer and exactly shared batches), so the figure plans no trainer runs.
 */
import * as path from 'path';
import { explrAlpha, explrBufferFactor, explrLr, explrNormRatio } from '../analysis/explr';
import { batchAt, batchesPerEpoch, DatasetName, fullBatches, loadSubset } from '../data';
import { TensorMap } from '../graph/tensors';
import { initialState } from '../nn/init';
import { InputShape } from '../nn/model';
import { modelSpec } from '../nn/spec';
import { FigureSpec, writeChart } from '../plot/chart';
import type { Verdict } from '../plot/report';
import { BnStatistics } from '../train/bn-stats';
import { EngineState, RuntimeOptions, StepEngine } from '../train/engine';
import { Evaluator } from '../train/evaluate';
import { ProgressBar } from '../util/progress';
import { Rng } from '../util/rng';
import { fmt } from '../util/format';
import { cachedResult } from './cached';
import { Context, Experiment, Scale, verdict } from './frame';

export interface ExplrPreset {
  model: string;
  dataset: DatasetName;
  trainSubset: number;
  batchSize: number;
  /** Images of the fixed evaluation batch (test split). */
  evalBatch: number;
  lr: number;
  wd: number;
  /** One set of runs per momentum β. */
  momenta: number[];
  /** Independent 1-ulp perturbations making up the rounding baseline (b). */
  baselines: number;
  steps: number;
  bnEps: number;
  /** (a) at most `factor`× above (b) while (b) < baselineEnd. */
  factor: number;
  baselineEnd: number;
  /**
   * (c) at least `factor`× above (b) while (b) < controlEnd. Beyond that the chaos has amplified
   * the control's own difference too, and every pair of runs saturates at the same few 1e-2 (the
   * spread of SGD on shared batches), so no ratio of 10 can persist up to baselineEnd.
   */
  controlEnd: number;
  /** The norm ratio is checked while (b) < normWindow, to a relative error `normTol` of its exponent. */
  normWindow: number;
  normTol: number;
}

/** The measured curves of one momentum β; index i is after step steps[i]. */
export interface ExplrCurves {
  momentum: number;
  alpha: number;
  steps: number[];
  /** (a) ExpLR pair, (b) rounding baseline, (c) non-equivalent control; relative L2 distance of logits to A's. */
  explr: number[];
  /** The geometric mean of baselineRuns. */
  baseline: number[];
  /** Each perturbed run's divergence: [run][step index]. */
  baselineRuns?: number[][];
  control: number[];
  /** With momentum: B with a zero initial buffer. */
  zeroBuffer?: number[];
  /** |w| of the trained weights of A and B. */
  normA: number[];
  normB: number[];
}

export interface ExplrTrace {
  preset: ExplrPreset;
  variants: ExplrCurves[];
  /** Smallest per-channel batch variance before any BatchNorm, over the evaluation batch: A at the start and end, B at the end. */
  minBnVar: number;
  seconds: number;
}

/** The lockstep runs' curves, for the preset that made them. */
const traceOf = (p: ExplrPreset, dir: string) => cachedResult<ExplrTrace>(path.join(dir, 'trace.json'), p);

/** Relative L2 distance |x − ref| / |ref|, in float64. */
export function relativeDistance(ref: ArrayLike<number>, x: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    d += (x[i] - ref[i]) ** 2;
    n += ref[i] ** 2;
  }
  return Math.sqrt(d / n);
}

/** Moves every entry one float32 ulp up or down in magnitude at random (zeros stay): a perturbation of rounding size. */
export function ulpPerturb(x: Float32Array, rng: Rng): Float32Array {
  const out = Float32Array.from(x);
  const bits = new Int32Array(out.buffer);
  for (let i = 0; i < out.length; i++) if (out[i] !== 0 && Number.isFinite(out[i])) bits[i] += rng.uniform() < 0.5 ? -1 : 1;
  return out;
}

const label = (momentum: number) => `β = ${momentum}`;

export const geometricMean = (xs: readonly number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

/** The logged steps before the baseline first reaches `end` (all of them if it never does). */
export function baselineWindow(baseline: readonly number[], end: number): number {
  const i = baseline.findIndex((b) => !(b < end));
  return i < 0 ? baseline.length : i;
}

/** The verdicts of one momentum β (pure: unit-tested on synthetic curves). */
export function checkCurves(c: ExplrCurves, p: Pick<ExplrPreset, 'factor' | 'baselineEnd' | 'controlEnd' | 'normWindow' | 'normTol'>): Verdict[] {
  const id = 'explr';
  const out: Verdict[] = [];
  const n = baselineWindow(c.baseline, p.baselineEnd);
  const span = (k: number) => (k > 0 ? `steps ${c.steps[0]}–${c.steps[k - 1]}` : 'no step');
  const ratios = (xs: readonly number[], k: number) => xs.slice(0, k).map((x, i) => x / c.baseline[i]);
  const range = (r: number[]) => (r.length ? `${fmt(Math.min(...r))} … ${fmt(Math.max(...r))}` : 'none');

  const ra = ratios(c.explr, n);
  // One-sided: (a) below (b) means the pair agrees better than the rounding baseline, which the
  // theorem allows (the baseline starts with every weight off by an ulp, the pair from equal weights).
  out.push(verdict(id, `${label(c.momentum)}: ExpLR pair (a) within ${p.factor}× of the rounding baseline (b) until (b) passes ${p.baselineEnd}`,
    n > 0 && ra.every((r) => r <= p.factor),
    `(a)/(b) = ${range(ra)} over ${span(n)}`, `≤ ${p.factor} at every logged step`));

  const nc = baselineWindow(c.baseline, p.controlEnd);
  const rc = ratios(c.control, nc);
  out.push(verdict(id, `${label(c.momentum)}: control (c) at least ${p.factor}× above (b) from the first step while (b) < ${p.controlEnd}`,
    nc > 0 && rc.every((r) => r >= p.factor),
    `(c)/(b) = ${range(rc)} over ${span(nc)}`, `≥ ${p.factor} at every logged step`));

  const m = baselineWindow(c.baseline, p.normWindow);
  const errs = c.steps.slice(0, m).map((t, i) => {
    const predicted = Math.log(explrNormRatio(c.alpha, t));
    return Math.abs(Math.log(c.normB[i] / c.normA[i]) - predicted) / Math.abs(predicted);
  });
  const worst = errs.length ? Math.max(...errs) : NaN;
  const last = m > 0 ? m - 1 : 0;
  out.push(verdict(id, `${label(c.momentum)}: weight-norm ratio |w_B|/|w_A| follows α^(−t) while (b) < ${p.normWindow}`,
    m > 0 && worst <= p.normTol,
    `largest error of ln(ratio) ${fmt(worst * 100)}% over ${span(m)}; at step ${c.steps[last]}: ${fmt(c.normB[last] / c.normA[last])} vs α^(−t) = ${fmt(explrNormRatio(c.alpha, c.steps[last]))}`,
    `≤ ${p.normTol * 100}% of ln α^(−t) (α = ${c.alpha.toPrecision(6)})`));
  return out;
}

/** BatchNorm's ε is negligible in float32 when var + ε rounds to var: ε < 2^−24·var. */
export function checkBnEps(bnEps: number, minVar: number): Verdict {
  return verdict('explr', 'BN ε negligible against every channel\'s batch variance (float32)', bnEps < 2 ** -24 * minVar,
    `ε = ${fmt(bnEps)}, smallest batch variance ${fmt(minVar)} (ε/var = ${fmt(bnEps / minVar)})`, `ε/var < 2^−24 = ${fmt(2 ** -24)}`);
}

export function checkExplr(t: ExplrTrace): Verdict[] {
  return [...t.variants.flatMap((c) => checkCurves(c, t.preset)), checkBnEps(t.preset.bnEps, t.minBnVar)];
}

interface Runner {
  state: EngineState;
  wd: Float32Array;
  lr: (t: number) => number;
}

async function simulate(p: ExplrPreset, ctx: Context): Promise<ExplrTrace> {
  const started = Date.now();
  const seed = ctx.seed;
  const train = await loadSubset({ dataset: p.dataset, split: 'train', size: p.trainSubset, seed }, { dataDir: ctx.dataDir });
  const test = await loadSubset({ dataset: p.dataset, split: 'test', size: p.evalBatch, seed }, { dataDir: ctx.dataDir });
  const evalBatch = fullBatches(test).next().value!;
  const input = train.shape as InputShape;
  const spec = modelSpec(p.model, { inChannels: input[0], numClasses: train.numClasses, bnEps: p.bnEps });
  const runtime: RuntimeOptions = { ep: ctx.ep, threads: ctx.threads };

  // Train-mode logits (BatchNorm with the batch's statistics) and batch variances on the evaluation batch.
  const logitsOf = await Evaluator.create(spec, input, evalBatch.y.length, runtime, 'train');
  const bnStats = new BnStatistics(spec, input, test.count, runtime);
  const engines = new Map<number, StepEngine>();
  for (const beta of p.momenta) engines.set(beta, await StepEngine.create({ spec, input, batch: p.batchSize, optimizer: { name: 'sgd', momentum: Math.fround(beta) }, runtime }));
  const layout = engines.get(p.momenta[0])!.layout;
  const trained = new Set(layout.params.filter((x) => x.trainable).map((x) => x.name));

  const init: TensorMap = initialState(layout, new Rng([seed, 'init']));
  const perturbed: TensorMap[] = Array.from({ length: p.baselines }, (_, j) => {
    const rng = new Rng([seed, 'explr', 'perturb', j]);
    return new Map([...init].map(([k, v]) => [k, trained.has(k) ? { ...v, data: ulpPerturb(v.data as Float32Array, rng) } : v]));
  });
  const norm = (s: TensorMap) => Math.sqrt([...trained].reduce((acc, k) => acc + (s.get(k)!.data as Float32Array).reduce((a, x) => a + x * x, 0), 0));
  const minVar = async (s: TensorMap) => {
    const { stats } = await bnStats.compute(s, test);
    return Math.min(...[...stats].filter(([k]) => k.endsWith('.running_var')).flatMap(([, v]) => [...(v.data as Float32Array)]));
  };
  let minBnVar = await minVar(init);

  const variants: ExplrCurves[] = [];
  const bar = new ProgressBar({ total: p.steps * p.momenta.length, label: 'explr', unit: ' steps', quiet: ctx.quiet });
  for (const beta of p.momenta) {
    const h = { lr: Math.fround(p.lr), wd: Math.fround(p.wd), momentum: Math.fround(beta) };
    const alpha = explrAlpha(h);
    const k = explrBufferFactor(h, alpha);
    const engine = engines.get(beta)!;
    const start = (params: TensorMap, buffer?: (w: Float32Array) => Float32Array): EngineState => {
      const state = engine.withZeroSlots(params);
      if (buffer) for (const { key, param } of engine.slots) state.set(key, { ...state.get(key)!, data: buffer(params.get(param.name)!.data as Float32Array) });
      return engine.upload(state);
    };
    const wdOf = (wd: number) => new Float32Array(engine.trainable.length).fill(wd);
    const constant = () => p.lr;
    const explrSchedule = (t: number) => explrLr(h, t, alpha);
    const runs: Record<string, Runner> = {
      A: { state: start(init), wd: wdOf(p.wd), lr: constant },
      B: { state: start(init, (w) => Float32Array.from(w, (x) => k * x)), wd: wdOf(0), lr: explrSchedule },
      ...Object.fromEntries(perturbed.map((s, j) => [`baseline${j}`, { state: start(s), wd: wdOf(p.wd), lr: constant }])),
      control: { state: start(init), wd: wdOf(0), lr: constant },
      ...(beta > 0 ? { zeroBuffer: { state: start(init), wd: wdOf(0), lr: explrSchedule } } : {}),
    };
    const c: ExplrCurves = {
      momentum: beta, alpha, steps: [], explr: [], baseline: [], baselineRuns: perturbed.map(() => []), control: [], normA: [], normB: [], ...(beta > 0 ? { zeroBuffer: [] } : {}),
    };
    const batchOpts = { batchSize: p.batchSize, seed, augment: false };
    const perEpoch = batchesPerEpoch(train.count, p.batchSize);
    for (let t = 0; t < p.steps; t++) {
      const b = batchAt(train, batchOpts, Math.floor(t / perEpoch), t % perEpoch);
      const z: Record<string, Float32Array> = {};
      const params: Record<string, TensorMap> = {};
      for (const [name, r] of Object.entries(runs)) {
        r.state = (await engine.step(r.state, [b], { lr: r.lr(t), wd: r.wd })).state;
        params[name] = await engine.download(r.state);
        z[name] = await logitsOf.logits(params[name], evalBatch);
      }
      c.steps.push(t + 1);
      c.explr.push(relativeDistance(z.A, z.B));
      const bs = perturbed.map((_, j) => relativeDistance(z.A, z[`baseline${j}`]));
      bs.forEach((d, j) => c.baselineRuns![j].push(d));
      c.baseline.push(geometricMean(bs));
      c.control.push(relativeDistance(z.A, z.control));
      c.zeroBuffer?.push(relativeDistance(z.A, z.zeroBuffer));
      c.normA.push(norm(params.A));
      c.normB.push(norm(params.B));
      bar.tick(1, `${label(beta)}  (a) ${fmt(c.explr[t])}  (b) ${fmt(c.baseline[t])}  (c) ${fmt(c.control[t])}`);
    }
    minBnVar = Math.min(minBnVar, await minVar(await engine.download(runs.A.state)), await minVar(await engine.download(runs.B.state)));
    variants.push(c);
  }
  bar.done();
  for (const engine of engines.values()) await engine.release();
  await logitsOf.release();
  await bnStats.release();
  return { preset: p, variants, minBnVar, seconds: (Date.now() - started) / 1000 };
}

const PRESETS: Record<Scale, ExplrPreset> = {
  smoke: {
    model: 'cnn4-si', dataset: 'fashion-mnist', trainSubset: 1000, batchSize: 32, evalBatch: 64,
    lr: 0.1, wd: 0.02, momenta: [0, 0.9], baselines: 2, steps: 4, bnEps: 1e-12,
    factor: 10, baselineEnd: 1e-2, controlEnd: 1e-3, normWindow: 1e-3, normTol: 0.01,
  },
  // λη = 2e-3, below (1 − √β)² = 2.6e-3 for β = 0.9. The control's distance from A grows with
  // λη while the rounding baseline's does not: at λη = 1e-3 the β = 0.9 control was only
  // 7.4–9.8× above (b) over steps 3–6, as float32 rounding reaches 2e-4 by step 3. SGD's chaos
  // is fast at this scale (rounding reaches 1e-2 within 6–30 steps), so 40 steps show the
  // whole story: the pair tracking the baseline, then all runs saturating at a few 1e-2.
  cpu: {
    model: 'cnn4-si', dataset: 'fashion-mnist', trainSubset: 10000, batchSize: 128, evalBatch: 256,
    lr: 0.1, wd: 0.02, momenta: [0, 0.9], baselines: 3, steps: 40, bnEps: 1e-12,
    factor: 10, baselineEnd: 1e-2, controlEnd: 1e-3, normWindow: 1e-3, normTol: 0.01,
  },
  paper: {
    model: 'preresnet32-si', dataset: 'cifar10', trainSubset: 50000, batchSize: 128, evalBatch: 500,
    lr: 0.1, wd: 5e-4, momenta: [0, 0.9], baselines: 5, steps: 300, bnEps: 1e-12,
    factor: 10, baselineEnd: 1e-2, controlEnd: 1e-3, normWindow: 1e-3, normTol: 0.01,
  },
};

/** The figure: per momentum, the logit divergences, the weight norms and their ratio. */
export function explrChart(p: ExplrPreset, t: ExplrTrace): FigureSpec {
  const floor = (xs: number[]) => xs.map((x) => Math.max(x, 1e-12));
  const panels = t.variants.flatMap((c) => {
    const b = `(b) WD, init ± 1 ulp (geo. mean of ${c.baselineRuns?.length ?? 1}; band: range)`;
    const runs = c.baselineRuns ?? [c.baseline];
    return [
      {
        title: `logit divergence from A, ${label(c.momentum)}`, xLabel: 'step', yLabel: '|z − z_A| / |z_A| (log)', logY: true,
        series: [
          { name: '(a) ExpLR, no WD', x: c.steps, y: floor(c.explr) },
          { name: b, x: c.steps, y: floor(c.baseline) },
          { name: '(c) no WD, const LR', x: c.steps, y: floor(c.control) },
          ...(c.zeroBuffer ? [{ name: 'ExpLR with v₀ = 0', x: c.steps, y: floor(c.zeroBuffer) }] : []),
        ],
        // Named like the (b) series: drawn in its colour, no legend entry of its own.
        bands: [{ name: b, x: c.steps, lo: floor(c.steps.map((_, i) => Math.min(...runs.map((r) => r[i])))), hi: floor(c.steps.map((_, i) => Math.max(...runs.map((r) => r[i])))) }],
        vlines: baselineWindow(c.baseline, p.baselineEnd) < c.steps.length ? [{ x: c.steps[baselineWindow(c.baseline, p.baselineEnd)], label: `(b) ≥ ${p.baselineEnd}` }] : [],
      },
      {
        title: `weight norms, ${label(c.momentum)}`, xLabel: 'step', yLabel: '|w| (trained weights)',
        series: [
          { name: 'A: WD λ, LR η', x: c.steps, y: c.normA },
          { name: 'B: ExpLR, no WD', x: c.steps, y: c.normB },
        ],
      },
      {
        title: `norm ratio, ${label(c.momentum)}`, xLabel: 'step', yLabel: '|w_B| / |w_A|',
        series: [
          { name: 'measured', x: c.steps, y: c.steps.map((_, i) => c.normB[i] / c.normA[i]) },
          { name: `α^(−t), α = ${c.alpha.toPrecision(6)}`, x: c.steps, y: c.steps.map((st) => explrNormRatio(c.alpha, st)), dashed: true, color: '#000000' },
        ],
      },
    ];
  });
  return { title: `ExpLR equivalence on ${p.model}, η = ${p.lr}, λ = ${p.wd}`, panels, columns: 3 };
}

export const explr: Experiment<ExplrPreset> = {
  id: 'explr',
  title: 'ExpLR: weight decay + constant LR = exponentially growing LR without weight decay',
  claim: 'On a scale-invariant net, SGD with WD λ and constant LR η computes the same function as SGD without WD with LR η·α^(−2t−1) (and, with momentum, an initial buffer −(1−α)/(αη)·w₀), its weights being α^(−t) times larger (claim 8 in docs/science.md). Measured against the chaos of SGD: the pair may diverge no faster than two runs whose initialisations differ by float32 rounding.',
  optimizerRefusal: 'the equivalence is an identity of SGD with heavy-ball momentum (its LR schedule and initial buffer are derived from that update); its lockstep runs step SGD through the engine, not as trainer runs',
  preset: (scale, ctx) => ({ ...PRESETS[scale], ...(ctx.dataset ? { dataset: ctx.dataset } : {}) }),
  settings: (p) => ({
    model: `${p.model} (BN ε = ${p.bnEps})`,
    data: `${p.dataset}, ${p.trainSubset} training images, batch ${p.batchSize}; evaluation batch of ${p.evalBatch} test images, train-mode BN`,
    'η': p.lr,
    'λ': p.wd,
    'λη': p.lr * p.wd,
    'β': p.momenta.join(', '),
    'α': p.momenta.map((b) => `${explrAlpha({ lr: p.lr, wd: p.wd, momentum: b }).toPrecision(6)} (β = ${b})`).join(', '),
    steps: `${p.steps} per run; ${p.momenta.map((b) => (b > 0 ? 4 : 3) + p.baselines).join(' + ')} runs in lockstep`,
    'rounding baseline': `${p.baselines} runs, every trained weight moved one float32 ulp up or down at random; (b) = geometric mean of their divergences`,
  }),
  plan: () => [],
  run: (p, ctx) => traceOf(p, ctx.dir).ensure(() => simulate(p, ctx)),
  async plot(p, ctx) {
    const files = await writeChart(explrChart(p, traceOf(p, ctx.dir).read()), path.join(ctx.dir, 'explr'));
    return [files.png];
  },
  check: (p, ctx) => checkExplr(traceOf(p, ctx.dir).read()),
  notes(p, ctx) {
    const t = traceOf(p, ctx.dir).read();
    return t.variants.flatMap((c) => {
      const at = (xs: number[], s: number) => fmt(xs[Math.min(s, xs.length) - 1]);
      const marks = [1, 10, 30, 100].filter((s) => s <= c.steps.length);
      const row = (name: string, xs: number[]) => `${name} ${marks.map((s) => at(xs, s)).join(' / ')}`;
      const head = `${label(c.momentum)}, α = ${c.alpha.toPrecision(6)}: logit divergence after steps ${marks.join(' / ')}: ` +
        [row('(a)', c.explr), row('(b)', c.baseline), row('(c)', c.control), ...(c.zeroBuffer ? [row('ExpLR with v₀ = 0', c.zeroBuffer)] : [])].join('; ') + '.';
      const n = baselineWindow(c.baseline, p.baselineEnd);
      const rc = c.control.slice(0, n).map((x, i) => x / c.baseline[i]);
      const end = c.steps.length - 1;
      const endErr = Math.abs(Math.log(c.normB[end] / c.normA[end]) / Math.log(explrNormRatio(c.alpha, c.steps[end])) - 1);
      return [
        head,
        `${label(c.momentum)}: until (b) passes ${p.baselineEnd} (steps ${c.steps[0]}–${c.steps[Math.max(n - 1, 0)]}), (c)/(b) ranges ${rc.length ? `${fmt(Math.min(...rc))} … ${fmt(Math.max(...rc))}` : '–'}; ` +
          `once chaos has amplified rounding to the saturation level, all runs differ by a few 1e-2. ` +
          `At the last step the norm ratio is ${fmt(c.normB[end] / c.normA[end])} vs α^(−t) = ${fmt(explrNormRatio(c.alpha, c.steps[end]))} (error of the exponent ${fmt(endErr * 100)}%, the runs no longer computing the same function).`,
      ];
    });
  },
};
