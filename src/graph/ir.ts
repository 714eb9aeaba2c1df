/**
 * The typed graph IR: values with a static shape and dtype, nodes that apply an op definition.
 *
 * Every value knows its graph, so op builders (`add(a, b)`, `conv(x, w, ...)`) need no graph
 * argument. Nodes are recorded in creation order, which is always a topological order, and names
 * come from a counter, so building the same program twice gives the same ONNX bytes.
 */

export type DType = 'float32' | 'float64' | 'int64' | 'bool';
export type Shape = readonly number[];
export type TypedArray = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** Attributes are plain JS data; each op's emitter decides how they become ONNX attributes or inputs. */
export type AttrValue = number | readonly number[] | string;
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface OutputType {
  shape: Shape;
  dtype: DType;
}

/**
 * A gradient rule gets the node, the gradient of each output (undefined where none flows), and
 * which inputs need a gradient; it returns one gradient per input (undefined where not needed).
 * Gradients may have a broadcast shape: the engine reduces them to the input's shape.
 */
export type GradRule = (node: Node, gradOutputs: (Value | undefined)[], needs: boolean[]) => (Value | undefined)[];

/**
 * How an op's outputs scale when some graph inputs are multiplied by c > 0 (the invariance
 * analysis, nn/invariance.ts): from each input's degree of positive homogeneity (0: does not
 * depend on them, NaN: not homogeneous), the degree of every output. 'normalizing' marks an op
 * whose first output is scale-free in its first input (x̂, or x̂·γ + β): its other outputs
 * (the statistics) count as not homogeneous.
 */
export type Homogeneity = ((inputDegrees: readonly number[]) => number) | 'normalizing';

/** ORT's contrib domain of blocked-layout CPU kernels (ReorderInput, Conv, ReorderOutput). */
export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/** Receives the ONNX nodes an IR node expands to. */
export interface Emitter {
  /** A node of the default ONNX domain, or of `domain` (imported at version 1). */
  node(opType: string, inputs: string[], outputs: string[], attrs?: OnnxAttrs, domain?: string): void;
  /** An int64 or float constant as an initializer; returns its name. */
  constInt64(values: readonly number[], shape?: Shape): string;
  constFloat(values: readonly number[], dtype: DType, shape?: Shape): string;
  /** A fresh name for an intermediate value of a multi-node expansion. */
  temp(hint: string): string;
  /** The NCHWc block size when ORT's blocked-layout CPU kernels may be used (see ops/conv.ts); 0: plain ONNX only. */
  readonly nchwcBlock: number;
  /** Whether LogSoftmax must be composed from primitives (the provider has no kernel for it). */
  readonly composeLogSoftmax: boolean;
  /** The blocked (NCHWc) copy of the value `name`: one ReorderInput, emitted at the first request and shared by the later ones. */
  nchwcCopy(name: string): string;
}

export type OnnxAttrs = Readonly<Record<string, { ints: readonly number[] } | { int: number } | { float: number } | { floats: readonly number[] } | { string: string }>>;

export interface OpDef {
  /** The op's name in our table; the ONNX op type unless `emit` expands it. */
  name: string;
  /** Output types from input types and attributes; throws ShapeError on bad input. */
  infer(inputs: readonly Value[], attrs: Attrs): OutputType[];
  /** How the node becomes ONNX nodes. */
  emit(node: Node, e: Emitter): void;
  /** The gradient rule, or 'none' for ops that are not differentiable (argmax, comparisons). */
  grad: GradRule | 'none';
  /** How its outputs scale with its inputs; required, so that no op is left out by omission. */
  homogeneity: Homogeneity;
}

export class ShapeError extends Error {
  constructor(op: string, message: string, inputs: readonly { shape: Shape; dtype: DType }[]) {
    const described = inputs.map((v) => `${v.dtype}[${v.shape.join(',')}]`).join(', ');
    super(`${op}: ${message} (inputs: ${described})`);
    this.name = 'ShapeError';
  }
}

export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly name: string,
    readonly shape: Shape,
    readonly dtype: DType,
    /** The node that computes it; undefined for graph inputs and constants. */
    readonly producer?: Node,
    /** Constant data, for initializers. */
    readonly data?: TypedArray,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  toString(): string {
    return `${this.name}: ${this.dtype}[${this.shape.join(',')}]`;
  }
}

export class Node {
  constructor(
    readonly id: number,
    readonly op: OpDef,
    readonly inputs: readonly Value[],
    readonly attrs: Attrs,
    public outputs: readonly Value[] = [],
  ) {}

  get graph(): Graph {
    return this.outputs[0].graph;
  }
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly constants: Value[] = [];
  readonly outputs = new Map<string, Value>();
  private nextId = 0;
  private usedNames = new Set<string>();

  constructor(readonly name = 'program') {}

  /** A named runtime input (a parameter, a batch, a learning rate). */
  input(name: string, shape: Shape, dtype: DType = 'float32'): Value {
    const v = new Value(this, this.nextId++, this.claim(name), [...shape], dtype);
    this.inputs.push(v);
    return v;
  }

  /** A constant tensor stored in the program. Scalars have shape []. Named `name` if given (e.g. a weight's state_dict key). */
  constant(values: readonly number[] | TypedArray, shape: Shape = [], dtype: DType = 'float32', name?: string): Value {
    const size = shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new Error(`constant ${name ?? ''}: ${values.length} values for shape [${shape.join(',')}]`);
    const data = toTypedArray(values, dtype);
    const v = new Value(this, this.nextId, this.claim(name ?? `const_${this.nextId}`), [...shape], dtype, undefined, data);
    this.nextId++;
    this.constants.push(v);
    return v;
  }

  /** A scalar constant with the dtype of `like`. */
  scalar(x: number, like: Value | DType = 'float32'): Value {
    return this.constant([x], [], typeof like === 'string' ? like : like.dtype);
  }

  /** Applies an op; returns its outputs. Shape errors surface here, at build time. */
  apply(op: OpDef, inputs: readonly Value[], attrs: Attrs = {}, hint?: string): Value[] {
    for (const v of inputs) {
      if (v.graph !== this) throw new Error(`${op.name}: input ${v.name} belongs to another graph`);
    }
    const types = op.infer(inputs, attrs);
    const node = new Node(this.nextId++, op, inputs, attrs);
    const base = hint ?? op.name.toLowerCase();
    node.outputs = types.map(
      (t, i) => new Value(this, this.nextId++, this.claim(`${base}_${node.id}${types.length > 1 ? `_${i}` : ''}`), [...t.shape], t.dtype, node),
    );
    this.nodes.push(node);
    return node.outputs as Value[];
  }

  /** Marks a value as a named program output. */
  output(name: string, v: Value): void {
    if (v.graph !== this) throw new Error(`output ${name}: value belongs to another graph`);
    if (this.outputs.has(name)) throw new Error(`output ${name} declared twice`);
    this.outputs.set(name, v);
  }

  private claim(name: string): string {
    let n = name;
    for (let k = 1; this.usedNames.has(n); k++) n = `${name}__${k}`;
    this.usedNames.add(n);
    return n;
  }
}

function toTypedArray(values: readonly number[] | TypedArray, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    case 'float64':
      return values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>);
    case 'int64':
      return values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values as ArrayLike<number>, (x) => BigInt(x)));
    case 'bool':
      return values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>);
  }
}

export const isFloat = (t: DType): boolean => t === 'float32' || t === 'float64';
export const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
export const shapeSize = (s: Shape): number => s.reduce((a, b) => a * b, 1);
