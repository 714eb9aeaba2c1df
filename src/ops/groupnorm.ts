/**
 * Group normalisation without affine parameters, as one composite op with a fused backward pass:
 * each sample's channels are split into G groups and every group of M = (C/G)·H·W values is
 * normalised by its own mean and biased variance. G = 1 is LayerNorm over (C,H,W); G = C is
 * InstanceNorm. The statistics are per sample, so train and eval mode compute the same thing.
 *
 * The affine part (per channel for GroupNorm, per element for LayerNorm) is left to ordinary
 * Mul and Add, because its shape differs between the two layers; the expensive part, the
 * normalisation, gets one backward rule that reuses the forward's x̂ and 1/σ instead of a walk
 * through its nine primitives (forward and backward of [128,64,16,16] in 8 groups at 2 threads:
 * 18 nodes and 46–65 ms against 38 nodes and 54–77 ms, two alternating runs on a loaded machine).
 */
import { OpDef, ShapeError, Value } from '../graph/ir';
import { mul, sub } from './elementwise';
import { reduceMean } from './reduce';
import { reshape } from './shape';
import { typed } from './util';

/** The [N, G, M] view of x [N,C,H,W] in which each row of the last axis is one group. */
const grouped = (shape: readonly number[], groups: number): number[] => [shape[0], groups, (shape[1] / groups) * shape[2] * shape[3]];

/** Inputs: x [N,C,H,W]. Attributes: groups (dividing C), epsilon. Outputs: x̂ [N,C,H,W] and 1/σ [N,G,1]. */
export const GroupNorm: OpDef = {
  name: 'GroupNorm',
  homogeneity: 'normalizing',
  infer(inputs, attrs) {
    const [x] = inputs;
    if (inputs.length !== 1 || x.shape.length !== 4) throw new ShapeError('GroupNorm', 'expects one input x [N,C,H,W]', inputs);
    const groups = attrs.groups;
    if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1 || x.shape[1] % groups !== 0) {
      throw new ShapeError('GroupNorm', `groups must be a positive integer dividing the ${x.shape[1]} channels, got ${String(groups)}`, inputs);
    }
    if (grouped(x.shape, groups)[2] < 2) throw new ShapeError('GroupNorm', 'needs more than one value per group', inputs);
    if (typeof attrs.epsilon !== 'number') throw new ShapeError('GroupNorm', 'epsilon attribute missing', inputs);
    return [typed(x.shape, x.dtype), typed([x.shape[0], groups, 1], x.dtype)];
  },
  emit(node, e) {
    const [x] = node.inputs;
    const [y, invStd] = node.outputs.map((v) => v.name);
    const view = grouped(x.shape, node.attrs.groups as number);
    const axes = { axes: { ints: [2] }, keepdims: { int: 1 } };
    const [xs, mean, centered, squared, variance, shifted, std, normalized] = ['x3', 'mean', 'centered', 'squared', 'var', 'var_eps', 'std', 'xhat3'].map((h) => e.temp(`gn_${h}`));
    e.node('Reshape', [x.name, e.constInt64(view)], [xs]);
    e.node('ReduceMean', [xs], [mean], axes);
    e.node('Sub', [xs, mean], [centered]);
    e.node('Mul', [centered, centered], [squared]);
    e.node('ReduceMean', [squared], [variance], axes);
    e.node('Add', [variance, e.constFloat([node.attrs.epsilon as number], x.dtype, [])], [shifted]);
    e.node('Sqrt', [shifted], [std]);
    e.node('Reciprocal', [std], [invStd]);
    e.node('Mul', [centered, invStd], [normalized]);
    e.node('Reshape', [normalized, e.constInt64(x.shape)], [y]);
  },
  // Per group, with means over its M values: dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ,
  // computed as dx̂/σ − x̂·(mean(dx̂·x̂)/σ) − mean(dx̂)/σ: two full-tensor Muls and two Subs.
  grad: (n, [dy]) => {
    if (!dy) return [undefined];
    const [x] = n.inputs;
    const [y, invStd] = n.outputs;
    const view = grouped(x.shape, n.attrs.groups as number);
    const d = reshape(dy, view);
    const xhat = reshape(y, view);
    const s1 = mul(reduceMean(d, [2], true), invStd);
    const s2 = mul(reduceMean(mul(d, xhat), [2], true), invStd);
    return [reshape(sub(sub(mul(d, invStd), mul(xhat, s2)), s1), x.shape)];
  },
};

/** x̂ of x [N,C,H,W] over `groups` groups of channels per sample. */
export const groupNorm = (x: Value, groups: number, epsilon: number): Value => x.graph.apply(GroupNorm, [x], { groups, epsilon }, 'gn')[0];
