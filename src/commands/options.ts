/** Option parsing shared by the commands: each parser says what is wrong and what a good value looks like. */
import { InputShape } from '../nn/model';
import { ExecutionProvider, parseExecutionProvider } from '../runtime/providers';

export function parseInputShape(text: string): InputShape {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--input "${text}": expected CxHxW, e.g. 3x32x32 or 1x28x28`);
  const shape = [Number(m[1]), Number(m[2]), Number(m[3])] as InputShape;
  if (shape[0] < 1 || shape[1] < 8 || shape[2] < 8) throw new Error(`--input "${text}": need C ≥ 1 and H, W ≥ 8`);
  return shape;
}

/** `--betas β₁,β₂` of the Adam optimizers. */
export function parseBetas(text: string): [number, number] {
  const betas = text.split(',').map(Number);
  if (betas.length !== 2 || !betas.every(Number.isFinite)) throw new Error(`--betas "${text}": expected two numbers β₁,β₂, e.g. 0.9,0.999`);
  return [betas[0], betas[1]];
}

/** A list of batch sizes, e.g. `128` or `32,128,256`. */
export function parseBatches(text: string): number[] {
  const sizes = text.split(',').map((t) => Number(t.trim()));
  if (!sizes.length || sizes.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`--batch "${text}": expected whole numbers ≥ 1, separated by commas (e.g. 32,128,256)`);
  return sizes;
}

export const parseEp = (text: string): ExecutionProvider => parseExecutionProvider(text, '--ep');

/** Common yargs option definitions, so every command describes them the same way. */
export const commonOptions = {
  ep: { type: 'string', default: 'cpu', describe: 'execution provider: cpu, cuda (needs `make setup ORT_INSTALL=cuda`) or webgpu (needs a Vulkan driver); `ilr doctor --ep EP` checks one' },
  threads: { type: 'number', default: 0, describe: 'ORT intra-op threads (0 = one per core)' },
  seed: { type: 'number', default: 0, describe: 'random seed (initialisation, data order, augmentation)' },
} as const;
