/**
 * Running programs with onnxruntime-node: one InferenceSession per program, feeds and fetches by
 * name, and an explicit choice of execution provider that never falls back silently.
 *
 * Inputs and outputs are ort.Tensors underneath, so on WebGPU the outputs named `deviceOutputs`
 * stay on the device as GPU buffers and can be fed back as the next run's inputs; everything else
 * comes back to host memory. (CUDA from node has no device-resident tensors: the binding makes
 * every input in CPU memory, so there every run copies its state up and back.)
 */
import * as ort from 'onnxruntime-node';
import { DType, Graph, Shape, TypedArray } from '../graph/ir';
import { serialize, SerializeOptions } from '../graph/onnx';
import { downloadTensors, isOnDevice } from './device';
import { nchwcBlockSize } from './nchwc';
import { checkExecutionProvider, ExecutionProvider, explainLoadError, providerOptions } from './providers';

export { CUDA_HELP, checkExecutionProvider, WEBGPU_HELP } from './providers';
export type { ExecutionProvider } from './providers';

export interface RuntimeOptions {
  ep?: ExecutionProvider;
  /** Intra-op threads; 0 lets ORT choose (one per core). */
  threads?: number;
  /** Write ORT's per-op profile (JSON) with this file prefix. */
  profilePrefix?: string;
  /** On the CPU, run convolutions with ORT's NCHWc kernels where the channels allow (default true; see ops/conv.ts). */
  nchwc?: boolean;
  /** Off the CPU, let nodes without a kernel on the device run on the CPU (default false: such a program fails to load). For diagnosis only. */
  allowCpuFallback?: boolean;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = { float32: 'float32', float64: 'float64', int64: 'int64', bool: 'bool' };

/** How Program.create serializes a graph for these options: NCHWc kernels on the CPU unless turned off; on WebGPU, no op it lacks. */
export async function serializeOptions(options: RuntimeOptions): Promise<SerializeOptions> {
  const ep = options.ep ?? 'cpu';
  return { nchwcBlock: ep === 'cpu' && options.nchwc !== false ? await nchwcBlockSize() : 0, composeLogSoftmax: ep === 'webgpu' };
}

export type Feeds = Record<string, TypedArray>;
export type Fetches = Record<string, TypedArray>;
/** Feeds that may already be tensors (a previous run's outputs, possibly on the device). */
export type TensorFeeds = Record<string, TypedArray | ort.Tensor>;
/** Outputs as tensors (on the host or the device) or host arrays. */
export type TensorFetches = Record<string, TypedArray | ort.Tensor>;
export type Signature = Map<string, { shape: Shape; dtype: DType }>;

/**
 * Nodes onnxruntime's WebGPU provider computes wrongly, refused rather than run (docs/onnxruntime.md,
 * measured on ORT 1.30): a ConvTranspose in groups of one output channel from several input
 * channels, at a stride above 1. Our backward pass emits it for the input gradient of a strided
 * grouped conv whose groups take one channel and give several (a depthwise conv with a channel
 * multiplier); plain depthwise and other grouped convs are computed right.
 */
export function refuseWrongOnWebGpu(graph: Graph): void {
  const wrong = graph.nodes.filter((n) => {
    if (n.op.name !== 'ConvTranspose') return false;
    const group = Number(n.attrs.group ?? 1);
    const strides = (n.attrs.strides as readonly number[] | undefined) ?? [1, 1];
    const [inPerGroup, outPerGroup] = [n.inputs[1].shape[0] / group, n.inputs[1].shape[1]];
    return group > 1 && outPerGroup === 1 && inPerGroup > 1 && strides.some((v) => v > 1);
  });
  if (wrong.length > 0) {
    throw new Error(`program ${graph.name}: ${wrong.length} grouped ConvTranspose node(s) (one output channel per group, stride > 1: the input gradient of a strided depthwise conv with a channel multiplier) compute wrong values on onnxruntime's WebGPU provider; train this model with --ep cpu or --ep cuda`);
  }
}

/** A compiled program: its graph's input/output signature and an ORT session. */
export class Program {
  private constructor(
    readonly name: string,
    readonly ep: ExecutionProvider,
    private readonly session: ort.InferenceSession,
    private readonly inputTypes: Signature,
    readonly outputNames: string[],
  ) {}

  /** `deviceOutputs`: outputs that stay on the device (WebGPU) for the next run; elsewhere they come to the host as usual. */
  static async create(graph: Graph, options: RuntimeOptions = {}, deviceOutputs: readonly string[] = []): Promise<Program> {
    if (options.ep === 'webgpu') refuseWrongOnWebGpu(graph);
    return Program.fromBytes(graph.name, await Program.bytes(graph, options), signature(graph), [...graph.outputs.keys()], options, deviceOutputs);
  }

  /** The ONNX bytes `create` hands ORT for `graph` with these options. */
  static async bytes(graph: Graph, options: RuntimeOptions = {}): Promise<Uint8Array> {
    return serialize(graph, await serializeOptions(options));
  }

