/**
 * Reading equilibria and instabilities off training curves: window averages of the angular update
 * and the effective LR, the predicted equilibrium √(2ηλ/(1+β)), progress toward a new level on a
 * log scale, monotone trends after smoothing, loss spikes, and the spread of test accuracies.
 *
 * Every function takes plain arrays (a step axis and values), so the figures' checks can be fed
 * synthetic curves in tests.
 */
import { OPTIMIZERS } from '../programs/optimizers';
import type { StepRecord } from '../train/metrics';

/** The equilibrium angular update per step of SGD with heavy-ball momentum β, √(2ηλ/(1+β)) radians (claim 2 in docs/science.md; the optimizer registry's formula). */
export function predictedAngularUpdate(lr: number, wd: number, momentum = 0): number {
  return OPTIMIZERS.sgd.equilibrium({ name: 'sgd', momentum }, lr, wd, 0)!.angularUpdate;
}

/** Mean of `y` over the points with from < x ≤ to (NaN when there are none). */
export function windowMean(x: readonly number[], y: readonly number[], from: number, to: number): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] > from && x[i] <= to && Number.isFinite(y[i])) {
      sum += y[i];
      n++;
    }
  }
  return n > 0 ? sum / n : NaN;
}

/** Geometric mean of positive `y` over from < x ≤ to: the level of a quantity read on a log scale. */
export function windowGeoMean(x: readonly number[], y: readonly number[], from: number, to: number): number {
  return Math.exp(windowMean(x, y.map((v) => (v > 0 ? Math.log(v) : NaN)), from, to));
}

/** The equilibrium window of a run: this last fraction of its steps. */
export const DEFAULT_WINDOW = 0.25;

/**
 * Time constants 1/λη a run must have spent at its λη before the window starts: the calibration
 * in docs/science.md reached the predicted angular update (within a few percent) after ≈1.25/λη
 * steps.
 */
export const EQUILIBRIUM_TIME_CONSTANTS = 1.25;

/**
 * The largest drift over the window still read as a level, as d ln y / d(λη·step): the relative
 * change per time constant (pure weight decay shrinks |w| at −1). Chosen from real runs
 * (docs/science.md, "Is a window at equilibrium?").
 */
export const DRIFT_TOLERANCE = { wNorm: 0.1, angular: 0.1 };

/** λη differing from the window's by more than this relative amount counts as another λη. */
const SAME_LAMBDA_ETA = 0.01;

/** The fields of a step record the verdict reads. */
export type EquilibriumRecord = Pick<StepRecord, 'step' | 'lambda_eta' | 'si_w_norm' | 'angular_update'>;

export interface Drift {
  /** Least-squares slope. */
  slope: number;
  /** Its standard error (independent scatter about the line). */
  se: number;
}

export interface EquilibriumVerdict {
  atEquilibrium: boolean;
  /** λη·step at the window's start, counted from the last change of λη before it (NaN if λη changes inside the window). */
  timeConstants: number;
  /** d ln y / d(λη·step) over the window, ± its standard error: the relative drift per time constant of |w| and of the angular update. */
  wNormDrift: Drift;
  angularDrift: Drift;
  /** The verdict in words, with the numbers it rests on. */
  reason: string;
}

/** Least-squares slope of y against x, with its standard error. */
function fitSlope(x: readonly number[], y: readonly number[]): Drift {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  const slope = sxy / sxx;
  const residuals = y.reduce((a, v, i) => a + (v - my - slope * (x[i] - mx)) ** 2, 0);
  return { slope, se: Math.sqrt(residuals / (n - 2) / sxx) };
}

/** d ln y / d(λη·step) over the records with positive, finite y. */
function drift(records: readonly EquilibriumRecord[], lambdaEta: number, y: (r: EquilibriumRecord) => number): Drift {
  const kept = records.filter((r) => y(r) > 0 && Number.isFinite(y(r)));
  return kept.length < 3 ? { slope: NaN, se: NaN } : fitSlope(kept.map((r) => lambdaEta * r.step), kept.map((r) => Math.log(y(r))));
}

/**
 * Drifting: the slope is beyond the tolerance by more than two standard errors. A single step's
 * angle scatters by ~25% (docs/science.md), so over a short window the fitted slope is that
 * noisy; the margin keeps the scatter from being read as a drift.
 */
const drifting = (d: Drift, tolerance: number): boolean => !(Math.abs(d.slope) <= tolerance + 2 * d.se);

const signed = (d: Drift): string => (Number.isNaN(d.slope) ? 'unmeasured (under 3 positive values in the window)' : `${d.slope >= 0 ? '+' : ''}${d.slope.toFixed(2)} ± ${d.se.toFixed(2)}`);

/**
 * Whether the window from < step ≤ to of a run is at equilibrium (claim 2): the run has spent
 * EQUILIBRIUM_TIME_CONSTANTS × 1/λη at the window's λη before the window starts, and neither |w|
 * of the scale-invariant weights nor the angular update drifts over the window by more than
 * DRIFT_TOLERANCE per time constant. The one place that decides it, for the sweep's table and
 * plots and for the dashboard.
 */
