/**
 * Reading equilibria and instabilities off training curves: window averages of the angular update
 * and the effective LR, the predicted equilibrium √(2ηλ/(1+β)), progress toward a new level on a
 * log scale, monotone trends after smoothing, loss spikes, and the spread of test accuracies.
 *
 * Every function takes plain arrays (a step axis and values), so the figures' checks can be fed
 * synthetic curves in tests.
 */
import { OPTIMIZERS } from '../programs/optimizers';

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
