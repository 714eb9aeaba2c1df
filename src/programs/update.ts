/**
 * The SGD update with coupled weight decay and optional heavy-ball momentum, exactly
 * torch.optim.SGD (no dampening, no Nesterov), plus the per-tensor statistics the loop reports.
 *
 *   u = g + λ_i·w;  with momentum: v ← β·v + u, u ← v;  w ← w − η·u
 *
 * Stats per trainable tensor, one row of `stats` [P,5]: |w|², |g|², ⟨w,g⟩, |Δw|², ⟨w,Δw⟩
 * (with Δw = −η·u), enough for norms, effective LR, cos⟨w,g⟩ and the angular update.
 */
import { Graph, Value } from '../graph/ir';
import { add, mul, neg, sub } from '../ops/elementwise';
import { reduceSum } from '../ops/reduce';
import { concat, reshape, slice } from '../ops/shape';

export const STAT_COLUMNS = ['w2', 'g2', 'wg', 'dw2', 'wdw'] as const;

export interface UpdateTerm {
  name: string;
  weight: Value;
  grad: Value;
}

/**
 * Declares inputs `lr` [], `wd` [P] (one decay per trainable tensor, so parameter groups are data)
 * and, with momentum, `momentum` [] and `momentum.<name>`; outputs `next.<name>`,
 * `next.momentum.<name>` and `stats`.
 */
export function emitUpdate(graph: Graph, terms: readonly UpdateTerm[], withMomentum: boolean): void {
  const lr = graph.input('lr', []);
  const wd = graph.input('wd', [terms.length]);
  const beta = withMomentum ? graph.input('momentum', []) : undefined;
  const rows: Value[] = [];
  terms.forEach(({ name, weight: w, grad: g }, i) => {
    let u = add(g, mul(w, slice(wd, [0], [i], [i + 1])));
    if (beta) {
      u = add(mul(beta, graph.input(`momentum.${name}`, w.shape)), u);
      graph.output(`next.momentum.${name}`, u);
    }
    const step = mul(lr, u);
    graph.output(`next.${name}`, sub(w, step));
    const dot = (a: Value, b: Value) => reshape(reduceSum(mul(a, b)), [1]);
    const wStep = dot(w, step);
    rows.push(reshape(concat([dot(w, w), dot(g, g), dot(w, g), dot(step, step), neg(wStep)], 0), [1, STAT_COLUMNS.length]));
  });
  graph.output('stats', concat(rows, 0));
}
