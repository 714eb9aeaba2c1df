/**
 * The state a program carries from run to run: its output `next.<name>` is its input `<name>` on
 * the next run. On WebGPU those outputs are device buffers, so the state never leaves the device
 * until it is downloaded; elsewhere they are host arrays.
 */
import * as ort from 'onnxruntime-node';
import { TypedArray } from '../graph/ir';
import { TensorMap } from '../graph/tensors';
import { disposeTensors, downloadTensors, isOnDevice } from './device';
import { TensorFeeds } from './session';

const NEXT = 'next.';

export const carriedOutputs = (outputs: Iterable<string>): string[] => [...outputs].filter((o) => o.startsWith(NEXT));
export const carriedInput = (output: string): string => output.slice(NEXT.length);

/**
 * The feeds of the next run: `feeds` with each carried input replaced by its new value. The
 * device buffers of the replaced values are freed; host arrays (the first run's) are left alone.
 */
export function advance(feeds: TensorFeeds, out: Record<string, ort.Tensor>, carried: readonly string[]): TensorFeeds {
  const next: TensorFeeds = { ...feeds };
  const replaced: ort.Tensor[] = [];
  for (const o of carried) {
    const name = carriedInput(o);
    const old = feeds[name];
    if (old && !ArrayBuffer.isView(old)) replaced.push(old);
    next[name] = out[o];
  }
  disposeTensors(replaced);
  return next;
}

/**
 * A named state (parameters, buffers, optimizer slots) as a program's runs see it: each entry a
 * host array, or a device buffer that a run left on the device. The host map keeps every entry's
 * dtype and shape; its data is current only for the entries not on the device.
 */
export class ResidentState {
  private constructor(private readonly host: TensorMap, private readonly device: ReadonlyMap<string, ort.Tensor>) {}

  static fromHost(state: TensorMap): ResidentState {
    return new ResidentState(state, new Map());
  }

  /** The entries held on the device (the rest are on the host). */
  get onDevice(): string[] {
    return [...this.device.keys()];
  }

  /** The state as program inputs, by name. */
  feeds(): TensorFeeds {
    const feeds: TensorFeeds = {};
    for (const [k, v] of this.host) feeds[k] = this.device.get(k) ?? v.data;
    return feeds;
  }

  /**
   * The state after a run: each entry with an output `next.<name>` takes it. This state's device
   * buffers that were replaced are freed, so this state must not be used again.
   */
  next(out: Record<string, TypedArray | ort.Tensor>): ResidentState {
    const host: TensorMap = new Map();
    const device = new Map<string, ort.Tensor>();
    const replaced: ort.Tensor[] = [];
    for (const [k, v] of this.host) {
      const updated = out[`${NEXT}${k}`];
      const old = this.device.get(k);
      if (updated && old) replaced.push(old);
      if (updated && !ArrayBuffer.isView(updated) && isOnDevice(updated)) {
        host.set(k, v);
        device.set(k, updated);
      } else if (updated) {
        host.set(k, { ...v, data: ArrayBuffer.isView(updated) ? updated : (updated.data as TypedArray) });
      } else {
        host.set(k, v);
        if (old) device.set(k, old);
      }
    }
    disposeTensors(replaced);
    return new ResidentState(host, device);
  }

  /** Everything on the host (the device buffers stay where they are). */
  async download(): Promise<TensorMap> {
    if (this.device.size === 0) return this.host;
    const fetched = await downloadTensors(Object.fromEntries(this.device));
    return new Map([...this.host].map(([k, v]) => [k, k in fetched ? { ...v, data: fetched[k] } : v]));
  }
}
