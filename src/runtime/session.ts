/**
 * Running programs with onnxruntime-node: one InferenceSession per program, feeds and fetches by
 * name, and an explicit choice of execution provider that never falls back silently.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { DType, Graph, Shape, TypedArray } from '../graph/ir';
import { serialize, SerializeOptions } from '../graph/onnx';
import { nchwcBlockSize } from './nchwc';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface RuntimeOptions {
  ep?: ExecutionProvider;
  /** Intra-op threads; 0 lets ORT choose (one per core). */
  threads?: number;
  /** Write ORT's per-op profile (JSON) with this file prefix. */
  profilePrefix?: string;
  /** On the CPU, run convolutions with ORT's NCHWc kernels where the channels allow (default true; see ops/conv.ts). */
  nchwc?: boolean;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = { float32: 'float32', float64: 'float64', int64: 'int64', bool: 'bool' };

export const CUDA_HELP =
  'The CUDA execution provider of onnxruntime-node is not installed. On a machine with an NVIDIA GPU, CUDA 12 and internet access, ' +
  'run `make setup ORT_INSTALL=cuda12` (it reinstalls onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12), or use --ep cpu.';

/** Where onnxruntime-node keeps its native libraries; the CUDA provider is a separate shared library there. */
function cudaProviderPath(): string {
  const bindingDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(bindingDir, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
}

export function checkExecutionProvider(ep: ExecutionProvider): void {
  if (ep === 'cpu') return;
  if (ep !== 'cuda') throw new Error(`unknown execution provider "${ep}": use cpu or cuda`);
  if (!fs.existsSync(cudaProviderPath())) throw new Error(CUDA_HELP);
}

/** How Program.create serializes a graph for these options: NCHWc kernels on the CPU unless turned off. */
export async function serializeOptions(options: RuntimeOptions): Promise<SerializeOptions> {
  return { nchwcBlock: (options.ep ?? 'cpu') === 'cpu' && options.nchwc !== false ? await nchwcBlockSize() : 0 };
}

export type Feeds = Record<string, TypedArray>;
export type Fetches = Record<string, TypedArray>;

/** A compiled program: its graph's input/output signature and an ORT session. */
export class Program {
  private constructor(
    readonly name: string,
    private readonly session: ort.InferenceSession,
    private readonly inputTypes: Map<string, { shape: Shape; dtype: DType }>,
    readonly outputNames: string[],
  ) {}

  static async create(graph: Graph, options: RuntimeOptions = {}): Promise<Program> {
    return Program.fromBytes(graph.name, serialize(graph, await serializeOptions(options)), signature(graph), [...graph.outputs.keys()], options);
  }

  static async fromBytes(name: string, bytes: Uint8Array, inputs: Map<string, { shape: Shape; dtype: DType }>, outputs: string[], options: RuntimeOptions = {}): Promise<Program> {
    const ep = options.ep ?? 'cpu';
    checkExecutionProvider(ep);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [ep],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      // Without the memory pattern the arena reuses freed blocks across a run: the train step of
      // preresnet20 (batch 128) peaks at 460 instead of 824 MB RSS, at the same speed (517 vs 513
      // ms/step). Without the arena it is slower (637 ms/step).
      enableMemPattern: false,
      enableCpuMemArena: true,
      ...(options.profilePrefix ? { enableProfiling: true, profileFilePrefix: options.profilePrefix } : {}),
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions);
    } catch (e) {
      const msg = (e as Error).message;
      if (ep === 'cuda') throw new Error(`${CUDA_HELP}\n(onnxruntime said: ${msg})`);
      throw new Error(`onnxruntime could not load program ${name}: ${msg}`);
    }
    return new Program(name, session, inputs, outputs);
  }

  get inputNames(): string[] {
    return [...this.inputTypes.keys()];
  }

  inputShape(name: string): Shape {
    const t = this.inputTypes.get(name);
    if (!t) throw new Error(`program ${this.name} has no input ${name}`);
    return t.shape;
  }

  /** Runs the program. Every declared input must be fed; fetches default to every output. */
  async run(feeds: Feeds, fetches: readonly string[] = this.outputNames): Promise<Fetches> {
    const out: Fetches = {};
    for (const [name, t] of Object.entries(await this.runTensors(feeds, fetches))) out[name] = t.data;
    return out;
  }

  /** As run, with the shape ORT reports for each output. */
  async runTensors(feeds: Feeds, fetches: readonly string[] = this.outputNames): Promise<Record<string, { data: TypedArray; dims: readonly number[] }>> {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, { shape, dtype }] of this.inputTypes) {
      const data = feeds[name];
      if (!data) throw new Error(`program ${this.name}: missing input ${name}`);
      const size = shape.reduce((a, b) => a * b, 1);
      if (data.length !== size) throw new Error(`program ${this.name}: input ${name} has ${data.length} values, expected [${shape.join(',')}] = ${size}`);
      tensors[name] = new ort.Tensor(ORT_TYPE[dtype], data as never, shape as number[]);
    }
    const results = await this.session.run(tensors, fetches as string[]);
    const out: Record<string, { data: TypedArray; dims: readonly number[] }> = {};
    for (const name of fetches) out[name] = { data: results[name].data as TypedArray, dims: results[name].dims };
    return out;
  }

  /** Ends profiling; ORT writes the profile to `<profilePrefix>_<date>.json`. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export function signature(graph: Graph): Map<string, { shape: Shape; dtype: DType }> {
  return new Map(graph.inputs.map((v) => [v.name, { shape: v.shape, dtype: v.dtype }]));
}