export function equilibriumVerdict(records: readonly EquilibriumRecord[], from: number, to: number): EquilibriumVerdict {
  const inWindow = records.filter((r) => r.step > from && r.step <= to);
  const none = { atEquilibrium: false, timeConstants: NaN, wNormDrift: { slope: NaN, se: NaN }, angularDrift: { slope: NaN, se: NaN } };
  if (inWindow.length < 3) return { ...none, reason: `${inWindow.length} step record${inWindow.length === 1 ? '' : 's'} in the window (steps ${from}–${to}): too few to tell` };
  const lambdaEta = inWindow.at(-1)!.lambda_eta;
  if (!(lambdaEta > 0)) return { ...none, reason: `λη = ${lambdaEta} at step ${to}: no weight decay, no equilibrium` };
  const other = (r: EquilibriumRecord) => Math.abs(r.lambda_eta / lambdaEta - 1) > SAME_LAMBDA_ETA;
  // A change of λη restarts the approach (claim 7): count the time from the last one.
  const changedAt = records.filter((r) => r.step <= to && other(r)).at(-1)?.step ?? 0;
  const verdict = {
    timeConstants: changedAt > from ? NaN : lambdaEta * (from - changedAt),
    wNormDrift: drift(inWindow, lambdaEta, (r) => r.si_w_norm),
    angularDrift: drift(inWindow, lambdaEta, (r) => r.angular_update),
  };
  const why: string[] = [];
  if (changedAt > from) why.push(`λη changes inside the window (step ${changedAt})`);
  else if (!(verdict.timeConstants >= EQUILIBRIUM_TIME_CONSTANTS)) why.push(`λη·step ${verdict.timeConstants.toFixed(2)} < ${EQUILIBRIUM_TIME_CONSTANTS} at the window's start`);
  if (drifting(verdict.wNormDrift, DRIFT_TOLERANCE.wNorm)) why.push(`|w| drifts ${signed(verdict.wNormDrift)} per 1/λη (tolerance ±${DRIFT_TOLERANCE.wNorm})`);
  if (drifting(verdict.angularDrift, DRIFT_TOLERANCE.angular)) why.push(`angular update drifts ${signed(verdict.angularDrift)} per 1/λη (tolerance ±${DRIFT_TOLERANCE.angular})`);
  const at = why.length === 0;
  const reason = at
    ? `λη·step ${verdict.timeConstants.toFixed(2)} ≥ ${EQUILIBRIUM_TIME_CONSTANTS}; |w| drifts ${signed(verdict.wNormDrift)} and the angular update ${signed(verdict.angularDrift)} per 1/λη`
    : why.join('; ');
  return { atEquilibrium: at, ...verdict, reason };
}

export interface Blocks {
  /** Centre of each block on the x axis. */
  x: number[];
  y: number[];
}

/** Averages over consecutive x-windows of `width` (the last partial window is dropped when it holds under half a window). */
export function blockMeans(x: readonly number[], y: readonly number[], width: number, from = x[0] ?? 0, to = x[x.length - 1] ?? 0): Blocks {
  const out: Blocks = { x: [], y: [] };
  for (let a = from; a < to; a += width) {
    const b = Math.min(a + width, to);
    if (b - a < width / 2) break;
    const m = windowMean(x, y, a, b);
    if (Number.isFinite(m)) {
      out.x.push((a + b) / 2);
      out.y.push(m);
    }
  }
  return out;
}

/**
 * How far `value` has moved from `start` toward `target`, on a log scale: 0 = still at start,
 * 1 = arrived, negative = moved the other way.
 */
export function logProgress(start: number, value: number, target: number): number {
  return Math.log(value / start) / Math.log(target / start);
}

/**
 * True when `y` never rises (falls, for direction 'up') by more than a relative `tolerance`
 * between consecutive points: a monotone trend after smoothing.
 */
export function isMonotone(y: readonly number[], direction: 'down' | 'up', tolerance = 0): boolean {
  for (let i = 1; i < y.length; i++) {
    if (direction === 'down' ? y[i] > y[i - 1] * (1 + tolerance) : y[i] < y[i - 1] * (1 - tolerance)) return false;
  }
  return true;
}

/** Steps at which the loss rises above `high` after having been below `low` since the last spike. */
export function spikeSteps(loss: readonly number[], low: number, high: number, from = 0, to = loss.length): number[] {
  const spikes: number[] = [];
  let armed = false;
  for (let t = from; t < to; t++) {
    if (loss[t] < low) armed = true;
    else if (armed && loss[t] > high) {
      spikes.push(t);
      armed = false;
    }
  }
  return spikes;
}

/**
 * Loss spikes: indices at which the loss rises above `factor` × its minimum since the previous
 * spike ended (at the first spike: since the start; so every spike is also above `factor` × the
 * running minimum). A spike ends once the loss has fallen below its peak / `factor`. The
 * hysteresis (a `factor`× fall, then a `factor`× rise) keeps one wobbling spike from counting
 * twice. Only spikes starting in [from, to) are returned; the state is carried from index 0.
 */
export function relativeSpikes(loss: readonly number[], factor = 10, from = 0, to = loss.length): number[] {
  const spikes: number[] = [];
  let trough = Infinity;
  let peak = -Infinity;
  let high = false;
  for (let t = 0; t < to; t++) {
    const l = loss[t];
    if (!Number.isFinite(l)) continue;
    if (!high) {
      if (l > factor * trough) {
        if (t >= from) spikes.push(t);
        high = true;
        peak = l;
      } else trough = Math.min(trough, l);
    } else {
      peak = Math.max(peak, l);
      if (l < peak / factor) {
        high = false;
        trough = l;
      }
    }
  }
  return spikes;
}

/** The first index at which `y` is below `threshold` (−1 if never). */
export function firstBelow(y: readonly number[], threshold: number): number {
  return y.findIndex((v) => v < threshold);
}

export interface Spread {
  mean: number;
  /** Sample standard deviation (0 for one value). */
  std: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values) };
}

/** Largest relative deviation of `values` from their geometric mean. */
export function maxRelativeDeviation(values: readonly number[]): number {
  const g = Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);
  return Math.max(...values.map((v) => Math.abs(v / g - 1)));
}
