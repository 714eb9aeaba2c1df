/**
 * Tensors that live on the WebGPU device: telling them apart, bringing them to the host, freeing them.
 *
 * onnxruntime-node cannot read a GPU buffer back by itself (its tensors' `download` is not
 * implemented), so a buffer comes down by running an Identity program on WebGPU whose outputs
 * are left in host memory. One such program per list of shapes, made once.
 */
import * as ort from 'onnxruntime-node';
import { DType, Graph, TypedArray } from '../graph/ir';
import { serialize } from '../graph/onnx';
import { identity } from '../ops/shape';
import { explainLoadError, providerOptions } from './providers';

export const isOnDevice = (t: ort.Tensor): boolean => t.location === 'gpu-buffer';

const copyPrograms = new Map<string, Promise<ort.InferenceSession>>();

function copyProgram(tensors: readonly ort.Tensor[]): Promise<ort.InferenceSession> {
  const key = tensors.map((t) => `${t.type}[${t.dims.join(',')}]`).join(' ');
  let session = copyPrograms.get(key);
  if (!session) {
    const g = new Graph('download');
    tensors.forEach((t, i) => g.output(`y${i}`, identity(g.input(`x${i}`, t.dims, t.type as DType))));
    session = ort.InferenceSession.create(serialize(g), providerOptions('webgpu')).catch((e: Error) => {
      copyPrograms.delete(key);
      throw explainLoadError('webgpu', g.name, e.message);
    });
    copyPrograms.set(key, session);
  }
  return session;
}

/** Host copies of the given tensors, by name; tensors already in host memory are passed through. */
export async function downloadTensors(tensors: Record<string, ort.Tensor>): Promise<Record<string, TypedArray>> {
  const out: Record<string, TypedArray> = {};
  const onDevice: [string, ort.Tensor][] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (isOnDevice(t)) onDevice.push([name, t]);
    else out[name] = t.data as TypedArray;
  }
  if (onDevice.length === 0) return out;
  const session = await copyProgram(onDevice.map(([, t]) => t));
  const results = await session.run(Object.fromEntries(onDevice.map(([, t], i) => [`x${i}`, t])));
  onDevice.forEach(([name], i) => (out[name] = results[`y${i}`].data as TypedArray));
  return out;
}

/** The values of `out` that are in host memory, as arrays; device buffers are left out. */
export function hostValues(out: Record<string, TypedArray | ort.Tensor>): Record<string, TypedArray> {
  const host: Record<string, TypedArray> = {};
  for (const [k, v] of Object.entries(out)) {
    if (ArrayBuffer.isView(v)) host[k] = v;
    else if (!isOnDevice(v)) host[k] = v.data as TypedArray;
  }
  return host;
}

/** Frees the device memory of the given tensors now rather than at garbage collection; host tensors are left alone. */
export function disposeTensors(tensors: Iterable<ort.Tensor>): void {
  for (const t of tensors) if (isOnDevice(t)) t.dispose();
}
