/**
 * Which ONNX ops ORT's CUDA provider has kernels for, at the opset our programs use (OPSET), and a static
 * check that every node of a program is among them, so `--ep cuda` never moves a node to the CPU.
 *
 * The facts are read from onnxruntime's docs/OperatorKernels.md (generated from the registered
 * kernels), section "Operators implemented by CUDAExecutionProvider", at commit 001d12d2623f of
 * microsoft/onnxruntime's main branch (a 1.2x development version whose exact release number was
 * not determined; its newest kernels are for opset 25). Per op: the kernel version range that
 * contains our opset, and of the four element types our IR has, those each type constraint
 * accepts. Ops not listed have no CUDA kernel we rely on.
 */
import { onnx } from 'onnx-proto';
import { DType } from '../graph/ir';
import { DATA_TYPE, OPSET } from '../graph/onnx';

/** A type constraint: the node inputs it binds (by position, or all of them), or the output (Cast's target), and the types allowed. */
interface Constraint {
  on: readonly number[] | 'inputs' | 'output';
  types: readonly DType[];
}

interface CudaKernel {
  since: number;
  until?: number;
  constraints: readonly Constraint[];
}

const FLOATS: DType[] = ['float32', 'float64'];
const NUMBERS: DType[] = ['float32', 'float64', 'int64'];
const ALL: DType[] = ['float32', 'float64', 'int64', 'bool'];
const INT64: DType[] = ['int64'];
const unary = (since: number, types: DType[], until?: number): CudaKernel => ({ since, until, constraints: [{ on: [0], types }] });
const binary = (since: number, types: DType[], until?: number): CudaKernel => ({ since, until, constraints: [{ on: [0, 1], types }] });

export const CUDA_KERNELS_SOURCE = 'onnxruntime docs/OperatorKernels.md @ 001d12d2623f (CUDAExecutionProvider)';

export const CUDA_KERNELS: Readonly<Record<string, CudaKernel>> = {
  Add: binary(14, NUMBERS),
  Sub: binary(14, NUMBERS),
  Mul: binary(14, NUMBERS),
  Div: binary(14, NUMBERS),
  Neg: unary(13, NUMBERS),
  Relu: unary(14, FLOATS),
  Sqrt: unary(13, FLOATS),
  Reciprocal: unary(13, FLOATS),
  Exp: unary(13, FLOATS),
  Log: unary(13, FLOATS),
  Equal: binary(13, ALL),
  Greater: binary(13, NUMBERS),
  Cast: { since: 13, until: 18, constraints: [{ on: [0], types: ALL }, { on: 'output', types: ALL }] },
  Where: { since: 16, constraints: [{ on: [0], types: ['bool'] }, { on: [1, 2], types: NUMBERS }] },
  Conv: { since: 11, until: 21, constraints: [{ on: [0, 1, 2], types: FLOATS }] },
  ConvTranspose: { since: 11, constraints: [{ on: [0, 1, 2], types: FLOATS }] },
  MatMul: binary(13, FLOATS),
  Gemm: { since: 13, constraints: [{ on: [0, 1, 2], types: FLOATS }] },
  Reshape: { since: 14, until: 18, constraints: [{ on: [0], types: ALL }, { on: [1], types: INT64 }] },
  Transpose: unary(13, ALL, 20),
  Slice: { since: 13, constraints: [{ on: [0], types: ALL }, { on: [1, 2, 3, 4], types: INT64 }] },
  Pad: { since: 13, until: 17, constraints: [{ on: [0, 2], types: ['float32', 'float64', 'bool'] }, { on: [1], types: INT64 }] },
  Concat: { since: 13, constraints: [{ on: 'inputs', types: ALL }] },
  Expand: { since: 13, constraints: [{ on: [0], types: ALL }, { on: [1], types: INT64 }] },
  Identity: unary(14, ALL, 18),
  Gather: { since: 13, constraints: [{ on: [0], types: ALL }, { on: [1], types: INT64 }] },
  Unsqueeze: { since: 13, until: 20, constraints: [{ on: [0], types: ALL }, { on: [1], types: INT64 }] },
  ReduceSum: { since: 13, constraints: [{ on: [0], types: NUMBERS }, { on: [1], types: INT64 }] },
  ReduceMean: unary(1, FLOATS, 17),
  ReduceMax: unary(1, NUMBERS, 17),
  ArgMax: unary(13, FLOATS),
  // Imported networks (src/nn/imported.ts): ReLU6 and max pooling.
  Clip: unary(13, FLOATS),
  MaxPool: { since: 12, constraints: [{ on: [0], types: FLOATS }] },
  LogSoftmax: unary(13, FLOATS),
};

export interface UncoveredNode {
  node: string;
  opType: string;
  why: string;
}

const DTYPE_OF = new Map<number, DType>(Object.entries(DATA_TYPE).map(([dtype, code]) => [code, dtype as DType]));

/** The element type of a node's outputs, from its inputs' (the rules of the ops we emit). */
function outputType(n: onnx.INodeProto, inputs: (DType | undefined)[]): DType | undefined {
  switch (n.opType) {
    case 'Cast':
      return DTYPE_OF.get(Number(n.attribute?.find((a) => a.name === 'to')?.i));
    case 'ArgMax':
      return 'int64';
    case 'Equal':
    case 'Greater':
      return 'bool';
    case 'Where':
      return inputs[1];
    default:
      return inputs[0];
  }
}

/**
 * The nodes of a model that ORT's CUDA provider would not run (per CUDA_KERNELS): an op or
 * domain without a kernel, an opset outside its kernel's range, or an element type it lacks.
 */
export function uncoveredByCuda(model: onnx.IModelProto): UncoveredNode[] {
  const graph = model.graph!;
  const opset = Number(model.opsetImport?.find((o) => !o.domain)?.version ?? OPSET);
  const types = new Map<string, DType | undefined>();
  for (const v of graph.input ?? []) types.set(v.name!, DTYPE_OF.get(v.type!.tensorType!.elemType!));
  for (const t of graph.initializer ?? []) types.set(t.name!, DTYPE_OF.get(t.dataType!));
  const uncovered: UncoveredNode[] = [];
  for (const n of graph.node ?? []) {
    const names = n.input ?? [];
    const inputs = names.map((name) => types.get(name));
    const output = outputType(n, inputs);
    (n.output ?? []).forEach((o) => types.set(o, output));
    const kernel = n.domain ? undefined : CUDA_KERNELS[n.opType!];
    const say = (why: string) => uncovered.push({ node: n.name!, opType: `${n.domain ? `${n.domain}:` : ''}${n.opType}`, why });
    if (!kernel) {
      say('no CUDA kernel');
      continue;
    }
    if (opset < kernel.since || (kernel.until !== undefined && opset > kernel.until)) {
      say(`the CUDA kernel covers opsets ${kernel.since}–${kernel.until ?? ''}, not ${opset}`);
      continue;
    }
    for (const c of kernel.constraints) {
      // An optional input left out has the empty name and no type.
      const positions = c.on === 'output' ? [] : c.on === 'inputs' ? names.map((_, i) => i) : c.on;
      const bound = c.on === 'output' ? [output] : positions.filter((i) => names[i]).map((i) => inputs[i]);
      const bad = bound.findIndex((t) => !t || !c.types.includes(t));
      if (bad >= 0) say(`no CUDA kernel for element type ${bound[bad] ?? 'unknown'}`);
    }
  }
  return uncovered;
}
