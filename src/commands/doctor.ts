/**
 * `ilr doctor`: whether an execution provider works here, and if not, what is missing and how to
 * get it. It checks the ORT build and its providers; for CUDA the provider's files and every shared
 * library they need that the loader cannot find, and the static check that every zoo program's
 * nodes (or, with --model, every program of that model, an imported .onnx one included) have CUDA kernels; for WebGPU the adapter; then one train step of a small model against the
 * CPU, with fallback to the CPU disabled, naming any node that would fall back. The capabilities
 * it uses are the runtime's (providers.ts, diagnose.ts, cuda-kernels.ts).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { CommandModule } from 'yargs';
import { Graph } from '../graph/ir';
import { modelSpec } from '../nn/spec';
import { trainStepGraph } from '../programs/programs';
import { toModelProto } from '../graph/onnx';
import { allPrograms, ZOO, ZooEntry } from '../programs/zoo';
import { CUDA_KERNELS_SOURCE, uncoveredByCuda } from '../runtime/cuda-kernels';
import { compareWithCpu, cpuFallbackNodes } from '../runtime/diagnose';
import { CUDA_HELP, CUDA_REQUIREMENTS, cudaProviderPath, ExecutionProvider, nativeLibraryDir, ortVersion } from '../runtime/providers';
import { sampleFeeds } from '../runtime/sample';
import { serializeOptions, Program } from '../runtime/session';
import { parseEp, parseInputShape } from './options';

export interface Finding {
  ok: boolean;
  what: string;
  detail: string;
}

/** The train step doctor runs: cnn4 with momentum, small enough for SwiftShader. */
export interface DoctorCase {
  model: string;
  batch: number;
  input: [number, number, number];
}

export const DOCTOR_CASE: DoctorCase = { model: 'cnn4', batch: 4, input: [3, 16, 16] };
/** Largest relative difference to the CPU accepted for one float32 train step (reassociated sums, a few ulps through the layers). */
export const DOCTOR_TOLERANCE = 1e-4;

export function ortFindings(): Finding[] {
  const backends = ort.listSupportedBackends().map((b) => `${b.name}${b.bundled ? '' : ' (separate download)'}`);
  return [{ ok: true, what: 'onnxruntime-node', detail: `${ortVersion()}; providers: ${backends.join(', ')}` }];
}

/** Shared libraries `file` needs that the dynamic loader cannot find (ldd's "not found"). */
export function missingLibraries(file: string): string[] {
  const out = execFileSync('ldd', [file], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('=> not found')).map((l) => l.trim().split(/\s+/)[0]);
}

/** Whether the loader's cache knows a library by this name (cuDNN is opened at run time, so ldd does not list it). */
function inLoaderCache(soname: string): boolean {
  try {
    return execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes(soname) || (process.env.LD_LIBRARY_PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, soname)));
  } catch {
    return false;
  }
}

/** Every node of every program of the models (the zoo's, or the one --model names) has a CUDA kernel (static: needs no GPU). */
export async function cudaCoverageFinding(models: readonly ZooEntry[] = ZOO): Promise<Finding> {
  const options = await serializeOptions({ ep: 'cuda' });
  const uncovered = models.flatMap((entry) => allPrograms(entry).flatMap((g) => uncoveredByCuda(toModelProto(g, options)).map((u) => `${entry.name}/${g.name}: ${u.node} (${u.opType}) ${u.why}`)));
  const which = models === ZOO ? 'every zoo program' : `every program of ${models.map((m) => m.name).join(', ')}`;
  return { ok: uncovered.length === 0, what: `CUDA kernels (${CUDA_KERNELS_SOURCE})`, detail: uncovered.length ? uncovered.join('; ') : `every node of ${which} has one` };
}

export function cudaFindings(): Finding[] {
  const provider = cudaProviderPath();
  const shared = path.join(nativeLibraryDir(), 'libonnxruntime_providers_shared.so');
  const files = [provider, shared].map((f) => ({ ok: fs.existsSync(f), what: path.basename(f), detail: fs.existsSync(f) ? f : `missing from ${nativeLibraryDir()}` }));
  if (files.some((f) => !f.ok)) return [...files, { ok: false, what: 'how to install', detail: CUDA_HELP }];
  const missing = missingLibraries(provider);
  const cudnn = inLoaderCache('libcudnn.so.9');
  return [
    ...files,
    {
      ok: missing.length === 0,
      what: 'libraries the provider links',
      detail: missing.length ? `not found by the loader: ${missing.join(', ')}. Needs ${CUDA_REQUIREMENTS}; add their directories to LD_LIBRARY_PATH` : 'all found',
    },
    { ok: cudnn, what: 'cuDNN 9 (opened at run time)', detail: cudnn ? 'libcudnn.so.9 found' : 'libcudnn.so.9 is not in the loader cache or LD_LIBRARY_PATH: install cuDNN 9 for CUDA 13' },
  ];
}

