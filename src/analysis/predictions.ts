/**
 * Distributions of predicted labels over independent runs (the fast-equilibrium figure, PAPER.md
 * claim 3). Each run contributes one predicted label per input of a fixed evaluation set; per
 * input, the runs of a group give an empirical distribution over the classes. Two groups are
 * compared by the ℓ1 distance Σ_k |p_A(k) − p_B(k)| of these distributions, averaged over inputs.
 *
 * The ℓ1 distance between two finite samples is biased upwards (two samples of the same
 * distribution are at a positive distance, the more so the fewer runs each holds), so a
 * comparison must be like with like: `crossDistance` compares n runs of one group with n runs
 * of another, `halvesDistance` compares two disjoint halves of n runs each of one group — the
 * baseline, with the same bias.
 */
import { Rng } from '../util/rng';

/** One run's predicted labels on the evaluation set (integers in [0, classes)). */
export type Labels = ArrayLike<number>;

/** The mean over inputs of the ℓ1 distance between the label distributions of runs `a` and runs `b`. */
export function l1Distance(a: readonly Labels[], b: readonly Labels[], classes: number): number {
  if (a.length === 0 || b.length === 0) throw new Error('l1Distance: each group needs at least one run');
  const inputs = a[0].length;
  for (const r of [...a, ...b]) {
    if (r.length !== inputs) throw new Error(`l1Distance: runs predict ${r.length} and ${inputs} inputs; every run must predict the same evaluation set`);
  }
  const counts = new Float64Array(classes);
  let total = 0;
  for (let i = 0; i < inputs; i++) {
    counts.fill(0);
    for (const r of a) counts[r[i]] += 1 / a.length;
    for (const r of b) counts[r[i]] -= 1 / b.length;
    let d = 0;
    for (let k = 0; k < classes; k++) d += Math.abs(counts[k]);
    total += d;
  }
  return total / inputs;
}

/** `n` distinct indices from [0, count), chosen uniformly. */
function choose(count: number, n: number, rng: Rng): number[] {
  const idx = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(count - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, n);
}

/**
 * The distance between `half` runs of group `a` and `half` runs of group `b`, averaged over
 * `draws` random choices of the runs (the average has the same expectation as one draw and less
 * variance). `half` defaults to half of the smaller group, to compare with `halvesDistance`.
 */
export function crossDistance(a: readonly Labels[], b: readonly Labels[], classes: number, draws: number, rng: Rng, half = Math.floor(Math.min(a.length, b.length) / 2)): number {
  if (half < 1 || half > a.length || half > b.length) throw new Error(`crossDistance: cannot draw ${half} runs from groups of ${a.length} and ${b.length}`);
  let sum = 0;
  for (let d = 0; d < draws; d++) {
    sum += l1Distance(choose(a.length, half, rng).map((i) => a[i]), choose(b.length, half, rng).map((i) => b[i]), classes);
  }
  return sum / draws;
}

/** The distance between two disjoint random halves of one group's runs, averaged over `draws` random splits. */
export function halvesDistance(runs: readonly Labels[], classes: number, draws: number, rng: Rng): number {
  const half = Math.floor(runs.length / 2);
  if (half < 1) throw new Error(`halvesDistance: needs at least 2 runs, got ${runs.length}`);
  let sum = 0;
  for (let d = 0; d < draws; d++) {
    const order = choose(runs.length, 2 * half, rng);
    sum += l1Distance(order.slice(0, half).map((i) => runs[i]), order.slice(half).map((i) => runs[i]), classes);
  }
  return sum / draws;
}

/** Index of the largest entry of each row of a row-major [rows, classes] logit matrix. */
export function argmaxRows(logits: ArrayLike<number>, rows: number, classes: number): Uint8Array {
  if (classes > 256) throw new Error(`argmaxRows: ${classes} classes do not fit in a byte`);
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[r * classes + k] > logits[r * classes + best]) best = k;
    out[r] = best;
  }
  return out;
}
