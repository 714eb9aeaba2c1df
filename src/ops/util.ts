/** Shared shape rules and emission helpers for the op files. */
import { Attrs, AttrValue, DType, Emitter, Node, OnnxAttrs, OutputType, Shape, ShapeError, Value, isFloat } from '../graph/ir';

/** Numpy broadcasting of two shapes; the error names the op. */
export function broadcastShapes(op: string, inputs: readonly { shape: Shape; dtype: DType }[]): number[] {
  const rank = Math.max(...inputs.map((v) => v.shape.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const v of inputs) {
      const k = v.shape.length - rank + i;
      const dim = k >= 0 ? v.shape[k] : 1;
      if (dim !== 1 && d !== 1 && dim !== d) throw new ShapeError(op, `shapes do not broadcast at axis ${i}`, inputs);
      if (dim !== 1) d = dim;
    }
    out.push(d);
  }
  return out;
}

export function expectArity(op: string, inputs: readonly Value[], n: number): void {
  if (inputs.length !== n) throw new ShapeError(op, `expects ${n} inputs, got ${inputs.length}`, inputs);
}

export function expectFloat(op: string, inputs: readonly Value[]): void {
  if (!inputs.every((v) => isFloat(v.dtype))) throw new ShapeError(op, 'expects float inputs', inputs);
}

export function expectSameDtype(op: string, inputs: readonly Value[]): DType {
  const t = inputs[0].dtype;
  if (!inputs.every((v) => v.dtype === t)) throw new ShapeError(op, 'inputs must share one dtype', inputs);
  return t;
}

/** Resolves negative axes and checks range. */
export function normalizeAxes(op: string, axes: readonly number[], rank: number, inputs: readonly Value[]): number[] {
  return axes.map((a) => {
    const r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank) throw new ShapeError(op, `axis ${a} out of range for rank ${rank}`, inputs);
    return r;
  });
}

export const ints = (a: Attrs, k: string, dflt: readonly number[]): number[] => [...((a[k] as readonly number[] | undefined) ?? dflt)];
export const int = (a: Attrs, k: string, dflt: number): number => (a[k] as number | undefined) ?? dflt;

/**
 * Emission for ops that map to one ONNX node with the same name: integers become INT
 * attributes, arrays INTS, strings STRING; `floats` lists attributes that are FLOAT.
 */
export function emitOne(opType: string, floats: readonly string[] = []) {
  return (node: Node, e: Emitter): void => {
    e.node(opType, node.inputs.map((v) => v.name), node.outputs.map((v) => v.name), onnxAttrs(node.attrs, floats));
  };
}

export function onnxAttrs(attrs: Attrs, floats: readonly string[] = []): OnnxAttrs {
  const out: Record<string, OnnxAttrs[string]> = {};
  for (const [k, v] of Object.entries(attrs as Record<string, AttrValue>)) {
    if (typeof v === 'string') out[k] = { string: v };
    else if (typeof v === 'number') out[k] = floats.includes(k) ? { float: v } : { int: v };
    else out[k] = floats.includes(k) ? { floats: v } : { ints: v };
  }
  return out;
}

export const same = (v: Value): OutputType => ({ shape: v.shape, dtype: v.dtype });
export const typed = (shape: Shape, dtype: DType): OutputType => ({ shape, dtype });

// Homogeneity rules (OpDef.homogeneity): an input's degree d means it becomes c^d times itself
// when the scaled graph inputs are multiplied by c > 0; NaN means "not homogeneous".

/** A sum or a stack of its inputs: homogeneous only if every input has the same degree. */
export const sameDegree = (ds: readonly number[]): number => (ds.every((d) => d === ds[0]) ? ds[0] : NaN);
/** Positively homogeneous of degree 1 in its first input (relu, a reshape, a reduction); the other inputs must not depend on the scaled ones. */
export const firstInputDegree = (ds: readonly number[]): number => (ds.slice(1).every((d) => d === 0) ? ds[0] : NaN);
/** A product: the degrees add. */
export const degreeSum = (ds: readonly number[]): number => ds.reduce((a, b) => a + b, 0);
/** y = op(A, B) + C with op linear in A and in B (Conv's bias, Gemm's C). */
export const bilinearPlus = ([a, b, c]: readonly number[]): number => (c === undefined ? a + b : sameDegree([a + b, c]));
/**
 * No rule worked out: treated as not homogeneous unless none of its inputs depends on the
 * scaled ones. Conservative: such an op never makes a weight look scale-invariant.
 */
export const constantOnly = (ds: readonly number[]): number => (ds.every((d) => d === 0) ? 0 : NaN);
