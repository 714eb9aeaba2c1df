/**
 * Which weights a model makes scale-invariant, read off its train-mode graph.
 *
 * Scale a set S of graph inputs by c > 0. A value is positively homogeneous of degree d in S if
 * it then becomes c^d times itself; the degree follows from each op's own rule (`homogeneity`
 * on its OpDef: a conv adds the degrees of its input and weight, a sum keeps a degree only if
 * both terms have it, a norm layer's x̂ has degree 0 whatever its input's). The loss is invariant
 * to S exactly when the logits have degree 0 in S. This is why the norm layer, not the conv,
 * decides: in a pre-activation ResNet a block's second conv feeds a residual sum, so it is not
 * invariant alone, but every conv weight together is. Degree NaN means "not homogeneous".
 *
 * The invariance holds up to the norm layers' ε, which is what the figures keep negligible.
 */
import { Graph, Value } from '../graph/ir';
import { sameDegree } from '../ops/util';

/**
 * A normalising op's first output, x̂ or x̂·γ + β when it takes γ and β too: degree 0 in
 * anything its input is homogeneous in, γ's degree if β has the same one.
 */
function normalized([x, ...affine]: readonly number[]): number {
  if (Number.isNaN(x)) return NaN;
  return affine.length === 0 ? 0 : sameDegree(affine);
}

/** The degree of `out` in `scaled` (graph inputs). */
export function homogeneity(graph: Graph, out: Value, scaled: ReadonlySet<Value>): number {
  const degree = new Map<Value, number>();
  const of = (v: Value) => degree.get(v) ?? (scaled.has(v) ? 1 : 0);
  for (const node of graph.nodes) {
    const ds = node.inputs.map(of);
    const rule = node.op.homogeneity;
    if (rule === 'normalizing') {
      node.outputs.forEach((v, i) => degree.set(v, i === 0 ? normalized(ds) : NaN));
    } else {
      const d = rule(ds);
      for (const v of node.outputs) degree.set(v, d);
    }
  }
  return of(out);
}
