/**
 * Reading a network exported to ONNX (torch.onnx.export) — an untrusted file. Everything that can
 * be wrong with the file as a whole is refused here, in one line that names the file, before a
 * tensor is allocated: not an ONNX model, an opset outside 13–17, tensor data stored outside the
 * file (ONNX external data: the run directory keeps one copy of one file, and a location could
 * point anywhere), declared sizes that do not match the bytes stored or would not fit in memory,
 * and every node whose op the importer does not know (listed with counts and node names).
 * What a node's attributes must be is checked where the node is imported (imported.ts).
 */
import { createHash } from 'crypto';
import { readFileSync, statSync } from 'fs';
import { onnx } from 'onnx-proto';

/** protobufjs's 64-bit integer object, as the generated ONNX types use it. */
type Long = Exclude<onnx.IAttributeProto['i'], number | null | undefined>;

/** The opsets whose exports the importer reads (Debian's torch exports 13–17). */
export const OPSETS = { min: 13, max: 17 };

/** The ops the importer maps onto the IR (imported.ts has one case for each). */
export const SUPPORTED_OPS = [
  'Conv', 'BatchNormalization', 'Relu', 'Clip', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Flatten', 'Reshape',
  'Gemm', 'MatMul', 'Add', 'Mul', 'Concat', 'Identity', 'Constant', 'Dropout',
] as const;

/** The largest tensor a file may declare: 2^28 values (1 GiB of float32); a CIFAR-sized network's largest is under 2^24. */
export const MAX_TENSOR_VALUES = 2 ** 28;
/** A protobuf message cannot be larger (and a larger model would need external data). */
const MAX_FILE_BYTES = 2 ** 31;

export type OnnxDim = number | string;

export interface OnnxTensor {
  name: string;
  dtype: 'float32' | 'int64' | 'bool';
  shape: number[];
  data: Float32Array | BigInt64Array | Uint8Array;
}

export interface OnnxNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, onnx.IAttributeProto>;
}

export interface OnnxModel {
  file: string;
  sha256: string;
  opset: number;
  /** The data input: its name and dims (a string where the dim is dynamic). */
  input: { name: string; dims: OnnxDim[] };
  output: { name: string; dims: OnnxDim[] };
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
}

export class OnnxImportError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'OnnxImportError';
  }
}

/** A protobuf int64 (a number, or a Long object for large values) exactly, as a bigint. */
export const int64 = (v: number | Long | null | undefined): bigint => (v === null || v === undefined ? 0n : typeof v === 'number' ? BigInt(v) : BigInt(v.toString()));

/** Declared dims as numbers, refused (before anything is allocated) when negative or beyond MAX_TENSOR_VALUES in all. */
function safeDims(file: string, what: string, dims: readonly (number | Long)[]): number[] {
  const exact = dims.map(int64);
  const size = exact.reduce((a, b) => a * b, 1n);
  if (exact.some((d) => d < 0n) || size > BigInt(MAX_TENSOR_VALUES)) {
    throw new OnnxImportError(file, `${what} declares the shape [${exact.join(',')}], more than the ${MAX_TENSOR_VALUES} values a tensor may have here; the file is damaged or not a network this toolkit trains`);
  }
  return exact.map(Number);
}

const ELEMENT: Record<number, { dtype: OnnxTensor['dtype']; bytes: number } | undefined> = {
  [onnx.TensorProto.DataType.FLOAT]: { dtype: 'float32', bytes: 4 },
  [onnx.TensorProto.DataType.INT64]: { dtype: 'int64', bytes: 8 },
  [onnx.TensorProto.DataType.BOOL]: { dtype: 'bool', bytes: 1 },
};

/** A TensorProto's values, after checking that the bytes stored are exactly what its shape declares. */
export function readTensor(file: string, t: onnx.ITensorProto, what = `tensor ${t.name}`): OnnxTensor {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    throw new OnnxImportError(file, `${what} is stored outside the file (ONNX external data), which is not read; save the model as one file (onnx.save(model, path, save_as_external_data=False))`);
  }
  if (t.segment) throw new OnnxImportError(file, `${what} is a segment of a larger tensor, which is not read; export the model again`);
  const element = ELEMENT[t.dataType ?? 0];
  if (!element) throw new OnnxImportError(file, `${what} has data type ${onnx.TensorProto.DataType[t.dataType ?? 0] ?? t.dataType}; only float32, int64 and bool tensors are read (export in float32)`);
  const shape = safeDims(file, what, t.dims ?? []);
  const size = shape.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const typed = element.dtype === 'float32' ? t.floatData : element.dtype === 'int64' ? t.int64Data : t.int32Data;
  const stored = raw ? raw.length / element.bytes : (typed?.length ?? 0);
  if (stored !== size) throw new OnnxImportError(file, `${what} declares the shape [${shape}] (${size} values) but stores ${stored}; the file is damaged`);
  let data: OnnxTensor['data'];
  if (raw) {
    const bytes = new Uint8Array(raw); // an aligned copy (a decoded Buffer is a view into the file)
    data = element.dtype === 'float32' ? new Float32Array(bytes.buffer) : element.dtype === 'int64' ? new BigInt64Array(bytes.buffer) : bytes;
  } else if (element.dtype === 'float32') {
    data = Float32Array.from(t.floatData ?? []);
  } else if (element.dtype === 'int64') {
    data = BigInt64Array.from((t.int64Data ?? []).map(int64));
  } else {
    data = Uint8Array.from(t.int32Data ?? []);
  }
  return { name: t.name ?? '', dtype: element.dtype, shape, data };
}

