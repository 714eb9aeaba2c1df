/**
 * Optimizers as data: each one names its state slots and scalar hyperparameters and emits its
 * update into a program. The step engine, the checkpoints and the PyTorch replay read only this
 * table, so adding an optimizer means one entry here and its tests.
 *
 * Program interface (shared by every optimizer, see emitUpdate in update.ts): inputs `lr` [],
 * `wd` [P] (one decay per trainable tensor), the optimizer's scalar hyperparameters by name, and one
 * input per state slot and trainable tensor, named as in checkpoints, `optimizer.<slot>.<param>`;
 * outputs `next.<param>` and `next.optimizer.<slot>.<param>`.
 */
import { Graph, Value } from '../graph/ir';
import { add, div, exp, log, mul, sqrt, sub } from '../ops/elementwise';
import { slice } from '../ops/shape';

export type OptimizerName = 'sgd' | 'sgdw' | 'adamw' | 'adam';

export interface OptimizerConfig {
  name: OptimizerName;
  /** sgd, sgdw: heavy-ball momentum β (torch.optim.SGD semantics); 0: plain SGD, without a momentum buffer. */
  momentum: number;
  /** sgd, sgdw: Nesterov momentum (torch's nesterov=True; needs momentum > 0). */
  nesterov?: boolean;
  /** adam, adamw: (β₁, β₂); torch's default (0.9, 0.999). */
  betas?: [number, number];
  /** adam, adamw: ε added to √v̂, as torch places it; default 1e-8. */
  eps?: number;
  /**
   * sgd, sgdw: SVAG's L (Li, Malladi & Arora 2021; absent or 1: the optimizer itself). Each step
   * takes g = c₁∇L_γ₁ + c₂∇L_γ₂ over two batches (svagCoefficients) at the LR η/L (stepLr), with
   * momentum β unchanged. Not a setting of the torch class: the replay never sees it.
   */
  svag?: number;
}

/** What an optimizer's update sees of one trainable tensor. */
export interface UpdateInputs {
  graph: Graph;
  weight: Value;
  grad: Value;
  /** The tensor's weight decay (its row of `wd`). */
  wd: Value;
  /** The optimizer's scalar hyperparameters, by name. */
  hyper: Record<string, Value>;
  /** Reads this tensor's state slot (declares the input) and sets its next value (declares the output). */
  slot(name: string): { value: Value; next(v: Value): void };
}

/** A state slot: the shape of its tensor's, or one number per tensor (torch's step count). */
export interface SlotDef {
  name: string;
  scalar?: boolean;
}

/** The settings of OptimizerConfig beyond its name that an optimizer may read. */
export type OptimizerSetting = Exclude<keyof OptimizerConfig, 'name' | 'svag'>;

export interface OptimizerDef {
  /** The settings it reads: a command refuses a flag for any other (e.g. --betas with sgd). */
  settings: readonly OptimizerSetting[];
  /** State slots kept per trainable tensor (checkpoint names `optimizer.<slot>.<param>`). */
  slots(c: OptimizerConfig): SlotDef[];
  /** The scalar hyperparameters the program takes as inputs, with their values for this config. */
  hyper(c: OptimizerConfig): Record<string, number>;
  /** The step s of this tensor, learning rate included: w ← w − s. */
  update(u: UpdateInputs, lr: Value, c: OptimizerConfig): Value;
  /** Throws, naming the setting, on a config torch would refuse. */
  check(c: OptimizerConfig): void;
  /**
   * The rotational equilibrium of a scale-invariant tensor of `size` weights under this optimizer
   * at learning rate η and weight decay λ (Kosson et al. 2023): its angular update per step and,
   * where the theory gives one, its norm. Undefined where it predicts none.
   */
  equilibrium(c: OptimizerConfig, lr: number, wd: number, size: number): Equilibrium | undefined;
}

export interface Equilibrium {
  angularUpdate: number;
  norm?: number;
}

/**
 * With decoupled decay ηλ per step and momentum β on the update, the expected angular update
 * settles where the decay balances the norm growth: √(2ηλ·(1 − β)/(1 + β)). Coupled WD passes
 * through the momentum too, which multiplies the decay by 1/(1 − β): √(2ηλ/(1 + β)).
 */
