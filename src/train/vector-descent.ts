/**
 * Gradient descent with weight decay on a loss of one float64 parameter vector, run as one small
 * ONNX program: the loss, its gradient (our autodiff) and the update w ← w − η(∇L + λw). The toy
 * figure trains its two-parameter scale-invariant loss with it.
 */
import { gradients } from '../autodiff/engine';
import { Graph, Value } from '../graph/ir';
import { add, mul, sub } from '../ops/elementwise';
import { Program, RuntimeOptions } from '../runtime/session';

/** The program of one step: inputs w [size], lr, wd; outputs the next w and the loss at w. */
export function descentGraph(name: string, size: number, loss: (w: Value) => Value): Graph {
  const g = new Graph(name);
  const w = g.input('w', [size], 'float64');
  const lr = g.input('lr', [], 'float64');
  const wd = g.input('wd', [], 'float64');
  const l = loss(w);
  const grad = gradients(l, [w]).get(w)!;
  g.output('next', sub(w, mul(lr, add(grad, mul(wd, w)))));
  g.output('loss', l);
  return g;
}

export class VectorDescent {
  private constructor(private readonly program: Program) {}

  static async create(graph: Graph, runtime: RuntimeOptions): Promise<VectorDescent> {
    return new VectorDescent(await Program.create(graph, runtime));
  }

  async step(w: Float64Array, lr: number, wd: number): Promise<{ next: Float64Array; loss: number }> {
    const out = await this.program.run({ w, lr: Float64Array.of(lr), wd: Float64Array.of(wd) });
    return { next: out.next as Float64Array, loss: out.loss[0] as number };
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}
