/**
 * The normalisation layers, as data: one entry per kind, with its preset-name tag, the
 * parameters and buffers it declares (PyTorch state_dict names), the graph it emits, and the
 * torch.nn module that is its twin in the PyTorch referee. A model asks for `b.norm(name, x)`
 * and gets the layer its spec names; adding a layer is one entry here (and its tests).
 *
 * Every entry normalises with an op whose first output does not change when its input is
 * multiplied by c > 0 (up to ε): that is what makes the weights in front of it scale-invariant,
 * and the op says so itself (`homogeneity: 'normalizing'`), which the invariance analysis
 * (invariance.ts) reads.
 */
import type { Value } from '../graph/ir';
import { batchNormEval, batchNormTrain } from '../ops/batchnorm';
import { add, mul, scale } from '../ops/elementwise';
import { groupNorm } from '../ops/groupnorm';
import { reshape } from '../ops/shape';
import type { LayerBuilder } from './layers';

export type NormSpec = { kind: 'batch' } | { kind: 'group'; groups: number } | { kind: 'layer' };
export type NormKind = NormSpec['kind'];

/** A torch.nn module and its keyword arguments, e.g. GroupNorm(num_groups=8, num_channels=32, eps=1e-5, affine=True). */
export interface TorchModule {
  module: string;
  args: Record<string, number | boolean | number[]>;
}

interface NormLayer<S extends NormSpec> {
  /** The spec for a preset name's tag (`gn8` in `preresnet20-gn8-si`; '' is the default), or undefined if the tag is not this layer's. */
  fromTag(tag: string): S | undefined;
  tag(spec: S): string;
  /** Declares the layer's parameters and buffers on `b` and applies it to x [N,C,H,W]. */
  apply(b: LayerBuilder, name: string, x: Value, spec: S): Value;
  /** The same layer in PyTorch, for the referee's twin of the model. */
  torch(b: LayerBuilder, x: Value, spec: S): TorchModule;
}

/** Without a number, GroupNorm takes 8 groups: it divides every width of the presets (16, 32, 64, 128 and their multiples). */
const DEFAULT_GROUPS = 8;

/** γ = 1 and β = 0 of the given shape when the spec is affine. */
function affineParams(b: LayerBuilder, name: string, shape: number[]): { weight: Value; bias: Value } | undefined {
  if (!b.spec.affine) return undefined;
  return {
    weight: b.param({ name: `${name}.weight`, shape, init: { kind: 'fill', value: 1 }, trainable: true, kind: 'norm' }),
    bias: b.param({ name: `${name}.bias`, shape, init: { kind: 'fill', value: 0 }, trainable: true, kind: 'norm' }),
  };
}

/** x̂·γ + β with γ, β broadcast as `shape` (per channel [1,C,1,1], or per element [C,H,W]). */
function applyAffine(xhat: Value, affine: { weight: Value; bias: Value } | undefined, shape: number[]): Value {
  return affine ? add(mul(xhat, reshape(affine.weight, shape)), reshape(affine.bias, shape)) : xhat;
}

/**
 * A BatchNorm layer with the given γ and β (or none): declares its running statistics as buffers;
 * in 'train' mode it normalises with the batch statistics and records them for the running
 * statistics' update, in 'eval' mode it reads the running statistics. Imported networks' layers too.
 */
export function batchNormLayer(b: LayerBuilder, name: string, x: Value, eps: number, affine: { weight: Value; bias: Value } | undefined): Value {
  const c = x.shape[1];
  const runningMean = b.buffer({ name: `${name}.running_mean`, shape: [c], init: { kind: 'fill', value: 0 } });
  const runningVar = b.buffer({ name: `${name}.running_var`, shape: [c], init: { kind: 'fill', value: 1 } });
  if (b.mode === 'eval') return batchNormEval(x, runningMean, runningVar, eps, affine);
  const { y, mean, variance } = batchNormTrain(x, eps, affine);
  const count = x.shape[0] * x.shape[2] * x.shape[3];
  b.batchStats.push({ prefix: name, mean, unbiasedVar: scale(variance, count / (count - 1)) });
  return y;
}

const batch: NormLayer<{ kind: 'batch' }> = {
  fromTag: (tag) => (tag === '' ? { kind: 'batch' } : undefined),
  tag: () => '',
  apply: (b, name, x) => batchNormLayer(b, name, x, b.spec.bnEps, affineParams(b, name, [x.shape[1]])),
  torch: (b, x) => ({ module: 'BatchNorm2d', args: { num_features: x.shape[1], eps: b.spec.bnEps, momentum: b.spec.bnMomentum, affine: b.spec.affine } }),
};

const group: NormLayer<{ kind: 'group'; groups: number }> = {
  fromTag(tag) {
    const m = /^gn(\d*)$/.exec(tag);
    return m ? { kind: 'group', groups: m[1] ? Number(m[1]) : DEFAULT_GROUPS } : undefined;
  },
  tag: (s) => (s.groups === DEFAULT_GROUPS ? 'gn' : `gn${s.groups}`),
  apply(b, name, x, s) {
    const c = x.shape[1];
    if (s.groups < 1 || c % s.groups !== 0) throw new Error(`${name}: GroupNorm with ${s.groups} groups cannot split ${c} channels; choose a number of groups that divides every width (-gn{G})`);
    return applyAffine(groupNorm(x, s.groups, b.spec.bnEps), affineParams(b, name, [c]), [1, c, 1, 1]);
  },
  torch: (b, x, s) => ({ module: 'GroupNorm', args: { num_groups: s.groups, num_channels: x.shape[1], eps: b.spec.bnEps, affine: b.spec.affine } }),
};

/** LayerNorm over (C,H,W), as torch.nn.LayerNorm([C,H,W]): its affine parameters are per element, so they fix the input size. */
const layer: NormLayer<{ kind: 'layer' }> = {
  fromTag: (tag) => (tag === 'ln' ? { kind: 'layer' } : undefined),
  tag: () => 'ln',
  apply(b, name, x) {
    const shape = x.shape.slice(1);
    return applyAffine(groupNorm(x, 1, b.spec.bnEps), affineParams(b, name, shape), shape);
  },
  torch: (b, x) => ({ module: 'LayerNorm', args: { normalized_shape: x.shape.slice(1), eps: b.spec.bnEps, elementwise_affine: b.spec.affine } }),
};

export const NORMS: { [K in NormKind]: NormLayer<Extract<NormSpec, { kind: K }>> } = { batch, group, layer };

export const NORM_HELP = 'none = BatchNorm, gn[{G}] = GroupNorm with G groups (default 8), ln = LayerNorm over (C,H,W)';

/** The norm a preset name's tag asks for, or undefined for an unknown tag. */
export function normFromTag(tag: string): NormSpec | undefined {
  for (const layer of Object.values(NORMS)) {
    const s = layer.fromTag(tag);
    if (s) return s;
  }
  return undefined;
}

const entry = <S extends NormSpec>(s: S) => NORMS[s.kind] as unknown as NormLayer<S>;

export const normTag = (s: NormSpec): string => entry(s).tag(s);
export const applyNorm = (b: LayerBuilder, name: string, x: Value, s: NormSpec): Value => entry(s).apply(b, name, x, s);
export const torchNorm = (b: LayerBuilder, x: Value, s: NormSpec): TorchModule => entry(s).torch(b, x, s);
