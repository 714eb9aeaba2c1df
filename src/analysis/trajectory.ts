/**
 * Reading a trajectory of weight snapshots (claim 6 in docs/science.md): rank correlation, the distance
 * |w_T − w_{T+Δ}| between snapshots for every pair, and whether it keeps growing with Δ. An
 * Ornstein–Uhlenbeck process (a mixing diffusion) would plateau; SGD on a normalized net keeps
 * drifting. Plain arrays in, plain numbers out, so the checks can be fed synthetic trajectories.
 */

/** Ranks 1…n, ties sharing their average rank. */
export function ranks(x: readonly number[]): number[] {
  const order = x.map((v, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Array<number>(x.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && x[order[j + 1]] === x[order[i]]) j++;
    for (let k = i; k <= j; k++) r[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation ρ (Pearson on the ranks); NaN with fewer than 2 points or a constant input. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new Error(`spearman: ${x.length} x values but ${y.length} y values`);
  const n = x.length;
  if (n < 2) return NaN;
  const [rx, ry] = [ranks(x), ranks(y)];
  const m = (n + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (rx[i] - m) * (ry[i] - m);
    sxx += (rx[i] - m) ** 2;
    syy += (ry[i] - m) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Euclidean distance between two parameter vectors given as lists of tensors (same order, same sizes). */
export function distance(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  if (a.length !== b.length) throw new Error(`distance: ${a.length} tensors vs ${b.length}`);
  let s = 0;
  a.forEach((t, k) => {
    const u = b[k];
    if (t.length !== u.length) throw new Error(`distance: tensor ${k} has ${t.length} vs ${u.length} values`);
    for (let i = 0; i < t.length; i++) s += (t[i] - u[i]) ** 2;
  });
  return Math.sqrt(s);
}

/** |w_T − w_{T+Δ}| for one start T, for every later snapshot. */
export interface DriftCurve {
  t: number;
  delta: number[];
  dist: number[];
}

/** Distance curves from every snapshot to every later one; `times` ascending, `dist(i, j)` any metric. */
export function driftCurves(times: readonly number[], dist: (i: number, j: number) => number): DriftCurve[] {
  return times.slice(0, -1).map((t, i) => {
    const later = times.map((_, j) => j).filter((j) => j > i);
    return { t, delta: later.map((j) => times[j] - t), dist: later.map((j) => dist(i, j)) };
  });
}

/** The pointwise mean of several trajectories' drift curves (same snapshot times): an estimate of E|w_T − w_{T+Δ}|. */
export function meanDriftCurves(runs: readonly (readonly DriftCurve[])[]): DriftCurve[] {
  if (runs.length === 0) throw new Error('meanDriftCurves: no trajectories');
  return runs[0].map((c, i) => {
    if (runs.some((r) => r.length !== runs[0].length || r[i].t !== c.t || r[i].delta.join() !== c.delta.join())) {
      throw new Error('meanDriftCurves: the trajectories were snapshotted at different times');
    }
    return { t: c.t, delta: c.delta, dist: c.dist.map((_, j) => runs.reduce((s, r) => s + r[i].dist[j], 0) / runs.length) };
  });
}

/** Spearman ρ of distance against Δ for each start T with at least `minPoints` later snapshots. */
export function driftMonotonicity(curves: readonly DriftCurve[], minPoints = 3): { t: number; rho: number; points: number }[] {
  return curves.filter((c) => c.delta.length >= minPoints).map((c) => ({ t: c.t, rho: spearman(c.delta, c.dist), points: c.delta.length }));
}
