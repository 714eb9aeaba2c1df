/**
 * The optimizer update of a program (the optimizer's own rule comes from optimizers.ts), plus the
 * per-tensor statistics the loop reports.
 *
 * Stats per trainable tensor, one row of `stats` [P,5]: |w|², |g|², ⟨w,g⟩, |Δw|², ⟨w,Δw⟩
 * (Δw = −s, the update applied), enough for norms, effective LR, cos⟨w,g⟩ and the angular update.
 */
import { Graph, Value } from '../graph/ir';
import { mul, neg, sub } from '../ops/elementwise';
import { reduceSum } from '../ops/reduce';
import { concat, reshape } from '../ops/shape';
import { OptimizerConfig, optimizerDef, slotName, wdRow } from './optimizers';

export const STAT_COLUMNS = ['w2', 'g2', 'wg', 'dw2', 'wdw'] as const;

export interface UpdateTerm {
  name: string;
  weight: Value;
  grad: Value;
}

/**
 * Declares inputs `lr` [], `wd` [P], the optimizer's hyperparameters and state slots (see
 * optimizers.ts); outputs `next.<name>`, the next state slots and `stats`.
 */
export function emitUpdate(graph: Graph, terms: readonly UpdateTerm[], optimizer: OptimizerConfig): void {
  const def = optimizerDef(optimizer.name);
  def.check(optimizer);
  const scalarSlots = new Set(def.slots(optimizer).filter((s) => s.scalar).map((s) => s.name));
  const lr = graph.input('lr', []);
  const wd = graph.input('wd', [terms.length]);
  const hyper = Object.fromEntries(Object.keys(def.hyper(optimizer)).map((k) => [k, graph.input(k, [])]));
  const rows: Value[] = [];
  terms.forEach(({ name, weight: w, grad: g }, i) => {
    const slot = (s: string) => {
      const key = slotName(s, name);
      return { value: graph.input(key, scalarSlots.has(s) ? [] : w.shape), next: (v: Value) => graph.output(`next.${key}`, v) };
    };
    const step = def.update({ graph, weight: w, grad: g, wd: wdRow(wd, i), hyper, slot }, lr, optimizer);
    graph.output(`next.${name}`, sub(w, step));
    const dot = (a: Value, b: Value) => reshape(reduceSum(mul(a, b)), [1]);
    rows.push(reshape(concat([dot(w, w), dot(g, g), dot(w, g), dot(step, step), neg(dot(w, step))], 0), [1, STAT_COLUMNS.length]));
  });
  graph.output('stats', concat(rows, 0));
}