const rotation = (decay: number, beta: number): number => Math.sqrt((2 * decay * (1 - beta)) / (1 + beta));

const fail = (c: OptimizerConfig, why: string): never => {
  throw new Error(`optimizer ${c.name}: ${why}`);
};

/** The SGD family's momentum on direction d: v ← β·v + d, then v (heavy ball) or d + β·v (Nesterov). */
function momentumDirection(u: UpdateInputs, d: Value, c: OptimizerConfig): Value {
  if (c.momentum === 0) return d;
  const buf = u.slot('momentum_buffer');
  const v = add(mul(u.hyper.momentum, buf.value), d);
  buf.next(v);
  return c.nesterov ? add(d, mul(u.hyper.momentum, v)) : v;
}

function sgdFamily(decoupled: boolean): OptimizerDef {
  return {
    settings: ['momentum', 'nesterov'],
    slots: (c) => (c.momentum > 0 ? [{ name: 'momentum_buffer' }] : []),
    hyper: (c): Record<string, number> => (c.momentum > 0 ? { momentum: c.momentum } : {}),
    update(u, lr, c) {
      const decay = mul(u.weight, u.wd);
      if (!decoupled) return mul(lr, momentumDirection(u, add(u.grad, decay), c));
      return mul(lr, add(momentumDirection(u, u.grad, c), decay));
    },
    check(c) {
      if (!(c.momentum >= 0 && c.momentum < 1)) fail(c, `momentum must be in [0, 1), got ${c.momentum}`);
      if (c.nesterov && c.momentum === 0) fail(c, 'Nesterov momentum needs a momentum > 0 (--momentum)');
      const l = c.svag ?? 1;
      if (!(Number.isInteger(l) && l >= 1)) fail(c, `svag must be an integer L ≥ 1 (1: the optimizer itself), got ${l}`);
    },
    // Nesterov's look-ahead changes the balance; the theory is for heavy-ball momentum.
    equilibrium: (c, lr, wd) => (c.nesterov ? undefined : { angularUpdate: rotation(decoupled ? lr * wd : (lr * wd) / (1 - c.momentum), c.momentum) }),
  };
}

/**
 * torch.optim.SGD without dampening: u = g + λ·w; with momentum v ← β·v + u, then u ← v (or
 * u ← u + β·v with Nesterov); s = η·u. The buffer's first value is u itself, as torch's is when
 * it starts at zero.
 */
const sgd = sgdFamily(false);

/**
 * SGD with decoupled weight decay (as AdamW decouples it; torch has no class for it): the
 * momentum sees the gradient alone, and the decay is applied to the weight directly,
 * s = η·(v + λ·w), which is torch's AdamW order: w ← w·(1 − ηλ), then the step.
 */
const sgdw = sgdFamily(true);

/**
 * torch.optim.Adam (with `decoupled` false: weight_decay as L2, g ← g + λ·w) and torch.optim.AdamW
 * (`decoupled`: w ← w·(1 − ηλ) first), in torch's order of operations:
 *   t ← t + 1;  m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²;
 *   s = η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
 * The bias corrections 1 − βᵗ are exp(t·ln β) in float32 (torch computes them in double: the two
 * agree to ~1e-7 for the step counts of a run).
 */
/** torch.optim.Adam's and AdamW's defaults. */
export const ADAM_DEFAULTS: { betas: [number, number]; eps: number } = { betas: [0.9, 0.999], eps: 1e-8 };
const adamSettings = (c: OptimizerConfig) => ({ betas: c.betas ?? ADAM_DEFAULTS.betas, eps: c.eps ?? ADAM_DEFAULTS.eps });

