/**
 * Figure 1a: gradient descent with weight decay on the scale-invariant toy loss
 * L(x, y) = x² / (x² + y²). WD shrinks |w|, so the effective LR η/|w|² grows until GD overshoots
 * and the loss spikes; the spike's large gradient grows |w| again, and the cycle repeats. With WD
 * switched off, |w| only grows (the gradient is orthogonal to w) and GD converges.
 *
 * The loss, its gradient (our autodiff) and the update run as one small float64 ONNX program
 * (train/vector-descent.ts).
 */
import * as path from 'path';
import { spikeSteps } from '../analysis/equilibrium';
import { Graph, Value } from '../graph/ir';
import { div, mul } from '../ops/elementwise';
import { reduceSum } from '../ops/reduce';
import { slice } from '../ops/shape';
import { writeChart } from '../plot/chart';
import { descentGraph, VectorDescent } from '../train/vector-descent';
import { fmt } from '../util/format';
import { cachedResult } from './cached';
import { Experiment, verdict } from './frame';

export interface ToyPreset {
  lr: number;
  wd: number;
  steps: number;
  /**
   * WD is switched off right after the first spike at or past this step. After a spike |w| is at
   * its largest and η/|w|² at its smallest, so convergence shows within the run; switched off on
   * the rising flank, the run sits at the edge of stability (η/|w|² ≈ 1) for thousands of steps
   * before one more spike and then converges.
   */
  wdOffStep: number;
  init: [number, number];
  /** A spike: the loss back above `high` after being below `low`. */
  low: number;
  high: number;
}

interface ToyTrace {
  loss: number[];
  norm: number[];
  /** The step from which WD was off. */
  wdOff: number;
}

/** L(x, y) = x² / (x² + y²) of w = (x, y). */
const toyLoss = (w: Value): Value => {
  const x = slice(w, [0], [0], [1]);
  return reduceSum(div(mul(x, x), reduceSum(mul(w, w))));
};

/** One GD + WD step of the toy as a program: inputs w [2], lr, wd; outputs next w and the loss at w. */
export const toyProgram = (): Graph => descentGraph('toy_step', 2, toyLoss);

async function simulate(p: ToyPreset, threads: number): Promise<ToyTrace> {
  const gd = await VectorDescent.create(toyProgram(), { threads: Math.max(1, threads) });
  let w: Float64Array = Float64Array.from(p.init);
  const trace: ToyTrace = { loss: [], norm: [], wdOff: p.steps };
  let armed = false;
  for (let t = 0; t < p.steps; t++) {
    const { next, loss } = await gd.step(w, p.lr, t < trace.wdOff ? p.wd : 0);
    if (loss < p.low) armed = true;
    else if (armed && loss > p.high) {
      armed = false;
      if (t >= p.wdOffStep && trace.wdOff === p.steps) trace.wdOff = t + 1;
    }
    trace.loss.push(loss);
    trace.norm.push(Math.hypot(w[0], w[1]));
    w = next;
  }
  await gd.release();
  return trace;
}

export function checkToy(trace: ToyTrace, p: ToyPreset) {
  const on = spikeSteps(trace.loss, p.low, p.high, 0, trace.wdOff);
  const off = spikeSteps(trace.loss, p.low, p.high, trace.wdOff);
  const final = trace.loss[trace.loss.length - 1];
  return [
    verdict('toy', 'WD was switched off within the run', trace.wdOff < p.steps, `at step ${trace.wdOff}`, `< ${p.steps}`),
    verdict('toy', 'loss spikes while WD is on', on.length >= 3, `${on.length} spikes (at steps ${on.slice(0, 6).join(', ')}${on.length > 6 ? ', …' : ''})`, `≥ 3 spikes (loss > ${p.high} after < ${p.low})`),
    verdict('toy', 'no spike after WD is switched off', off.length === 0, `${off.length} spikes`, '0'),
    verdict('toy', 'converges without WD', final < 1e-6, `final loss ${fmt(final)}`, '< 1e-6'),
  ];
}

const LOSS_FLOOR = 1e-30;
/** The simulated trace, for the preset that made it. */
const traceOf = (p: ToyPreset, dir: string) => cachedResult<ToyTrace>(path.join(dir, 'trace.json'), p);

export const toy: Experiment<ToyPreset> = {
  id: 'toy',
  title: 'Toy: GD + WD on x²/(x²+y²) is not gradient flow',
  optimizerRefusal: 'the toy is plain gradient descent with weight decay on a two-number vector (src/train/vector-descent.ts), not a trainer run; its claim is about GD itself',
  claim: 'On a scale-invariant loss, full-batch GD with weight decay does not converge: WD shrinks |w|, the effective LR η/|w|² grows, and the loss spikes periodically. Switching WD off lets it converge (claim 4 in docs/science.md, Fig. 1a).',
  preset(scale) {
    // λη = 3e-3: the first spike comes after ≈800 steps, then one every ≈300. With much smaller λ,
    // x decays below float64's range (e^-950 for λ = 0.01) before the instability arrives.
    const base = { lr: 0.1, wd: 0.03, init: [1, 1] as [number, number], low: 1e-3, high: 0.1 };
    if (scale === 'smoke') return { ...base, steps: 1500, wdOffStep: 1200 };
    return { ...base, steps: 6000, wdOffStep: 4000 };
  },
  settings: (p) => ({ 'η': p.lr, 'λ': p.wd, 'λη': p.lr * p.wd, steps: p.steps, 'WD off': `after the first spike past step ${p.wdOffStep}`, 'w₀': `(${p.init})` }),
  plan: () => [],
  run: (p, ctx) => traceOf(p, ctx.dir).ensure(() => simulate(p, ctx.threads)),
  async plot(p, ctx) {
    const t = traceOf(p, ctx.dir).read();
    const steps = t.loss.map((_, i) => i);
    const vlines = [{ x: t.wdOff, label: 'WD off' }];
    const files = await writeChart(
      {
        title: 'GD + WD on L(x,y) = x²/(x²+y²)',
        panels: [
          // Floored for the log axis: the loss underflows to exactly 0 in float64 between spikes.
          { title: `loss (floored at ${LOSS_FLOOR})`, xLabel: 'step', yLabel: 'L (log)', logY: true, series: [{ name: 'loss', x: steps, y: t.loss.map((l) => Math.max(l, LOSS_FLOOR)) }], vlines },
          { title: 'weight norm', xLabel: 'step', yLabel: '|w|', series: [{ name: '|w|', x: steps, y: t.norm }], vlines },
          { title: 'effective LR', xLabel: 'step', yLabel: 'η/|w|² (log)', logY: true, series: [{ name: 'η/|w|²', x: steps, y: t.norm.map((n) => p.lr / (n * n)) }], vlines },
        ],
      },
      path.join(ctx.dir, 'toy'),
    );
    return [files.png];
  },
  check: (p, ctx) => checkToy(traceOf(p, ctx.dir).read(), p),
};
