/** Option parsing shared by the commands: each parser says what is wrong and what a good value looks like. */
import type { TorchModuleRef } from '../bridge/parity';
import { InputShape } from '../nn/model';
import { ExecutionProvider, parseExecutionProvider } from '../runtime/providers';
import { optimizerDef, OptimizerSetting } from '../programs/optimizers';
import { CONFIG_FLAGS, DEFAULTS, TrainConfig } from '../train/config';

export function parseInputShape(text: string): InputShape {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--input "${text}": expected CxHxW, e.g. 3x32x32 or 1x28x28`);
  const shape = [Number(m[1]), Number(m[2]), Number(m[3])] as InputShape;
  if (shape[0] < 1 || shape[1] < 8 || shape[2] < 8) throw new Error(`--input "${text}": need C ≥ 1 and H, W ≥ 8`);
  return shape;
}

/** The optimizer setting each companion flag of `--optimizer` gives. */
const OPTIMIZER_SETTING_OF_FLAG = { momentum: 'momentum', nesterov: 'nesterov', betas: 'betas', 'adam-eps': 'eps' } as const satisfies Record<string, OptimizerSetting>;
export type OptimizerFlag = keyof typeof OPTIMIZER_SETTING_OF_FLAG;
export const OPTIMIZER_FLAGS = Object.keys(OPTIMIZER_SETTING_OF_FLAG) as OptimizerFlag[];

/** Refuses companion flags (given on the command line) that `optimizer` does not read, e.g. --betas with sgd. */
export function refuseForeignOptimizerFlags(optimizer: string, given: readonly string[]): void {
  const takes = OPTIMIZER_FLAGS.filter((k) => optimizerDef(optimizer).settings.includes(OPTIMIZER_SETTING_OF_FLAG[k]));
  const foreign = OPTIMIZER_FLAGS.filter((k) => given.includes(k) && !takes.includes(k));
  if (foreign.length) {
    throw new Error(`${foreign.map((k) => `--${k}`).join(', ')} ${foreign.length > 1 ? 'do' : 'does'} not apply to --optimizer ${optimizer} (it takes ${takes.map((k) => `--${k}`).join(', ')})`);
  }
}

/** A list of batch sizes, e.g. `128` or `32,128,256`. */
export function parseBatches(text: string): number[] {
  const sizes = text.split(',').map((t) => Number(t.trim()));
  if (!sizes.length || sizes.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`--batch "${text}": expected whole numbers ≥ 1, separated by commas (e.g. 32,128,256)`);
  return sizes;
}

export const parseEp = (text: string): ExecutionProvider => parseExecutionProvider(text, '--ep');

const describeOf = (field: keyof TrainConfig): string => CONFIG_FLAGS.find((f) => f.field === field)!.flag.describe;

/** Common yargs option definitions, so every command describes them as `ilr train` does (the training config's table). */
export const commonOptions = {
  ep: { type: 'string', default: DEFAULTS.ep as string, describe: describeOf('ep') },
  threads: { type: 'number', default: DEFAULTS.threads, describe: describeOf('threads') },
  seed: { type: 'number', default: DEFAULTS.seed, describe: describeOf('seed') },
} as const;

/** Options of the commands that take an imported model (path/to/net.onnx). */
export const importOptions = {
  si: { type: 'boolean', describe: describeOf('si') },
  torch: { type: 'string', describe: 'imported models: the PyTorch module they were exported from, MODULE:FACTORY (torchvision.models:resnet18, path/to/nets.py:Net)' },
  'torch-kwargs': { type: 'string', default: '{}', describe: 'keyword arguments of the --torch factory, as JSON, e.g. \'{"num_classes": 10}\'' },
} as const;

/** --torch and --torch-kwargs as the referee's module reference. */
export function parseTorchModule(factory: string | undefined, kwargs: string): TorchModuleRef | undefined {
  if (factory === undefined) return undefined;
  if (!/^[^:]+:[A-Za-z_][A-Za-z0-9_]*$/.test(factory)) throw new Error(`--torch "${factory}": expected MODULE:FACTORY, e.g. torchvision.models:resnet18 or path/to/nets.py:Net`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(kwargs);
  } catch (e) {
    throw new Error(`--torch-kwargs ${kwargs}: not JSON (${(e as Error).message}); e.g. '{"num_classes": 10}'`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`--torch-kwargs ${kwargs}: expected a JSON object, e.g. '{"num_classes": 10}'`);
  return { factory, kwargs: parsed as Record<string, unknown> };
}