export async function webgpuFindings(): Promise<Finding[]> {
  const icd = process.env.VK_ICD_FILENAMES;
  const where = icd ? `Vulkan driver from VK_ICD_FILENAMES=${icd}` : 'the system Vulkan driver';
  const g = new Graph('adapter_probe');
  g.output('y', g.input('x', [1]));
  try {
    await (await Program.create(g, { ep: 'webgpu' })).release();
    return [{ ok: true, what: 'WebGPU adapter', detail: `found (${where})` }];
  } catch (e) {
    return [{ ok: false, what: 'WebGPU adapter', detail: `none (${where}): ${(e as Error).message}` }];
  }
}

/** One train step on `ep` against the CPU; a load failure because of fallback names the nodes. */
export async function trainStepFinding(ep: ExecutionProvider, c: DoctorCase = DOCTOR_CASE): Promise<Finding> {
  const spec = modelSpec(c.model, { inChannels: c.input[0] });
  const graph = trainStepGraph({ spec, batch: c.batch, input: c.input }, { name: 'sgd', momentum: 0.9 });
  const feeds = sampleFeeds(graph, spec, c.input, 0);
  const what = `one ${c.model} train step (batch ${c.batch}, ${c.input.join('x')}) on ${ep} vs cpu`;
  try {
    const { max, differences } = await compareWithCpu(graph, feeds, ep);
    const worst = Object.entries(differences).sort((a, b) => b[1] - a[1])[0];
    return { ok: max <= DOCTOR_TOLERANCE, what, detail: `max relative difference ${max.toExponential(2)} (${worst[0]}; tolerance ${DOCTOR_TOLERANCE}), no node on the CPU` };
  } catch (e) {
    const message = (e as Error).message;
    if (!/would run on the CPU/.test(message)) return { ok: false, what, detail: message };
    try {
      const nodes = await cpuFallbackNodes(graph, feeds, ep);
      return { ok: false, what, detail: `nodes without a ${ep} kernel: ${nodes.map((n) => `${n.node} (${n.opType})`).join(', ')}` };
    } catch (e2) {
      // A kernel that exists but refuses the node at run time (WebGPU's MaxPool refuses an Indices output).
      return { ok: false, what, detail: `${message}; with fallback to the CPU allowed, the run fails: ${(e2 as Error).message}` };
    }
  }
}

/** The checks on `ep`; with `model` (any model name, an imported .onnx included) its programs instead of the zoo's and the small case. */
export async function doctor(ep: ExecutionProvider, model?: DoctorCase): Promise<Finding[]> {
  const findings = ortFindings();
  if (ep === 'cuda') findings.push(await cudaCoverageFinding(model ? [{ name: model.model, input: model.input, batch: model.batch, description: '' }] : ZOO), ...cudaFindings());
  if (ep === 'webgpu') findings.push(...(await webgpuFindings()));
  if (findings.every((f) => f.ok)) findings.push(await trainStepFinding(ep, model));
  return findings;
}

interface Args {
  ep: string;
  model?: string;
  input: string;
}

export const doctorCommand: CommandModule<object, Args> = {
  command: 'doctor',
  describe: 'check an execution provider: ORT version and providers, CUDA libraries or the WebGPU adapter, and one train step against the CPU',
  builder: (y) =>
    y
      .option('ep', { type: 'string', default: 'cpu', describe: 'execution provider to check: cpu, cuda or webgpu' })
      .option('model', { type: 'string', describe: `check this model's programs instead of the zoo's (e.g. path/to/net.onnx; default: the zoo, and a ${DOCTOR_CASE.model} train step)` })
      .option('input', { type: 'string', default: '3x32x32', describe: 'with --model: its input shape CxHxW' }),
  handler: async (a) => {
    const findings = await doctor(parseEp(a.ep), a.model === undefined ? undefined : { model: a.model, batch: DOCTOR_CASE.batch, input: parseInputShape(a.input) });
    for (const f of findings) console.log(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.what}: ${f.detail}`);
    if (findings.some((f) => !f.ok)) process.exitCode = 1;
  },
};