function dimsOf(file: string, v: onnx.IValueInfoProto): OnnxDim[] {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) throw new OnnxImportError(file, `${v.name} has no declared shape; export with a sample input so that the shapes are recorded`);
  const fixed = dims.filter((d) => !d.dimParam && d.dimValue !== null && d.dimValue !== undefined);
  safeDims(file, `${v.name}`, fixed.map((d) => d.dimValue!));
  return dims.map((d, i) => (fixed.includes(d) ? Number(int64(d.dimValue)) : d.dimParam || `dim${i}`));
}

/** The unsupported nodes, by op: `Softmax ×2 (/Softmax, /Softmax_1)`, in the order they first appear. */
function describeUnsupported(nodes: readonly onnx.INodeProto[]): string {
  const byOp = new Map<string, string[]>();
  for (const n of nodes) {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : (n.opType ?? '?');
    byOp.set(op, [...(byOp.get(op) ?? []), n.name || '(unnamed)']);
  }
  return [...byOp].map(([op, names]) => `${op} ×${names.length} (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''})`).join('; ');
}

/** Reads and checks an ONNX model file; throws OnnxImportError with one line on anything it cannot take. */
export function readOnnxModel(file: string): OnnxModel {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new OnnxImportError(file, 'no such model file (give the path of an .onnx file that torch.onnx.export wrote)');
  }
  if (size > MAX_FILE_BYTES) throw new OnnxImportError(file, `${size} bytes, more than an ONNX file can hold in one protobuf (2 GiB)`);
  const bytes = readFileSync(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxImportError(file, `not an ONNX model (${(e as Error).message}); export one with torch.onnx.export`);
  }
  const graph = proto.graph;
  if (!graph || !graph.node?.length || !proto.opsetImport?.length) throw new OnnxImportError(file, 'not an ONNX model (no graph or no opset); export one with torch.onnx.export');
  const opsetEntry = proto.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = Number(int64(opsetEntry?.version));
  if (opset < OPSETS.min || opset > OPSETS.max) {
    throw new OnnxImportError(file, `opset ${opset || 'missing'}; the importer reads opsets ${OPSETS.min} to ${OPSETS.max}: export with opset_version=17`);
  }
  const supported = new Set<string>(SUPPORTED_OPS);
  const unsupported = graph.node.filter((n) => (n.domain && n.domain !== 'ai.onnx') || !supported.has(n.opType ?? ''));
  if (unsupported.length > 0) {
    throw new OnnxImportError(
      file,
      `${unsupported.length} node(s) use ops the importer does not support: ${describeUnsupported(unsupported)}. ` +
        `Supported: ${SUPPORTED_OPS.join(', ')}; change the module so that its export uses only these (e.g. return logits, without a softmax), or add the op to src/nn/imported.ts`,
    );
  }
  const initializers = new Map<string, OnnxTensor>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? '', readTensor(file, t, `initializer ${t.name}`));
  const dataInputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  if (dataInputs.length !== 1) {
    throw new OnnxImportError(file, `the graph has ${dataInputs.length} data inputs (${dataInputs.map((v) => v.name).join(', ')}); the importer takes a network of one image input`);
  }
  const outputs = graph.output ?? [];
  if (outputs.length === 0) throw new OnnxImportError(file, 'the graph has no output');
  const input = { name: dataInputs[0].name ?? '', dims: dimsOf(file, dataInputs[0]) };
  if (input.dims.length !== 4) throw new OnnxImportError(file, `the input ${input.name} has rank ${input.dims.length}; the importer takes images [N,C,H,W]`);
  const nodes = graph.node.map((n, i) => ({
    op: n.opType ?? '',
    name: n.name || `${n.opType}_${i}`,
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    attrs: new Map((n.attribute ?? []).map((a) => [a.name ?? '', a])),
  }));
  return { file, sha256, opset, input, output: { name: outputs[0].name ?? '', dims: dimsOf(file, outputs[0]) }, nodes, initializers };
}