function adamFamily(decoupled: boolean): OptimizerDef {
  return {
    settings: ['betas', 'eps'],
    slots: () => [{ name: 'step', scalar: true }, { name: 'exp_avg' }, { name: 'exp_avg_sq' }],
    hyper: (c) => {
      const { betas, eps } = adamSettings(c);
      return { beta1: betas[0], beta2: betas[1], eps };
    },
    update(u, lr, c) {
      const { beta1, beta2, eps } = u.hyper;
      const one = u.graph.scalar(1);
      const g = decoupled ? u.grad : add(u.grad, mul(u.weight, u.wd));
      const step = u.slot('step');
      const t = add(step.value, one);
      step.next(t);
      const m = u.slot('exp_avg');
      const mNext = add(mul(beta1, m.value), mul(sub(one, beta1), g));
      m.next(mNext);
      const v = u.slot('exp_avg_sq');
      const vNext = add(mul(beta2, v.value), mul(sub(one, beta2), mul(g, g)));
      v.next(vNext);
      const correction = (beta: Value) => sub(one, exp(mul(t, log(beta))));
      const denom = add(div(sqrt(vNext), sqrt(correction(beta2))), eps);
      const adam = mul(div(lr, correction(beta1)), div(mNext, denom));
      return decoupled ? add(mul(lr, mul(u.weight, u.wd)), adam) : adam;
    },
    check(c) {
      const { betas: [b1, b2], eps } = adamSettings(c);
      if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) fail(c, `betas must be in [0, 1), got ${b1}, ${b2}`);
      if (!(eps > 0)) fail(c, `eps must be positive, got ${c.eps}`);
      if (c.momentum !== 0 || c.nesterov) fail(c, 'momentum and nesterov belong to sgd and sgdw; Adam\'s momentum is β₁ (--betas)');
      // SVAG scales the gradient noise by L and the step by 1/L, which simulates SGD's SDE; Adam
      // divides by its own running √v, so the same scaling does not give Adam's SDE (that needs
      // its own rule, Malladi et al. 2022).
      if ((c.svag ?? 1) !== 1) fail(c, `svag (--svag) applies to sgd and sgdw only, got --svag ${c.svag}: Adam's normalised step does not scale as SVAG needs; use --optimizer sgd or sgdw`);
    },
    // AdamW: the normalised update has a known size, hence a norm, √(ηC/(2λ)) for C weights. With L2
    // the decay is normalised away with the gradient, and the layers have no common equilibrium.
    equilibrium: (c, lr, wd, size) => (decoupled && wd > 0 ? { angularUpdate: rotation(lr * wd, adamSettings(c).betas[0]), norm: Math.sqrt((lr * size) / (2 * wd)) } : undefined),
  };
}

const adamw = adamFamily(true);
const adam = adamFamily(false);

export const OPTIMIZERS = { sgd, sgdw, adamw, adam } satisfies Record<OptimizerName, OptimizerDef>;

export function optimizerDef(name: string): OptimizerDef {
  const def = (OPTIMIZERS as Record<string, OptimizerDef>)[name];
  if (!def) throw new Error(`unknown optimizer "${name}": known ones are ${Object.keys(OPTIMIZERS).join(', ')}`);
  return def;
}

/**
 * SVAG's two coefficients for L ≥ 1, c₁,₂ = (1 ± √(2L − 1))/2: c₁ + c₂ = 1, so the mean gradient
 * is unchanged, and c₁² + c₂² = L, so the covariance of two independent batch gradients'
 * combination is L times one batch's.
 */
export function svagCoefficients(l: number): [number, number] {
  const r = Math.sqrt(2 * l - 1);
  return [(1 + r) / 2, (1 - r) / 2];
}

/** The LR of one optimizer step at the schedule's η: η/L under SVAG (L steps make one unit of SDE time), η otherwise. */
export const stepLr = (o: OptimizerConfig, lr: number): number => lr / (o.svag ?? 1);

/**
 * The rotational equilibrium of a scale-invariant tensor of `size` weights at the schedule's
 * (η, λ), per step. Under SVAG a step's LR is η/L: for SGD, √(2(η/L)λ/(1+β)).
 */
export const equilibriumAt = (o: OptimizerConfig, lr: number, wd: number, size: number): Equilibrium | undefined => optimizerDef(o.name).equilibrium(o, stepLr(o, lr), wd, size);

/** The equilibrium angular update per step this optimizer predicts at the schedule's (η, λ), or undefined where the theory gives none. */
export const predictedAngle = (o: OptimizerConfig, lr: number, wd: number): number | undefined => equilibriumAt(o, lr, wd, 0)?.angularUpdate;

export const slotName = (slot: string, param: string): string => `optimizer.${slot}.${param}`;

/** The rows of `wd` [P] one per trainable tensor: the i-th as a [1] value. */
export const wdRow = (wd: Value, i: number): Value => slice(wd, [0], [i], [i + 1]);
