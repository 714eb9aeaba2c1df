/**
 * Reverse-mode differentiation over the IR: the backward pass is emitted as more IR nodes.
 *
 * The walk visits the nodes between the parameters and the loss in reverse creation order, asks
 * each op's rule for its input gradients (only those needed), sums gradients where a value feeds
 * several nodes, and reduces broadcast gradients to the input's shape — once, here, not in every
 * rule (tinygrad's gradient.py does the same).
 */
import { Node, ShapeError, Value, sameShape } from '../graph/ir';
import { add } from '../ops/elementwise';
import { reduceSum } from '../ops/reduce';
import { reshape } from '../ops/shape';

/** Sums a gradient of a broadcast shape down to `shape`. */
export function reduceToShape(grad: Value, shape: readonly number[]): Value {
  if (sameShape(grad.shape, shape)) return grad;
  const lead = grad.shape.length - shape.length;
  const axes: number[] = [];
  grad.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const summed = axes.length ? reduceSum(grad, axes, true) : grad;
  return sameShape(summed.shape, shape) ? summed : reshape(summed, shape);
}

/**
 * Gradients of the scalar `loss` with respect to each of `wrt`, as new nodes in the loss's graph.
 * A parameter the loss does not depend on gets an error, since that is always a model bug.
 */
export function gradients(loss: Value, wrt: readonly Value[], seed?: Value): Map<Value, Value> {
  if (loss.size !== 1) throw new Error(`gradients: the loss must be a scalar, got [${loss.shape.join(',')}]`);
  const graph = loss.graph;

  // Values that depend on some parameter: only these need gradients. A boolean or integer value
  // (a comparison, an argmax) is piecewise constant, so its gradient is zero and it ends the chain
  // (the ReLU mask, when the backward pass itself is differentiated for a Hessian-vector product).
  const dependsOnWrt = new Set<Value>(wrt);
  const forward = graph.nodes.filter((n) => n.id < (loss.producer?.id ?? -1) + 1);
  for (const n of forward) {
    if (n.inputs.some((v) => dependsOnWrt.has(v))) n.outputs.filter((v) => v.dtype === 'float32' || v.dtype === 'float64').forEach((v) => dependsOnWrt.add(v));
  }

  const grads = new Map<Value, Value>([[loss, seed ?? graph.scalar(1, loss)]]);
  const accumulate = (v: Value, g: Value) => {
    const prev = grads.get(v);
    grads.set(v, prev ? add(prev, g) : g);
  };

  for (const node of [...forward].reverse()) {
    const gradOutputs = node.outputs.map((v) => grads.get(v));
    if (gradOutputs.every((g) => !g)) continue;
    const needs = node.inputs.map((v) => dependsOnWrt.has(v));
    if (!needs.some(Boolean)) continue;
    for (const g of gradOutputs) if (g) checkGradShape(node, g);
    if (node.op.grad === 'none') continue;
    const inputGrads = node.op.grad(node, gradOutputs, needs);
    if (inputGrads.length !== node.inputs.length) {
      throw new Error(`${node.op.name}: gradient rule returned ${inputGrads.length} gradients for ${node.inputs.length} inputs`);
    }
    node.inputs.forEach((v, i) => {
      const g = inputGrads[i];
      if (needs[i] && g) accumulate(v, reduceToShape(g, v.shape));
    });
  }

  const result = new Map<Value, Value>();
  for (const p of wrt) {
    const g = grads.get(p);
    if (!g) throw new Error(`gradients: the loss does not depend on ${p.name}; freeze it instead of differentiating it`);
    result.set(p, g);
  }
  return result;
}

function checkGradShape(node: Node, g: Value): void {
  if (!node.outputs.some((o) => sameShape(o.shape, g.shape))) {
    throw new ShapeError(node.op.name, `gradient of shape [${g.shape.join(',')}] matches no output`, node.outputs);
  }
}
