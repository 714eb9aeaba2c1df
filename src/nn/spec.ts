/**
 * The model registry. A model is one entry (src/nn/entry.ts): how its name is recognised, its
 * forward pass, its options. A spec is the JSON that names an architecture and its options; it
 * travels in checkpoints' metadata, so the PyTorch bridge rebuilds the identical module from it.
 * A new model is one file with its entry, and one line in MODELS.
 */
import { Cnn4Spec, CNN4 } from './cnn4';
import { ModelEntry, ModelOverrides } from './entry';
import { ImportedSpec, IMPORTED } from './imported';
import { NORM_HELP } from './norms';
import { PreResNetSpec, PRERESNET } from './preresnet';

export type { CommonSpec, ModelOverrides } from './entry';
export type { PreResNetSpec } from './preresnet';
export type { Cnn4Spec } from './cnn4';
export type { ImportedSpec } from './imported';

export type ModelSpec = PreResNetSpec | Cnn4Spec | ImportedSpec;
type Arch = ModelSpec['arch'];

export const MODELS: { [A in Arch]: ModelEntry<Extract<ModelSpec, { arch: A }>> } = { preresnet: PRERESNET, cnn4: CNN4, onnx: IMPORTED };

export const PRESET_HELP =
  `${Object.values(MODELS).map((m) => m.help).join('; ')}. ` +
  `NORM: ${NORM_HELP}. "-si" = fully scale-invariant: norm layers without affine parameters and a frozen last layer.`;

/** The registry entry of a spec. */
export const modelEntry = <S extends ModelSpec>(spec: S): ModelEntry<S> => MODELS[spec.arch] as unknown as ModelEntry<S>;

/** Parses a model name such as `preresnet32`, `preresnet20-w2-si`, `preresnet20-gn-si`, `cnn4-ln` or `path/to/net.onnx`. */
export function modelSpec(name: string, overrides: ModelOverrides = {}): ModelSpec {
  for (const entry of Object.values(MODELS) as ModelEntry<ModelSpec>[]) {
    const spec = entry.parse(name, overrides);
    if (spec) return spec;
  }
  throw new Error(`unknown model "${name}". Known presets: ${PRESET_HELP}`);
}

/**
 * Whether two specs name the same model: equal JSON, but an imported model's file path does not
 * count (its content does, by SHA-256), so a run directory read under another path resumes.
 */
export function sameModel(a: ModelSpec, b: ModelSpec): boolean {
  const key = (s: ModelSpec) => JSON.stringify(s.arch === 'onnx' ? { ...s, file: undefined } : s);
  return key(a) === key(b);
}

/** A short name for a spec, the inverse of modelSpec. */
export const specName = (spec: ModelSpec): string => modelEntry(spec).name(spec);
