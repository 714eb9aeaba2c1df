/**
 * Which weights a model makes scale-invariant, read off its train-mode graph.
 *
 * Scale a set S of graph inputs by c > 0. A value is positively homogeneous of degree d in S if
 * it then becomes c^d times itself; the degree follows from the op rules below (a conv adds the
 * degrees of its input and weight, a sum keeps a degree only if both terms have it, a norm
 * layer's x̂ has degree 0 whatever its input's). The loss is invariant to S exactly when the
 * logits have degree 0 in S. This is why the norm layer, not the conv, decides: in a
 * pre-activation ResNet a block's second conv feeds a residual sum, so it is not invariant alone,
 * but every conv weight together is. Degree NaN means "not homogeneous".
 *
 * The invariance holds up to the norm layers' ε, which is what the figures keep negligible.
 */
import { Graph, OpDef, Value } from '../graph/ir';
import { OpName } from '../ops/registry';

type Rule = (inputs: number[]) => number;

const equal = (ds: number[]): number => (ds.every((d) => d === ds[0]) ? ds[0] : NaN);
const first = (ds: number[]): number => (ds.slice(1).every((d) => d === 0) ? ds[0] : NaN);
const sum = (ds: number[]): number => ds.reduce((a, b) => a + b, 0);

/** y = op(A, B) + C with op linear in A and in B (Conv's bias, Gemm's C). */
const bilinearPlus = ([a, b, c]: number[]): number => (c === undefined ? a + b : equal([a + b, c]));

const RULES: Partial<Record<OpName, Rule>> = {
  Add: equal,
  Sub: equal,
  Concat: equal,
  Mul: sum,
  Div: ([a, b]) => a - b,
  Neg: first,
  Relu: first,
  // max(c·x) = c·max(x) for c > 0, and the backward's gather and scatter are linear in their data.
  MaxPool: first,
  GatherFlat: first,
  ScatterAddFlat: first,
  Identity: first,
  Reshape: first,
  Transpose: first,
  Slice: first,
  Expand: first,
  Pad: first,
  ReduceSum: first,
  ReduceMean: first,
  Conv: bilinearPlus,
  Gemm: bilinearPlus,
  MatMul: sum,
};

/**
 * A normalising op's first output, x̂ or x̂·γ + β when it takes γ and β too: degree 0 in
 * anything its input is homogeneous in, γ's degree if β has the same one.
 */
function normalized([x, ...affine]: number[]): number {
  if (Number.isNaN(x)) return NaN;
  return affine.length === 0 ? 0 : equal(affine);
}

/** The degree of `out` in `scaled` (graph inputs); `normalizing` lists the ops whose first output is scale-free. */
export function homogeneity(graph: Graph, out: Value, scaled: ReadonlySet<Value>, normalizing: ReadonlySet<OpDef>): number {
  const degree = new Map<Value, number>();
  const of = (v: Value) => degree.get(v) ?? (scaled.has(v) ? 1 : 0);
  for (const node of graph.nodes) {
    const ds = node.inputs.map(of);
    const rule = RULES[node.op.name as OpName];
    if (normalizing.has(node.op)) {
      node.outputs.forEach((v, i) => degree.set(v, i === 0 ? normalized(ds) : NaN));
    } else {
      // An op without a rule is homogeneous only where none of its inputs depends on S.
      const d = rule ? rule(ds) : ds.every((x) => x === 0) ? 0 : NaN;
      for (const v of node.outputs) degree.set(v, d);
    }
  }
  return of(out);
}
