/**
 * Model specs: the JSON that names an architecture and its options. The same spec travels in
 * checkpoints' metadata, so the PyTorch bridge rebuilds the identical module from it.
 */
import { NORM_HELP, NormSpec, normFromTag, normTag } from './norms';

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

export interface PreResNetSpec extends CommonSpec {
  arch: 'preresnet';
  depth: number;
  width: number;
}

export interface Cnn4Spec extends CommonSpec {
  arch: 'cnn4';
  widths: [number, number, number];
}

export type ModelSpec = PreResNetSpec | Cnn4Spec;

export const PRESET_HELP =
  `preresnet{D}[-w{K}][-NORM][-si] with D = 6n+2 (8, 14, 20, 32, 56, 110) and width multiplier K; cnn4[-w{K}][-NORM][-si]. ` +
  `NORM: ${NORM_HELP}. "-si" = fully scale-invariant: norm layers without affine parameters and a frozen last layer.`;

export interface ModelOverrides {
  inChannels?: number;
  numClasses?: number;
  bnEps?: number;
  fcScale?: number;
  /** cnn4 only: the three conv widths. */
  widths?: [number, number, number];
}

/** Parses a preset name such as `preresnet32`, `preresnet20-w2-si`, `preresnet20-gn-si` or `cnn4-ln`. */
export function modelSpec(name: string, overrides: ModelOverrides = {}): ModelSpec {
  const m = /^(preresnet(\d+)|cnn4)(?:-w(\d+))?(?:-(?!si$)([a-z]+\d*))?(-si)?$/.exec(name);
  const norm = m && normFromTag(m[4] ?? '');
  if (!m || !norm) throw new Error(`unknown model "${name}". Known presets: ${PRESET_HELP}`);
  const width = m[3] ? Number(m[3]) : 1;
  const si = !!m[5];
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
  if (width < 1) throw new Error(`model "${name}": width multiplier must be at least 1`);
  if (m[1] === 'cnn4') return { arch: 'cnn4', widths: overrides.widths ?? [32 * width, 64 * width, 128 * width], ...common };
  if (overrides.widths) throw new Error(`model "${name}": conv widths can be set for cnn4 models only (PreResNet widths come from -w{K})`);
  const depth = Number(m[2]);
  if ((depth - 2) % 6 !== 0 || depth < 8) throw new Error(`model "${name}": PreResNet depth must be 6n+2 with n ≥ 1 (8, 14, 20, 32, 56, 110)`);
  return { arch: 'preresnet', depth, width, ...common };
}

/** A short name for a spec, the inverse of modelSpec for preset specs. */
export function specName(spec: ModelSpec): string {
  const tag = normTag(spec.norm);
  const suffix = `${tag ? `-${tag}` : ''}${!spec.affine && spec.frozenFc ? '-si' : ''}`;
  if (spec.arch === 'cnn4') return `cnn4${spec.widths[0] !== 32 ? `-w${spec.widths[0] / 32}` : ''}${suffix}`;
  return `preresnet${spec.depth}${spec.width !== 1 ? `-w${spec.width}` : ''}${suffix}`;
}
