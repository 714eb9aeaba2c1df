/**
 * The programs built from a model. Each is an ONNX graph with the state as inputs and the new
 * state as outputs, so the loop in TypeScript only moves buffers between runs.
 *
 * - trainStep: forward, loss, backward, SGD/WD update, running statistics, metrics.
 * - gradient: loss, logits and the gradient of the mean loss (parity, full-batch accumulation).
 * - apply: the update alone, from a given gradient (full-batch GD).
 * - evaluate: logits, loss and correct count with running statistics.
 * - batchStats: each BatchNorm's batch mean and unbiased variance (update_bn for SWA).
 * - hessianVector: the gradient and an exact Hessian-vector product of the train-mode loss.
 */
import { gradients } from '../autodiff/engine';
import { Graph } from '../graph/ir';
import { TensorMap } from '../graph/tensors';
import { LayerBuilder } from '../nn/layers';
import { forward, InputShape, modelLayout } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { add, mul, scale } from '../ops/elementwise';
import { reduceSum } from '../ops/reduce';
import { emitRunningStats, forwardProgram, secondForward, trainable } from './forward';
import { OptimizerConfig, optimizerDef, svagCoefficients } from './optimizers';
import { emitUpdate } from './update';

export interface ProgramShape {
  spec: ModelSpec;
  batch: number;
  input: InputShape;
}

/** A program name that says which optimizer and which of its state it carries, e.g. `train_step_sgd_momentum_buffer`. */
const updateName = (kind: string, o: OptimizerConfig) => [kind, o.name, ...optimizerDef(o.name).slots(o).map((s) => s.name)].join('_');

/**
 * The train step. Under SVAG (optimizer.svag = L > 1) it takes a second batch (`input2`,
 * `target2`) through a second forward pass with its own batch statistics, and differentiates
 * c₁L₁ + c₂L₂ (svagCoefficients); the running statistics see the first batch, then the second.
 * Its `loss` is then the mean of the two batches' losses, `correct` their sum. (The LR η/L is
 * fed by the caller.)
 */
export function trainStepGraph({ spec, batch, input }: ProgramShape, optimizer: OptimizerConfig): Graph {
  const l = optimizer.svag ?? 1;
  const p = forwardProgram(updateName(l === 1 ? 'train_step' : `svag${l}_step`, optimizer), spec, batch, input, 'train');
  const params = trainable(p.builder).map((info) => p.builder.value(info.name));
  const q = l === 1 ? undefined : secondForward(p);
  const [c1, c2] = svagCoefficients(l);
  const grads = gradients(q ? add(scale(p.loss, c1), scale(q.loss, c2)) : p.loss, params);
  emitUpdate(p.graph, params.map((w) => ({ name: w.name, weight: w, grad: grads.get(w)! })), optimizer);
  emitRunningStats(q ? [p.builder, q.builder] : [p.builder]);
  p.graph.output('loss', q ? scale(add(p.loss, q.loss), 0.5) : p.loss);
  p.graph.output('correct', q ? add(p.correct, q.correct) : p.correct);
  return p.graph;
}

export function gradientGraph({ spec, batch, input }: ProgramShape): Graph {
  const p = forwardProgram('gradient', spec, batch, input, 'train');
  const params = trainable(p.builder).map((info) => p.builder.value(info.name));
  const grads = gradients(p.loss, params);
  for (const w of params) p.graph.output(`grad.${w.name}`, grads.get(w)!);
  emitRunningStats([p.builder]);
  p.graph.output('logits', p.logits);
  p.graph.output('loss', p.loss);
  p.graph.output('correct', p.correct);
  return p.graph;
}

export function applyGraph({ spec, input }: Omit<ProgramShape, 'batch'>, optimizer: OptimizerConfig): Graph {
  const graph = new Graph(updateName('apply', optimizer));
  const terms = modelLayout(spec, input).params.filter((p) => p.trainable).map((p) => ({
    name: p.name,
    weight: graph.input(p.name, p.shape),
    grad: graph.input(`grad.${p.name}`, p.shape),
  }));
  emitUpdate(graph, terms, optimizer);
  return graph;
}

/** Logits, loss and correct count; in 'eval' mode with the running statistics, in 'train' mode with the batch's (the function SGD trains). */
export function evaluateGraph({ spec, batch, input }: ProgramShape, mode: 'eval' | 'train' = 'eval'): Graph {
  const p = forwardProgram(mode === 'eval' ? 'evaluate' : 'evaluate_train_mode', spec, batch, input, mode);
  p.graph.output('logits', p.logits);
  p.graph.output('loss', p.loss);
  p.graph.output('correct', p.correct);
  return p.graph;
}

/** A standalone inference model: weights embedded as initializers, input `input`, output `logits`. */
export function inferenceGraph({ spec, batch, input }: ProgramShape, weights: TensorMap): Graph {
  const graph = new Graph('inference');
  const x = graph.input('input', [batch, ...input]);
  graph.output('logits', forward(new LayerBuilder(graph, spec, 'eval', weights), x));
  return graph;
}

export function batchStatsGraph({ spec, batch, input }: ProgramShape): Graph {
  const p = forwardProgram('batch_stats', spec, batch, input, 'train');
  for (const s of p.builder.batchStats) {
    p.graph.output(`batch.${s.prefix}.mean`, s.mean);
    p.graph.output(`batch.${s.prefix}.var`, s.unbiasedVar);
  }
  return p.graph;
}

/**
 * The train-mode loss (BatchNorm with the batch's statistics, as training sees it), its gradient
 * `grad.<name>` and the Hessian-vector product `hv.<name>` = H_SS·v over the tensors S named in
 * `measured`, for the input direction `v.<name>`. The product is exact, not a difference of
 * gradients: ⟨∇_S L, v⟩ is differentiated once more (PyTorch's double backward). Through ReLU
 * the second derivative is zero, as in PyTorch; a difference of gradients would instead pick up
 * every activation that crosses zero between its two points (docs/science.md, Hessian).
 */
export function hessianVectorGraph({ spec, batch, input }: ProgramShape, measured: readonly string[]): Graph {
  const p = forwardProgram('hessian_vector', spec, batch, input, 'train');
  const params = measured.map((name) => p.builder.value(name));
  const grads = gradients(p.loss, params);
  const inner = params.map((w) => reduceSum(mul(grads.get(w)!, p.graph.input(`v.${w.name}`, w.shape)))).reduce((a, b) => add(a, b));
  const hv = gradients(inner, params);
  for (const w of params) {
    p.graph.output(`grad.${w.name}`, grads.get(w)!);
    p.graph.output(`hv.${w.name}`, hv.get(w)!);
  }
  p.graph.output('loss', p.loss);
  return p.graph;
}
