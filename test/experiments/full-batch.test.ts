import { checkFullBatch } from '../../src/experiments/full-batch';

const p = { threshold: 0.05, spikeFactor: 10 };
/** Falls to 1e-3 by step 100; spikes of height `h` at the given steps while WD is on; WD off at 600. */
function curve(spikes: number[], afterOff: number[] = [], final = 1e-4) {
  const loss = Array.from({ length: 900 }, (_, t) => Math.max(1e-3, Math.exp(-t / 15)));
  for (const s of [...spikes, ...afterOff]) for (let i = 0; i < 20; i++) loss[s + i] = 2 * Math.exp(-i / 3) + 1e-3;
  for (let t = 850; t < 900; t++) loss[t] = final;
  return { loss, wdOff: 600 };
}
const passed = (t: ReturnType<typeof curve>) => checkFullBatch(t, p).map((v) => v.passed);

describe('full-batch check', () => {
  it('passes with spikes under WD and convergence after', () => {
    expect(passed(curve([200, 400]))).toEqual([true, true, true, true]);
  });
  it('fails with a single spike', () => {
    expect(passed(curve([300]))[1]).toBe(false);
  });
  it('does not count a spike before the loss first reached the threshold', () => {
    const t = curve([300]);
    t.loss[20] = 2; // the loss is still above 0.05 at step 20
    expect(passed(t)[1]).toBe(false);
  });
  it('fails when the loss spikes after WD is off, or does not converge', () => {
    expect(passed(curve([200, 400], [700]))).toEqual([true, true, false, true]);
    expect(passed(curve([200, 400], [], 0.2))[3]).toBe(false);
  });
  it('fails when the loss never gets below the threshold', () => {
    const t = curve([]);
    t.loss = t.loss.map((l) => l + 0.1);
    expect(passed(t)[0]).toBe(false);
  });
});
