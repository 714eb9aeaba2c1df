/**
 * The execution providers a program can run on, what each needs on this machine, and the session
 * options that make it refuse to move a node to the CPU behind our back.
 *
 * - cpu: always there.
 * - cuda: onnxruntime-node's install script copies `libonnxruntime_providers_cuda.so` (and
 *   `_shared.so`, `_tensorrt.so`) out of the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux of
 *   the same version; npm itself never ships it.
 * - webgpu: bundled in onnxruntime-node on linux-x64; it runs through Dawn on Vulkan, so it needs
 *   a Vulkan driver (a GPU's, or SwiftShader's on the CPU) and keeps outputs on the device when asked.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'webgpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/**
 * What the CUDA provider of onnxruntime-node 1.30 needs. Read, not checked here: ORT's CUDA
 * packages are built for CUDA 13 since 1.27 deprecated CUDA 12 (the provider of the same NuGet
 * package at 1.29 links libcublas.so.13, libcublasLt.so.13, libcudart.so.13 and libcurand.so.10,
 * and loads cuDNN 9 at run time); CUDA 13 needs an NVIDIA driver ≥ 580. `ilr doctor --ep cuda`
 * lists what the installed provider actually links and which of those the loader cannot find.
 */
export const CUDA_REQUIREMENTS = 'CUDA 13 (libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10), cuDNN 9 and an NVIDIA driver ≥ 580';

export const CUDA_HELP =
  'The CUDA execution provider of onnxruntime-node is not installed. onnxruntime-node takes it from the NuGet package ' +
  `Microsoft.ML.OnnxRuntime.Gpu.Linux of its own version, so api.nuget.org must be reachable. On a machine with an NVIDIA GPU and ${CUDA_REQUIREMENTS}, ` +
  'run `make setup ORT_INSTALL=cuda` (it runs `ONNXRUNTIME_NODE_INSTALL=1 node script/install` in node_modules/onnxruntime-node), ' +
  'then `ilr doctor --ep cuda` to check it; or use --ep cpu or --ep webgpu.';

export const WEBGPU_HELP =
  'The WebGPU execution provider found no adapter: it needs a Vulkan driver. With a GPU, install its Vulkan driver (and libvulkan1); ' +
  'without one, SwiftShader runs WebGPU on the CPU: `apt-get install chromium libvulkan1`, then ' +
  'export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json and XDG_RUNTIME_DIR (any private directory). ' +
  '`ilr doctor --ep webgpu` checks it.';

const bindingPackage = (): string => require.resolve('onnxruntime-node/package.json');

export const ortVersion = (): string => JSON.parse(fs.readFileSync(bindingPackage(), 'utf8')).version;

/** The directory onnxruntime-node loads its native libraries from; the CUDA provider must sit there too. */
export function nativeLibraryDir(): string {
  return path.join(path.dirname(bindingPackage()), 'bin', 'napi-v6', process.platform, process.arch);
}

export const cudaProviderPath = (): string => path.join(nativeLibraryDir(), 'libonnxruntime_providers_cuda.so');

export function parseExecutionProvider(text: string, flag = '--ep'): ExecutionProvider {
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(text)) throw new Error(`${flag} "${text}": expected ${EXECUTION_PROVIDERS.join(', ')}`);
  return text as ExecutionProvider;
}

/** Fails before any session is made when the provider cannot be there at all. */
export function checkExecutionProvider(ep: ExecutionProvider): void {
  parseExecutionProvider(ep, 'execution provider');
  if (ep === 'cuda' && !fs.existsSync(cudaProviderPath())) throw new Error(CUDA_HELP);
  if (ep === 'webgpu' && !ort.listSupportedBackends().some((b) => b.name === 'webgpu')) {
    throw new Error(`this onnxruntime-node (${ortVersion()}) has no WebGPU execution provider on ${process.platform}/${process.arch}: use --ep cpu`);
  }
}

/** Rewrites ORT's own load error into what to do about it. */
export function explainLoadError(ep: ExecutionProvider, program: string, message: string): Error {
  if (ep === 'cuda') return new Error(`${CUDA_HELP}\n(onnxruntime said, loading program ${program}: ${message})`);
  if (ep === 'webgpu' && /WebGPU adapter/.test(message)) return new Error(`${WEBGPU_HELP}\n(onnxruntime said: ${message})`);
  if (/fallback to CPU EP has been explicitly disabled/i.test(message)) {
    return new Error(`program ${program}: some of its nodes have no ${ep} kernel and would run on the CPU; \`ilr doctor --ep ${ep}\` names them\n(onnxruntime said: ${message})`);
  }
  return new Error(`onnxruntime could not load program ${program} on ${ep}: ${message}`);
}

/**
 * The session options that choose the provider. Off the CPU, a node without a kernel on the
 * device would silently run on the CPU (and copy its operands across every step), so fallback is
 * disabled unless a diagnosis asks for it (to name such nodes in a profile).
 */
export function providerOptions(ep: ExecutionProvider, allowCpuFallback = false): Pick<ort.InferenceSession.SessionOptions, 'executionProviders' | 'extra'> {
  if (ep === 'cpu') return { executionProviders: ['cpu'] };
  return { executionProviders: [ep], extra: { session: { disable_cpu_ep_fallback: allowCpuFallback ? '0' : '1' } } };
}
