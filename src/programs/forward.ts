/** The shared start of every program: inputs for the state and the batch, and the forward pass. */
import { Graph, Value } from '../graph/ir';
import { LayerBuilder, ParamDecl } from '../nn/layers';
import { forward, InputShape } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { add, scale } from '../ops/elementwise';
import { correctCount, crossEntropy } from '../ops/softmax';

export interface ForwardProgram {
  graph: Graph;
  builder: LayerBuilder;
  input: Value;
  target: Value;
  logits: Value;
  loss: Value;
  correct: Value;
}

/** Inputs `input` [N,C,H,W] float32 and `target` [N] int64, then logits, mean cross-entropy and correct count. */
export function forwardProgram(name: string, spec: ModelSpec, batch: number, shape: InputShape, mode: 'train' | 'eval'): ForwardProgram {
  const graph = new Graph(name);
  const input = graph.input('input', [batch, ...shape]);
  const target = graph.input('target', [batch], 'int64');
  const builder = new LayerBuilder(graph, spec, mode);
  const logits = forward(builder, input);
  return { graph, builder, input, target, logits, loss: crossEntropy(logits, target), correct: correctCount(logits, target) };
}

/**
 * Another forward pass in `p`'s program, on inputs `input2` and `target2` of the same shapes, over
 * the same parameters and buffers with its own batch statistics (SVAG's second batch).
 */
export function secondForward(p: ForwardProgram): ForwardProgram {
  const input = p.graph.input('input2', p.input.shape);
  const target = p.graph.input('target2', p.target.shape, 'int64');
  const builder = p.builder.secondPass();
  const logits = forward(builder, input);
  return { graph: p.graph, builder, input, target, logits, loss: crossEntropy(logits, target), correct: correctCount(logits, target) };
}

export const trainable = (b: LayerBuilder): ParamDecl[] => b.params.filter((p) => p.trainable);

/**
 * PyTorch's running-statistics update: running ← (1 − m)·running + m·batch (unbiased variance),
 * once per forward pass in the order given, as torch updates them when it runs the passes one
 * after the other in train mode.
 */
export function emitRunningStats(passes: readonly LayerBuilder[]): void {
  const [first] = passes;
  const m = first.spec.bnMomentum;
  const blend = (old: Value, batch: Value) => add(scale(old, 1 - m), scale(batch, m));
  first.batchStats.forEach((s, i) => {
    let mean = first.value(`${s.prefix}.running_mean`);
    let variance = first.value(`${s.prefix}.running_var`);
    for (const b of passes) {
      mean = blend(mean, b.batchStats[i].mean);
      variance = blend(variance, b.batchStats[i].unbiasedVar);
    }
    first.graph.output(`next.${s.prefix}.running_mean`, mean);
    first.graph.output(`next.${s.prefix}.running_var`, variance);
  });
}