  static async fromBytes(
    name: string,
    bytes: Uint8Array,
    inputs: Signature,
    outputs: string[],
    options: RuntimeOptions = {},
    deviceOutputs: readonly string[] = [],
  ): Promise<Program> {
    const ep = options.ep ?? 'cpu';
    checkExecutionProvider(ep);
    if (ep === 'webgpu') {
      const f64 = [...inputs].find(([, t]) => t.dtype === 'float64');
      if (f64) throw new Error(`program ${name}: input ${f64[0]} is float64, which WebGPU does not have; run this program with --ep cpu`);
    }
    for (const d of deviceOutputs) if (!outputs.includes(d)) throw new Error(`program ${name}: device output ${d} is not one of its outputs`);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      ...providerOptions(ep, options.allowCpuFallback),
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      // Without the memory pattern the arena reuses freed blocks across a run: the train step of
      // preresnet20 (batch 128) peaks at 460 instead of 824 MB RSS, at the same speed (517 vs 513
      // ms/step). Without the arena it is slower (637 ms/step).
      enableMemPattern: false,
      enableCpuMemArena: true,
      // ORT's pool threads keep spinning between ops (its default). Beside other busy processes,
      // not spinning (or a 20 µs spin) was faster: preresnet20 440–600 against 690–860 ms/step. On
      // an idle machine it was slower: cnn4 68–76 (20 µs: 62–71) against 58–59 ms/step, preresnet20
      // 280–302 (20 µs: 258–280) against 235–284: waking a sleeping thread costs more than it saves.
      ...(ep === 'webgpu' && deviceOutputs.length > 0 ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((o) => [o, 'gpu-buffer' as const])) } : {}),
      ...(options.profilePrefix ? { enableProfiling: true, profileFilePrefix: options.profilePrefix } : {}),
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions);
    } catch (e) {
      throw explainLoadError(ep, name, (e as Error).message);
    }
    return new Program(name, ep, session, inputs, outputs);
  }

  get inputNames(): string[] {
    return [...this.inputTypes.keys()];
  }

  get signature(): Signature {
    return this.inputTypes;
  }

  /** Runs the program; every fetched output comes to the host. Every declared input must be fed; fetches default to every output. */
  async run(feeds: TensorFeeds, fetches: readonly string[] = this.outputNames): Promise<Fetches> {
    const out: Fetches = {};
    for (const [name, t] of Object.entries(await this.runTensors(feeds, fetches))) out[name] = t.data;
    return out;
  }

  /** As run, with the shape ORT reports for each output. */
  async runTensors(feeds: TensorFeeds, fetches: readonly string[] = this.outputNames): Promise<Record<string, { data: TypedArray; dims: readonly number[] }>> {
    const results = await this.runOnDevice(feeds, fetches);
    const host = await downloadTensors(Object.fromEntries(Object.entries(results).filter(([, t]) => isOnDevice(t))));
    const out: Record<string, { data: TypedArray; dims: readonly number[] }> = {};
    for (const name of fetches) out[name] = { data: host[name] ?? (results[name].data as TypedArray), dims: results[name].dims };
    return out;
  }

  /**
   * Runs the program with tensors in and out: outputs created with `deviceOutputs` stay where
   * the provider put them (the caller disposes them), and such tensors can be fed back as inputs.
   */
  async runOnDevice(feeds: TensorFeeds, fetches: readonly string[] = this.outputNames): Promise<Record<string, ort.Tensor>> {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, { shape, dtype }] of this.inputTypes) {
      const value = feeds[name];
      if (!value) throw new Error(`program ${this.name}: missing input ${name}`);
      // A typed array is host data; anything else is a tensor (ort.Tensor's class may come from another realm under jest).
      tensors[name] = ArrayBuffer.isView(value) ? hostTensor(this.name, name, value, shape, dtype) : checkTensor(this.name, name, value, shape, dtype);
      if (isOnDevice(tensors[name]) && this.ep !== 'webgpu') throw new Error(`program ${this.name} runs on ${this.ep}, but its input ${name} is a WebGPU buffer`);
    }
    const results = await this.session.run(tensors, fetches as string[]);
    const out: Record<string, ort.Tensor> = {};
    for (const name of fetches) out[name] = results[name];
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

function hostTensor(program: string, name: string, data: TypedArray, shape: Shape, dtype: DType): ort.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new Error(`program ${program}: input ${name} has ${data.length} values, expected [${shape.join(',')}] = ${size}`);
  return new ort.Tensor(ORT_TYPE[dtype], data as never, shape as number[]);
}

function checkTensor(program: string, name: string, t: ort.Tensor, shape: Shape, dtype: DType): ort.Tensor {
  if (t.type !== ORT_TYPE[dtype] || t.dims.length !== shape.length || t.dims.some((d, i) => d !== shape[i])) {
    throw new Error(`program ${program}: input ${name} is ${t.type} [${t.dims.join(',')}], expected ${dtype} [${shape.join(',')}]`);
  }
  return t;
}

export function signature(graph: Graph): Signature {
  return new Map(graph.inputs.map((v) => [v.name, { shape: v.shape, dtype: v.dtype }]));
}
