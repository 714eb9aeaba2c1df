/**
 * The state a program carries from run to run: its output `next.<name>` is its input `<name>` on
 * the next run. On WebGPU those outputs are device buffers, so the state never leaves the device.
 */
import * as ort from 'onnxruntime-node';
import { disposeTensors } from './device';
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
