import { checkFullBatch } from '../../src/experiments/full-batch';
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
