import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FigureSpec, minMaxIndices, renderChart, toVegaLite, writeChart } from '../../src/plot/chart';

/** Shaped like the toy figure: a loss that falls then spikes, a shrinking |w| and its prediction. */
function exampleFigure(): FigureSpec {
  const steps = Array.from({ length: 30_000 }, (_, i) => i + 1);
  const loss = steps.map((t) => (t % 7000 < 40 && t < 20_000 ? 0.5 : 0) + Math.exp(-t / 800) + 1e-4);
  loss[10] = 0; // cannot be drawn on a log axis: dropped, and the subtitle says so
  loss[11] = NaN;
  const norm = steps.map((t) => 1 + 2 * Math.exp(-t / 5000) + 0.03 * Math.sin(t / 300));
  const theory = steps.map((t) => 1 + 2 * Math.exp(-t / 5000));
  return {
    title: 'toy: GD + WD on L(x, y) = x²/(x² + y²)',
    panels: [
      {
        title: 'Training loss',
        xLabel: 'step',
        yLabel: 'loss',
        logY: true,
        series: [{ name: 'GD + WD (λ = 5e-3)', x: steps, y: loss }],
        vlines: [{ x: 20_000, label: 'WD off' }],
      },
      {
        title: 'Weight norm',
        xLabel: 'step',
        yLabel: '|w|',
        series: [
          { name: 'measured', x: steps, y: norm },
          { name: 'theory: |w|⁴ → η tr Σ / 2λ', x: steps, y: theory, dashed: true },
        ],
        bands: [{ name: 'measured', x: steps, lo: norm.map((v) => v - 0.1), hi: norm.map((v) => v + 0.1) }],
      },
      {
        title: 'Effective LR',
        xLabel: 'step',
        yLabel: 'η / |w|²',
        logX: true,
        logY: true,
        series: [{ name: 'η / |w|²', x: steps, y: norm.map((v) => 0.1 / (v * v)) }],
      },
    ],
  };
}

describe('charts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-plot-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a multi-panel figure renders to SVG with axis titles, legend entries and dashes', async () => {
    const { svg } = await renderChart(exampleFigure());
    const texts = ['Training loss', 'Weight norm', 'step', '|w|', 'η / |w|²', 'GD + WD (λ = 5e-3)', 'measured', 'theory: |w|⁴ → η tr Σ / 2λ', 'WD off', '1 point ≤ 0 omitted on the log axis; 1 non-finite point omitted'];
    // Compared as a list, so that a failure does not print the whole SVG.
    expect(texts.filter((t) => !svg.includes(`>${t}<`))).toEqual([]);
    expect(svg).toContain('stroke-dasharray="6,4"');
    // 30k-point series were decimated: the file stays small.
    expect(svg.length).toBeLessThan(1_500_000);
  });

  test('writeChart writes an SVG and a PNG', async () => {
    const out = await writeChart(exampleFigure(), path.join(dir, 'toy'));
    const png = fs.readFileSync(out.png);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    expect(width).toBeGreaterThan(1500);
    expect(height).toBeGreaterThan(400);
    expect(png.length).toBeGreaterThan(20_000);
    expect(png.length).toBeLessThan(2_000_000);
    expect(fs.readFileSync(out.svg, 'utf8').startsWith('<svg')).toBe(true);
    // To look at the figure: ILR_PLOT_KEEP=/tmp/toy.png npx jest test/plot/chart
    if (process.env.ILR_PLOT_KEEP) fs.copyFileSync(out.png, process.env.ILR_PLOT_KEEP);
  });

  test('a scatter series is hollow dots that no line joins', async () => {
    const spec = { title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'line', x: [1, 2], y: [1, 2], points: true }, { name: 'loose', x: [1, 3], y: [3, 1], scatter: true }] };
    const layers = (toVegaLite(spec) as unknown as { layer: { mark: { type: string; filled?: boolean }; data: { values: { name: string }[] } }[] }).layer;
    const names = (type: string, filled: boolean) => layers.filter((l) => l.mark.type === type && (type === 'line' || l.mark.filled === filled)).flatMap((l) => l.data.values.map((v) => v.name));
    expect(names('line', false)).toEqual(['line', 'line']);
    expect(names('point', true)).toEqual(['line', 'line']);
    expect(names('point', false)).toEqual(['loose', 'loose']);
    expect((await renderChart(spec)).svg).toContain('>loose<');
  });

  test('min/max decimation keeps spikes and the ends', () => {
    const y = Array.from({ length: 100_000 }, (_, i) => (i === 54_321 ? 100 : i === 77_777 ? -100 : Math.sin(i)));
    const idx = minMaxIndices(y, 1000);
    expect(idx.length).toBeLessThanOrEqual(2002);
    expect(idx).toContain(54_321);
    expect(idx).toContain(77_777);
    expect(idx[0]).toBe(0);
    expect(idx[idx.length - 1]).toBe(99_999);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
  });

  test('mismatched lengths and duplicate names fail naming the series', async () => {
    await expect(renderChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', x: [1, 2], y: [1] }] })).rejects.toThrow('series "a"');
    await expect(
      renderChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', x: [1], y: [1] }, { name: 'a', x: [1], y: [2] }] }),
    ).rejects.toThrow('named "a"');
  });
});
