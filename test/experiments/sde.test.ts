/**
 * The sde figure's runs, measures and checks on synthetic summaries (the figure itself runs at smoke
 * scale in reproduce.test.ts).
 */
import { checkSde, SdeRun, SdeSummary, sdeRuns, summarize } from '../../src/experiments/sde';
import { checksNamed, failedChecks } from './verdicts';

const p = { window: [2, 4] as [number, number], accWindow: 0.5, normBand: 0.1, angleTolerance: 0.1, accMargin: 0.02 };
const NORM = 'the equilibrium |w| does not depend on L';
const ANGLE = 'every run turns per optimizer step';
const ACCURACY = 'every L reaches SGD\'s final test accuracy';

const run = (svag: number, seed = 0): SdeRun => ({ name: svag === 1 ? `sgd-s${seed}` : `svag${svag}`, svag, seed });
const summary = (r: SdeRun, norm: number, angleRatio: number, finalAcc: number): SdeSummary => ({ run: r, norm, angle: 0.01 * angleRatio, angleRatio, finalAcc });
/** Three SGD seeds at |w| 3.4–3.6 and accuracy 80–84%, and SVAG at L = 2, 4, 8 with the given values. */
const runs = (svag: [number, number, number][]): SdeSummary[] => [
  summary(run(1, 0), 3.4, 1.01, 0.8), summary(run(1, 1), 3.5, 0.99, 0.84), summary(run(1, 2), 3.6, 1.02, 0.82),
  ...[2, 4, 8].map((l, i) => summary(run(l), ...svag[i])),
];

it('plans SGD with consecutive seeds and one SVAG run per L, named by what they are', () => {
  expect(sdeRuns({ svag: [2, 4, 8], sgdSeeds: 3 }, 5)).toEqual([
    { name: 'sgd-s5', svag: 1, seed: 5 }, { name: 'sgd-s6', svag: 1, seed: 6 }, { name: 'sgd-s7', svag: 1, seed: 7 },
    { name: 'svag2', svag: 2, seed: 5 }, { name: 'svag4', svag: 4, seed: 5 }, { name: 'svag8', svag: 8, seed: 5 },
  ]);
});

describe('sde check', () => {
  it('passes when every L has SGD\'s |w|, its own angle and an accuracy within SGD\'s seed range', () => {
    const v = checkSde(p, runs([[3.3, 0.98, 0.83], [3.2, 1.0, 0.79], [3.19, 1.03, 0.86]]));
    expect(v).toHaveLength(3);
    expect(failedChecks(v)).toEqual([]);
  });
  it('fails an L whose |w| is off by more than the band, an angle off its prediction, an accuracy outside the range', () => {
    // SGD's mean |w| is 3.5: 3.14 is 0.897× (out), 3.16 is 0.903× (in).
    const norm = checkSde(p, runs([[3.3, 1, 0.82], [3.16, 1, 0.82], [3.14, 1, 0.82]]));
    expect(failedChecks(norm)).toEqual(checksNamed(norm, NORM));
    // An SGD seed off its prediction fails the angle check too.
    const angle = runs([[3.5, 1, 0.82], [3.5, 1, 0.82], [3.5, 1, 0.82]]);
    angle[1] = summary(run(1, 1), 3.5, 0.85, 0.84);
    expect(failedChecks(checkSde(p, angle))).toEqual(checksNamed(checkSde(p, angle), ANGLE));
    // The range is 80–84% ± 2 points: 77.9% and 86.1% are out.
    for (const acc of [0.779, 0.861]) {
      const v = checkSde(p, runs([[3.5, 1, 0.82], [3.5, 1, acc], [3.5, 1, 0.82]]));
      expect(failedChecks(v)).toEqual(checksNamed(v, ACCURACY));
    }
  });
});

it('summarizes a run by its mean |w| and RMS angle over the window and its mean test accuracy over the last accWindow', () => {
  const time = [1, 2.2, 2.5, 2.8, 3, 4, 4.5];
  const trace = {
    run: run(4), predicted: 0.002, time,
    norm: [9, 1, 2, 3, 4, 5, 9],
    angle: [1, 3, 4, 3, 4, 3, 1].map((a) => a * 1e-3),
    // The run ends at λη·t = 4 (2000 units at λη 2e-3): the last 0.5 holds the evaluations at 3.6 and 4.
    evalTime: [3, 3.5, 3.6, 4], testAcc: [0.1, 0.2, 0.7, 0.8],
  };
  const s = summarize({ ...p, steps: 2000, lr: 0.1, wd: 0.02 }, trace);
  expect(s.norm).toBeCloseTo(3, 12);
  // Angles 3, 4, 3, 4, 3 (×1e-3) inside (2, 4]: RMS √(59/5)·1e-3.
  expect(s.angle).toBeCloseTo(Math.sqrt(59 / 5) * 1e-3, 15);
  expect(s.angleRatio).toBeCloseTo(s.angle / 0.002, 12);
  expect(s.finalAcc).toBeCloseTo(0.75, 12);
});
