/**
 * What a model is to the rest of the toolkit: one `ModelEntry` in the registry (spec.ts) — how its
 * name or file is recognised, its forward pass over the LayerBuilder, and the short name of a spec.
 * Also the zoo's shared preset-name grammar, `<family>[-w{K}][-NORM][-si]`.
 */
import type { Value } from '../graph/ir';
import type { LayerBuilder } from './layers';
import { NormSpec, normFromTag, normTag } from './norms';

/** The fields every model spec has; the LayerBuilder's layers read them. */
export interface CommonSpec {
  inChannels: number;
  numClasses: number;
  /** The normalisation layer after every conv (src/nn/norms.ts). */
  norm: NormSpec;
  /** Norm layers with learnable γ, β. False for the fully scale-invariant variants. */
  affine: boolean;
  /** The last linear layer is frozen at its initialisation (never updated). */
  frozenFc: boolean;
  /** Multiplies the last layer's default initialisation; a frozen layer needs ≈10 to let the net fit (docs/science.md, Calibration). */
  fcScale: number;
  /** ε of every norm layer. */
  bnEps: number;
  /** The running statistics' momentum (BatchNorm only). */
  bnMomentum: number;
}

export interface ModelOverrides {
  inChannels?: number;
  numClasses?: number;
  bnEps?: number;
  fcScale?: number;
  /** cnn4 only: the three conv widths. */
  widths?: [number, number, number];
  /** The fully scale-invariant variant (--si): what a preset's -si says, and the only way to say it for an imported model. */
  si?: boolean;
}

export interface ModelEntry<S extends CommonSpec & { arch: string }> {
  arch: S['arch'];
  /** The model names this entry takes, for --help and the unknown-model error. */
  help: string;
  /** The spec a name asks for, or undefined when the name is not this entry's; throws when it is, but is wrong. */
  parse(name: string, overrides: ModelOverrides): S | undefined;
  /** A short name for the spec, the inverse of parse. */
  name(spec: S): string;
  /** Emits the forward pass into `b`'s graph; returns the logits. */
  forward(b: LayerBuilder, spec: S, x: Value): Value;
}

/** A zoo preset name taken apart: the family's own regexp groups, the width multiplier and the common spec. */
export interface Preset {
  groups: string[];
  width: number;
  common: CommonSpec;
}

/** Parses `<family>[-w{K}][-NORM][-si]`, `family` a regexp source whose groups come back in `groups`; undefined if the name is not of that form. */
export function parsePreset(name: string, family: string, overrides: ModelOverrides): Preset | undefined {
  const m = new RegExp(`^${family}(?:-w(\\d+))?(?:-(?!si$)([a-z]+\\d*))?(-si)?$`).exec(name);
  if (!m) return undefined;
  const groups = m.slice(1, m.length - 3);
  const [widthTag, tag, siTag] = m.slice(m.length - 3);
  const norm = normFromTag(tag ?? '');
  if (!norm) return undefined;
  const width = widthTag ? Number(widthTag) : 1;
  if (width < 1) throw new Error(`model "${name}": width multiplier must be at least 1`);
  const si = !!siTag || overrides.si === true;
  const common: CommonSpec = {
    inChannels: overrides.inChannels ?? 3,
    numClasses: overrides.numClasses ?? 10,
    norm,
    affine: !si,
    frozenFc: si,
    fcScale: overrides.fcScale ?? (si ? 10 : 1),
    bnEps: overrides.bnEps ?? 1e-5,
    bnMomentum: 0.1,
  };
  return { groups, width, common };
}

/** The `-NORM` and `-si` suffix of a preset name. */
export function presetSuffix(spec: CommonSpec): string {
  const tag = normTag(spec.norm);
  return `${tag ? `-${tag}` : ''}${!spec.affine && spec.frozenFc ? '-si' : ''}`;
}
