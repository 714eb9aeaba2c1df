import { checkFullBatch, checkSharpness } from '../../src/experiments/full-batch';
import { checksNamed, failedChecks, passedNamed } from './verdicts';

const p = { threshold: 0.05, spikeFactor: 10 };
/** Falls to 1e-3 by step 100; spikes of height `h` at the given steps while WD is on; WD off at 600. */
function curve(spikes: number[], afterOff: number[] = [], final = 1e-4) {
  const loss = Array.from({ length: 900 }, (_, t) => Math.max(1e-3, Math.exp(-t / 15)));
  for (const s of [...spikes, ...afterOff]) for (let i = 0; i < 20; i++) loss[s + i] = 2 * Math.exp(-i / 3) + 1e-3;
  for (let t = 850; t < 900; t++) loss[t] = final;
  return { loss, wdOff: 600 };
}
type Trace = ReturnType<typeof curve>;
const passed = (t: Trace, check: string) => passedNamed(checkFullBatch(t, p), check);
const failed = (t: Trace) => failedChecks(checkFullBatch(t, p));
const REACHED = 'train loss falls below the threshold';
const SPIKES_ON = 'then the loss spikes while WD is on';
const NO_SPIKE_OFF = 'no spike after WD is switched off';
const CONVERGES = 'converges without WD';

describe('full-batch check', () => {
  it('passes with spikes under WD and convergence after', () => {
    expect(failed(curve([200, 400]))).toEqual([]);
  });
  it('fails with a single spike', () => {
    expect(passed(curve([300]), SPIKES_ON)).toBe(false);
  });
  it('does not count a spike before the loss first reached the threshold', () => {
    const t = curve([300]);
    t.loss[20] = 2; // the loss is still above 0.05 at step 20
    expect(passed(t, SPIKES_ON)).toBe(false);
  });
  it('fails when the loss spikes after WD is off, or does not converge', () => {
    const spikeAfterOff = checkFullBatch(curve([200, 400], [700]), p);
    expect(failedChecks(spikeAfterOff)).toEqual(checksNamed(spikeAfterOff, NO_SPIKE_OFF));
    expect(passed(curve([200, 400], [], 0.2), CONVERGES)).toBe(false);
  });
  it('fails when the loss never gets below the threshold', () => {
    const t = curve([]);
    t.loss = t.loss.map((l) => l + 0.1);
    expect(passed(t, REACHED)).toBe(false);
  });
});

describe('full-batch sharpness checks', () => {
  const sp = { threshold: 0.05, spikeFactor: 10, wdOffStep: 600, edgeBand: [1.5, 2.5] as [number, number], lookback: 30, spikeEdge: 1.9, sphericalFall: 0.7, lambdaBand: 2.5 };
  /** Measurements every 10 steps at the edge of stability (η·λ_max = `edge`, η = 0.1) while |w| shrinks 3% per measurement; `before` η·λ_max in the 30 steps before each spike. */
  function measured(t: Trace, edge: number, before: number) {
    const spikes = [200, 400].map((s) => s + 1); // curve() spikes at index s: step s + 1
    const records = Array.from({ length: 89 }, (_, i) => {
      const step = 10 * (i + 1);
      const w = 5 * 0.97 ** i;
      const lr_lambda_max = spikes.some((s) => step >= s - 30 && step < s) ? before : edge;
      const lambda_max = lr_lambda_max / 0.1;
      return { step, lr: 0.1, lambda_max, lr_lambda_max, weight_norm: w, spherical: w * w * lambda_max, iterations: 10, residual: 1e-4, params: 'si' as const };
    });
    return { records, loss: records.map((r) => t.loss[r.step - 1]) };
  }
  const EDGE = 'the quiet stretches sit at the edge of stability';
  const FOLLOWS = 'each spike follows η·λ_max past ≈ 2 while |w| shrinks';
  const REDUCTION = 'the spherical sharpness falls while λ_max stays near 2/η';
  const check = (edge: number, before: number) => {
    const t = curve([200, 400]);
    return checkSharpness(t, measured(t, edge, before), sp);
  };

  it('pass at the edge of stability, with η·λ_max past 2 before each spike and |w|²·λ_max falling with |w|²', () => {
    expect(failedChecks(check(2, 2.5))).toEqual([]);
  });
  it('fail far from the edge, or when a spike comes without η·λ_max near 2 before it', () => {
    const calm = check(1.2, 2.2);
    expect(failedChecks(calm)).toEqual(checksNamed(calm, EDGE));
    const unexplained = check(2, 1.2);
    expect(failedChecks(unexplained)).toEqual(checksNamed(unexplained, FOLLOWS));
  });
  it('fail when λ_max grows as 1/|w|² instead (the spherical sharpness constant)', () => {
    const t = curve([200, 400]);
    const m = measured(t, 2, 2.5);
    m.records = m.records.map((r) => ({ ...r, lambda_max: 20 * (5 / r.weight_norm) ** 2, lr_lambda_max: 2, spherical: 20 * 25 }));
    expect(passedNamed(checkSharpness(t, m, sp), REDUCTION)).toBe(false);
  });
});
