/**
 * The rotational figure's measures and checks on synthetic layers (the figure itself runs at smoke
 * scale in reproduce.test.ts).
 */
import { checkRotational, LayerSummary, logLogSlope, logSpread, referenceAngle, RotationalRun, siLayers, summarizeLayers } from '../../src/experiments/rotational';
import { checksNamed, failedChecks } from './verdicts';

const p = { window: [2, 3] as [number, number], tolerance: 0.1, spreadFactor: 2, slopeBand: [0.4, 0.6] as [number, number] };
const sizes = [288, 18432, 73728];
/** Layers at `ratios` of their prediction (angle 0.01·ratio), with norms c·C^slope. */
const layers = (ratios: number[], slope = 0.5): LayerSummary[] =>
  sizes.map((weights, i) => ({ name: `conv${i + 1}.weight`, weights, angle: 0.01 * ratios[i], ratio: ratios[i], norm: 0.2 * weights ** slope }));
const SGD_AT_PREDICTION = 'SGD: every layer';
const ADAMW_AT_PREDICTION = 'AdamW: every layer';
const L2_SPREADS = 'Adam + L2: the layers\' angles spread';
const ADAMW_SQRT_C = 'AdamW: the equilibrium norm grows as √C';

describe('rotational check', () => {
  it('passes when every layer is at its prediction, Adam + L2 spreads and AdamW\'s norms grow as √C', () => {
    const at = layers([0.97, 1.02, 1.05]);
    const v = checkRotational(p, { sgd: at, sgdm: at, adamw: at, 'adam-l2': layers([0.3, 1, 3]) });
    expect(v).toHaveLength(5);
    expect(failedChecks(v)).toEqual([]);
  });
  it('fails a layer more than the tolerance away, a spread no larger than AdamW\'s, and a slope outside the band', () => {
    const at = layers([0.97, 1.02, 1.05]);
    const all = checkRotational(p, { sgd: layers([0.85, 1, 1]), sgdm: at, adamw: at, 'adam-l2': at });
    expect(failedChecks(all)).toEqual(checksNamed(all, SGD_AT_PREDICTION, L2_SPREADS));
    // AdamW alone: its two checks, and only the slope fails.
    const adamw = checkRotational(p, { adamw: layers([1, 1, 1], 0.3) });
    expect(adamw.map((x) => x.check)).toEqual(checksNamed(adamw, ADAMW_AT_PREDICTION, ADAMW_SQRT_C));
    expect(failedChecks(adamw)).toEqual(checksNamed(adamw, ADAMW_SQRT_C));
  });
  it('measures the spread as ln(largest / smallest) and the slope by least squares', () => {
    expect(logSpread(layers([0.5, 1, 2]))).toBeCloseTo(Math.log(4), 12);
    expect(logLogSlope(layers([1, 1, 1], 0.37))).toBeCloseTo(0.37, 12);
  });
});

it('summarizes a layer by the RMS of its angles over the window, against its optimizer\'s prediction', () => {
  const r: RotationalRun = { name: 'adamw', optimizer: 'adamw', momentum: 0, betas: [0.9, 0.99], lr: 0.01, wd: 0.1 };
  const predicted = Math.sqrt((2 * 0.01 * 0.1 * 0.1) / 1.9);
  expect(referenceAngle(r, 288)).toEqual({ angle: predicted, norm: Math.sqrt((0.01 * 288) / 0.2) });
  // Alternating 3 and 4 (×1e-3) inside the window: RMS √12.5e-3, not the mean 3.5e-3; outside it, ignored.
  const time = [1, 2.2, 2.5, 2.8, 3, 3.5];
  const trace = { name: 'conv1.weight', weights: 288, time, angle: [1, 3, 4, 3, 4, 1].map((a) => a * 1e-3), norm: [9, 1, 2, 3, 4, 9] };
  const [s] = summarizeLayers(r, [trace], [2, 3]);
  expect(s.angle).toBeCloseTo(Math.sqrt(12.5) * 1e-3, 15);
  expect(s.ratio).toBeCloseTo(s.angle / predicted, 12);
  expect(s.norm).toBeCloseTo(2.5, 12);
  // Adam + L2 is shown against AdamW's angle at the same settings.
  expect(referenceAngle({ ...r, name: 'adam-l2', optimizer: 'adam' }, 288).angle).toBe(predicted);
});

it('finds the scale-invariant layers of the model and their sizes', () => {
  expect(siLayers({ model: 'cnn4-si', widths: [8, 16, 32], dataset: 'fashion-mnist', pool: 2 })).toEqual([
    { name: 'conv1.weight', weights: 72 }, { name: 'conv2.weight', weights: 1152 }, { name: 'conv3.weight', weights: 4608 },
  ]);
});
