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

export const trainable = (b: LayerBuilder): ParamDecl[] => b.params.filter((p) => p.trainable);

/** PyTorch's running-statistics update: running ← (1 − m)·running + m·batch (unbiased variance). */
export function emitRunningStats(b: LayerBuilder): void {
  const m = b.spec.bnMomentum;
  const blend = (old: Value, batch: Value) => add(scale(old, 1 - m), scale(batch, m));
  for (const s of b.batchStats) {
    b.graph.output(`next.${s.prefix}.running_mean`, blend(b.value(`${s.prefix}.running_mean`), s.mean));
    b.graph.output(`next.${s.prefix}.running_var`, blend(b.value(`${s.prefix}.running_var`), s.unbiasedVar));
  }
}
