/** The collapse plot: only runs at equilibrium make the lines; the others are loose dots, named as such. */
import { EquilibriumVerdict } from '../../src/analysis/equilibrium';
import type { SweepRow } from '../../src/sweep/collect';
import { collapsePanels } from '../../src/sweep/plots';

const verdict = (atEquilibrium: boolean): EquilibriumVerdict => ({
  atEquilibrium,
  timeConstants: atEquilibrium ? 3 : 0.3,
  wNormDrift: { slope: atEquilibrium ? 0 : -0.9, se: 0.01 },
  angularDrift: { slope: 0, se: 0.1 },
  reason: atEquilibrium ? 'settled' : 'λη·step 0.30 < 1.25',
});

function row(lr: number, wd: number, atEquilibrium: boolean): SweepRow {
  const lambdaEta = lr * wd;
  const angular = Math.sqrt(2 * lambdaEta) * (atEquilibrium ? 1 : 0.08);
  return {
    name: `lr${lr}-wd${wd}`,
    point: { lr, wd },
    status: 'done',
    steps: 400,
    lr,
    wd,
    momentum: 0,
    lambdaEta,
    final: { wNorm: 10, effLr: 1e-3, angular, testAcc: 0.8 },
    equilibrium: { wNorm: 10, effLr: 1e-3, angular, predictedAngular: Math.sqrt(2 * lambdaEta), testAcc: 0.8, verdict: verdict(atEquilibrium) },
    records: [],
  };
}

it('keeps runs not at equilibrium out of the lines, and draws them as labelled dots', () => {
  const rows = [row(0.1, 0.01, true), row(0.1, 0.02, true), row(0.2, 0.005, true), row(0.1, 0.0025, false), row(0.2, 0.0025, false)];
  for (const panel of collapsePanels(rows)) {
    const measured = panel.series.filter((s) => !s.dashed);
    expect(measured.map((s) => s.name)).toEqual(['η 0.1', 'η 0.2', 'not at equilibrium (2 runs, kept out of the lines)']);
    expect(Array.from(measured[0].x)).toEqual([0.001, 0.002]);
    expect(Array.from(measured[1].x)).toEqual([0.001]);
    const loose = measured[2];
    expect(loose.scatter).toBe(true);
    expect(Array.from(loose.x)).toEqual([0.00025, 0.0005]);
  }
  expect(collapsePanels(rows.slice(0, 3))[0].series.map((s) => s.name)).toEqual(['η 0.1', 'η 0.2', '√(2λη/(1+β)), β = 0']);
});
