/**
 * Batch normalisation in training mode as one composite op with a fused backward pass.
 *
 * ONNX's BatchNormalization in training mode is avoided on purpose (docs/onnxruntime.md: refused on CUDA for
 * opset ≥ 14, an aliasing bug, and it hides the batch statistics the backward pass needs). The
 * composite expands to ReduceMean/Sub/Mul/Sqrt/Reciprocal and exposes x − μ, the batch mean and
 * variance and 1/σ, so the backward pass reuses them, as PyTorch's derivatives.yaml does.
 */
import { Emitter, Node, OpDef, ShapeError, Value } from '../graph/ir';
import { add, mul, reciprocal, scale, sqrt, sub } from './elementwise';
import { reduceSum } from './reduce';
import { reshape } from './shape';
import { typed } from './util';

const AXES = [0, 2, 3];

/**
 * Inputs: x [N,C,H,W] and, when affine, γ [C] and β [C]. Outputs: y, the centred x − μ, mean
 * [1,C,1,1], biased var [1,C,1,1], 1/σ [1,C,1,1]. The backward pass works from x − μ instead of
 * x̂ = (x − μ)/σ (x̂·s = (x − μ)·(s/σ) for a per-channel s), so x̂ is never materialised: the affine
 * forward is 4 full-tensor passes (Sub, Mul, Mul, Add) instead of 5, and the non-affine one
 * returns y = x̂ without a copy.
 */
export const BatchNormTrain: OpDef = {
  name: 'BatchNormTrain',
  homogeneity: 'normalizing',
  infer(inputs, attrs) {
    const [x, gamma, beta] = inputs;
    if (inputs.length !== 1 && inputs.length !== 3) throw new ShapeError('BatchNormTrain', 'expects x, or x, γ and β', inputs);
    if (x.shape.length !== 4) throw new ShapeError('BatchNormTrain', 'expects x [N,C,H,W]', inputs);
    const c = x.shape[1];
    if (gamma && (gamma.shape.length !== 1 || gamma.shape[0] !== c || beta.shape.length !== 1 || beta.shape[0] !== c)) {
      throw new ShapeError('BatchNormTrain', `γ and β must have shape [${c}]`, inputs);
    }
    if (x.shape[0] * x.shape[2] * x.shape[3] < 2) throw new ShapeError('BatchNormTrain', 'needs more than one value per channel', inputs);
    if (typeof attrs.epsilon !== 'number') throw new ShapeError('BatchNormTrain', 'epsilon attribute missing', inputs);
    const stat = typed([1, c, 1, 1], x.dtype);
    return [typed(x.shape, x.dtype), typed(x.shape, x.dtype), stat, stat, stat];
  },
  emit(node: Node, e: Emitter) {
    const [x, gamma, beta] = node.inputs;
    const [y, centered, mean, variance, invStd] = node.outputs.map((v) => v.name);
    const axes = { ints: AXES };
    const keep = { int: 1 };
    const squared = e.temp('bn_squared');
    const shifted = e.temp('bn_var_eps');
    const std = e.temp('bn_std');
    e.node('ReduceMean', [x.name], [mean], { axes, keepdims: keep });
    e.node('Sub', [x.name, mean], [centered]);
    e.node('Mul', [centered, centered], [squared]);
    e.node('ReduceMean', [squared], [variance], { axes, keepdims: keep });
    e.node('Add', [variance, e.constFloat([node.attrs.epsilon as number], x.dtype, [])], [shifted]);
    e.node('Sqrt', [shifted], [std]);
    e.node('Reciprocal', [std], [invStd]);
    if (!gamma) {
      e.node('Mul', [centered, invStd], [y]);
      return;
    }
    // y = (x − μ)·(γ/σ) + β: the per-channel factor first, then one pass over the tensor.
    const c = x.shape[1];
    const g4 = e.temp('bn_gamma4');
    const b4 = e.temp('bn_beta4');
    const factor = e.temp('bn_factor');
    const scaled = e.temp('bn_scaled');
    e.node('Reshape', [gamma.name, e.constInt64([1, c, 1, 1])], [g4]);
    e.node('Reshape', [beta.name, e.constInt64([1, c, 1, 1])], [b4]);
    e.node('Mul', [invStd, g4], [factor]);
    e.node('Mul', [centered, factor], [scaled]);
    e.node('Add', [scaled, b4], [y]);
  },
  // With s1 = Σdy and s2 = Σdy·x̂ = Σdy·(x − μ) / σ over (N,H,W), m values per channel:
  //   dγ = s2, dβ = s1, dx = γ/σ · (dy − s1/m − x̂·s2/m) = γ/σ · (dy − (x − μ)·(s2/(σ·m)) − s1/m).
  grad: (n, [dy], needs) => {
    if (!dy) return n.inputs.map(() => undefined);
    const [x, gamma] = n.inputs;
    const [, centered, , , invStd] = n.outputs;
    const c = x.shape[1];
    const m = x.shape[0] * x.shape[2] * x.shape[3];
    const s1 = reduceSum(dy, AXES, true);
    const s2 = mul(reduceSum(mul(dy, centered), AXES, true), invStd);
    let dx: Value | undefined;
    if (needs[0]) {
      const factor = gamma ? mul(reshape(gamma, [1, c, 1, 1]), invStd) : invStd;
      dx = mul(sub(dy, add(mul(centered, scale(mul(s2, invStd), 1 / m)), scale(s1, 1 / m))), factor);
    }
    if (!gamma) return [dx];
    return [dx, needs[1] ? reshape(s2, [c]) : undefined, needs[2] ? reshape(s1, [c]) : undefined];
  },
};

export interface BatchNormTrainResult {
  y: Value;
  /** Batch mean and biased variance per channel, [C], for the running statistics. */
  mean: Value;
  variance: Value;
}

export function batchNormTrain(x: Value, epsilon: number, affine?: { weight: Value; bias: Value }): BatchNormTrainResult {
  const ins = affine ? [x, affine.weight, affine.bias] : [x];
  const [y, , mean, variance] = x.graph.apply(BatchNormTrain, ins, { epsilon }, 'bn');
  const c = x.shape[1];
  return { y, mean: reshape(mean, [c]), variance: reshape(variance, [c]) };
}

/** Inference mode: (x − μ_running) / sqrt(σ²_running + ε) · γ + β, composed of primitives. */
export function batchNormEval(x: Value, runningMean: Value, runningVar: Value, epsilon: number, affine?: { weight: Value; bias: Value }): Value {
  const c = x.shape[1];
  const as4 = (v: Value) => reshape(v, [1, c, 1, 1]);
  let factor = reciprocal(sqrt(add(runningVar, x.graph.scalar(epsilon, x))));
  if (affine) factor = mul(factor, affine.weight);
  const y = mul(sub(x, as4(runningMean)), as4(factor));
  return affine ? add(y, as4(affine.bias)) : y;
}
