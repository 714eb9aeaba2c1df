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
import { add, mul } from '../ops/elementwise';
import { slice } from '../ops/shape';

export type OptimizerName = 'sgd';

export interface OptimizerConfig {
  name: OptimizerName;
  /** Heavy-ball momentum β (torch.optim.SGD semantics); 0: plain SGD, without a momentum buffer. */
  momentum: number;
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

export interface OptimizerDef {
  /** State slots kept per trainable tensor (checkpoint names `optimizer.<slot>.<param>`). */
  slots(c: OptimizerConfig): string[];
  /** The scalar hyperparameters the program takes as inputs, with their values for this config. */
  hyper(c: OptimizerConfig): Record<string, number>;
  /** The step s of this tensor, learning rate included: w ← w − s. */
  update(u: UpdateInputs, lr: Value, c: OptimizerConfig): Value;
}

/**
 * torch.optim.SGD without dampening or Nesterov: u = g + λ·w; with momentum v ← β·v + u, u ← v;
 * s = η·u. The buffer's first value is u itself, as torch's is when it starts at zero.
 */
const sgd: OptimizerDef = {
  slots: (c) => (c.momentum > 0 ? ['momentum_buffer'] : []),
  hyper: (c): Record<string, number> => (c.momentum > 0 ? { momentum: c.momentum } : {}),
  update(u, lr, c) {
    let step = add(u.grad, mul(u.weight, u.wd));
    if (c.momentum > 0) {
      const buf = u.slot('momentum_buffer');
      step = add(mul(u.hyper.momentum, buf.value), step);
      buf.next(step);
    }
    return mul(lr, step);
  },
};

export const OPTIMIZERS = { sgd } satisfies Record<OptimizerName, OptimizerDef>;

export function optimizerDef(name: string): OptimizerDef {
  const def = (OPTIMIZERS as Record<string, OptimizerDef>)[name];
  if (!def) throw new Error(`unknown optimizer "${name}": known ones are ${Object.keys(OPTIMIZERS).join(', ')}`);
  return def;
}

export const slotName = (slot: string, param: string): string => `optimizer.${slot}.${param}`;

/** The rows of `wd` [P] one per trainable tensor: the i-th as a [1] value. */
export const wdRow = (wd: Value, i: number): Value => slice(wd, [0], [i], [i + 1]);
