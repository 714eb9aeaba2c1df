/**
 * The ExpLR equivalence (Li and Arora 2020; claim 8 in docs/science.md) for torch.optim.SGD with heavy-ball
 * momentum β. Run A: LR η, WD λ, momentum buffer from zero. Run B: no WD, LR η̃_t = η·α^(−2t−1)
 * at step t = 0, 1, …, momentum buffer from v₀ = −(1 − α)/(αη)·w₀. On a scale-invariant loss
 * w^B_t = α^(−t)·w^A_t for every t, where α is the larger root of x² − (1 + β − λη)x + β = 0.
 *
 * Derivation: put w^B_t = c_t·w^A_t into both recurrences. The gradient terms force
 * η̃_t = η·c_t·c_{t+1} (∇L(c·w) = ∇L(w)/c), the momentum terms c_{t+1}/c_{t−1} = η̃_t/η̃_{t−1},
 * the w_t terms the quadratic; c_t = α^(−t), and the first step needs the v₀ above (for β = 0,
 * α = 1 − λη and v₀ plays no role).
 */
import type { Schedule } from '../train/schedule';

export interface ExplrHyper {
  /** η of run A. */
  lr: number;
  /** λ of run A. */
  wd: number;
  /** β, shared by both runs (0: plain SGD). */
  momentum: number;
}

/** The largest λη for which the quadratic has real roots: (1 − √β)². */
export const maxIntrinsicLr = (momentum: number): number => (1 - Math.sqrt(momentum)) ** 2;

/** α: the larger root of x² − (1 + β − λη)x + β = 0; 1 − λη for β = 0. */
export function explrAlpha({ lr, wd, momentum }: ExplrHyper): number {
  if (!(momentum >= 0 && momentum < 1)) throw new Error(`ExpLR: momentum β must be in [0, 1), got ${momentum}`);
  if (!(lr > 0 && wd >= 0)) throw new Error(`ExpLR: need η > 0 and λ ≥ 0, got η = ${lr}, λ = ${wd}`);
  const b = 1 + momentum - lr * wd;
  const disc = b * b - 4 * momentum;
  if (disc < 0) {
    throw new Error(`ExpLR: λη = ${lr * wd} exceeds (1 − √β)² = ${maxIntrinsicLr(momentum)} for β = ${momentum}: the quadratic has no real root; choose a smaller λη`);
  }
  // b > 0 here (λη ≤ (1 − √β)² < 1 + β), so the larger root has no cancellation.
  return (b + Math.sqrt(disc)) / 2;
}

/** Run B's LR at step t (0-based): η·α^(−2t−1). */
export const explrLr = (h: ExplrHyper, t: number, alpha = explrAlpha(h)): number => h.lr * alpha ** (-2 * t - 1);

/** The same LRs as a project schedule (with base lr = η, wd = 0): lrScale = 1/α, lrRate = α^(−2). */
export function explrSchedule(h: ExplrHyper): Schedule {
  const alpha = explrAlpha(h);
  return { kind: 'exponential', unit: 'step', lrScale: 1 / alpha, lrRate: alpha ** -2 };
}

/** The factor k of run B's initial momentum buffer v₀ = k·w₀: k = −(1 − α)/(αη). */
export function explrBufferFactor(h: ExplrHyper, alpha = explrAlpha(h)): number {
  return -(1 - alpha) / (alpha * h.lr);
}

/** The predicted weight-norm ratio |w^B_t| / |w^A_t| = α^(−t). */
export const explrNormRatio = (alpha: number, t: number): number => alpha ** -t;
