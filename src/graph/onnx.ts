/**
 * Serialization of a Graph to ONNX bytes (opset 17, the newest that Debian's python3-onnx 1.12
 * checks). Only nodes that the declared outputs depend on are written; constants are deduplicated;
 * names come from the IR's counter, so the same program always gives the same bytes.
 */
import { onnx } from 'onnx-proto';
import { DType, Emitter, Graph, NCHWC_DOMAIN, Node, OnnxAttrs, Shape, TypedArray, Value } from './ir';

export const OPSET = 17;
export const IR_VERSION = 8;

export const DATA_TYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

function rawBytes(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function valueInfo(name: string, shape: Shape, dtype: DType): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: DATA_TYPE[dtype], shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  };
}

function attributeProto(name: string, a: OnnxAttrs[string]): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return { name, type: T.INT, i: a.int };
  if ('ints' in a) return { name, type: T.INTS, ints: [...a.ints] };
  if ('float' in a) return { name, type: T.FLOAT, f: a.float };
  if ('floats' in a) return { name, type: T.FLOATS, floats: [...a.floats] };
  return { name, type: T.STRING, s: Buffer.from(a.string, 'utf8') };
}

/** The nodes the given outputs depend on, in creation (topological) order. */
export function liveNodes(outputs: readonly Value[]): Node[] {
  const live = new Set<Node>();
  const stack = outputs.map((v) => v.producer).filter((n): n is Node => !!n);
  while (stack.length) {
    const n = stack.pop()!;
    if (live.has(n)) continue;
    live.add(n);
    for (const v of n.inputs) if (v.producer) stack.push(v.producer);
  }
  return [...live].sort((a, b) => a.id - b.id);
}

export interface SerializeOptions {
  /** Let ops use ORT's NCHWc kernels with this block size (Program.create on the CPU); 0 (default): plain ONNX, portable. */
  nchwcBlock?: number;
  /** Emit LogSoftmax from ReduceMax, Exp, ReduceSum and Log, for providers without its kernel (WebGPU); default false. */
  composeLogSoftmax?: boolean;
}

export function toModelProto(graph: Graph, options: SerializeOptions = {}): onnx.IModelProto {
  const outputs = [...graph.outputs.entries()];
  if (outputs.length === 0) throw new Error(`program ${graph.name} declares no outputs`);
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const constCache = new Map<string, string>();
  let tempCount = 0;
  const domains = new Set<string>();
  const nchwcCopies = new Map<string, string>();

  const addConstant = (name: string, data: TypedArray, shape: Shape, dtype: DType) => {
    initializers.push({ name, dims: [...shape], dataType: DATA_TYPE[dtype], rawData: rawBytes(data) });
  };
  const cached = (key: string, make: (name: string) => void): string => {
    let name = constCache.get(key);
    if (!name) {
      name = `k${constCache.size}`;
      constCache.set(key, name);
      make(name);
    }
    return name;
  };
  const emitter: Emitter = {
    node(opType, inputs, outs, attrs = {}, domain) {
      const attribute = Object.keys(attrs).sort().map((k) => attributeProto(k, attrs[k]));
      if (domain) domains.add(domain);
      nodes.push({ opType, input: inputs, output: outs, name: `${opType}_${nodes.length}`, attribute, ...(domain ? { domain } : {}) });
    },
    constInt64(values, shape = [values.length]) {
      return cached(`i64:${shape.join(',')}:${values.join(',')}`, (n) => addConstant(n, BigInt64Array.from(values, BigInt), shape, 'int64'));
    },
    constFloat(values, dtype, shape = [values.length]) {
      const data = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
      return cached(`${dtype}:${shape.join(',')}:${values.join(',')}`, (n) => addConstant(n, data, shape, dtype));
    },
    temp(hint) {
      return `${hint}_t${tempCount++}`;
    },
    nchwcBlock: options.nchwcBlock ?? 0,
    composeLogSoftmax: options.composeLogSoftmax ?? false,
    nchwcCopy(name) {
      let copy = nchwcCopies.get(name);
      if (!copy) {
        copy = this.temp(`${name}_nchwc`);
        this.node('ReorderInput', [name], [copy], {}, NCHWC_DOMAIN);
        nchwcCopies.set(name, copy);
      }
      return copy;
    },
  };

  const live = liveNodes(outputs.map(([, v]) => v));
  const usedConstants = new Set<Value>();
  for (const n of live) {
    for (const v of n.inputs) if (v.data) usedConstants.add(v);
    n.op.emit(n, emitter);
  }
  for (const c of graph.constants) if (usedConstants.has(c)) addConstant(c.name, c.data!, c.shape, c.dtype);

  // An output that is directly an input or another output needs an Identity node to carry its name.
  for (const [name, v] of outputs) {
    if (name !== v.name) emitter.node('Identity', [v.name], [name]);
  }

  return {
    irVersion: IR_VERSION,
    producerName: 'intrinsic-lr',
    opsetImport: [{ domain: '', version: OPSET }, ...[...domains].sort().map((domain) => ({ domain, version: 1 }))],
    graph: {
      name: graph.name,
      node: nodes,
      initializer: initializers,
      input: graph.inputs.map((v) => valueInfo(v.name, v.shape, v.dtype)),
      output: outputs.map(([name, v]) => valueInfo(name, v.shape, v.dtype)),
    },
  };
}

export function serialize(graph: Graph, options: SerializeOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(toModelProto(graph, options))).finish();
}
