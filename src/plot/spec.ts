/**
 * The vega-lite spec of a chart or a multi-panel figure, as plain data: the one builder behind
 * the figures (rendered to SVG/PNG in Node by chart.ts) and the dashboard (drawn by vega-embed
 * in the browser). It imports nothing, so it runs in both places.
 *
 * A figure is one or more panels (loss, |w|, effective LR … against step). Each panel draws
 * measured series as solid lines, theory predictions as dashed lines, optional shaded bands
 * (a spread over seeds, a min–max envelope) and labelled vertical rules (an LR decay, WD off).
 *
 * Data handling, so that callers can pass raw training logs:
 * - Non-finite values (a diverged loss) are dropped, and so are points ≤ 0 on a log axis;
 *   the panel's subtitle says how many of each were.
 * - Series or bands with ≥ 20 000 points are reduced to the min and the max of each of
 *   `DOWNSAMPLE_BUCKETS` buckets, so files stay small and spikes survive.
 */
import type { TopLevelSpec } from 'vega-lite';

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Drawn dashed: a theory prediction rather than a measurement. */
  dashed?: boolean;
  /** CSS colour; by default the next unused palette colour. */
  color?: string;
  /** Also a dot at each point (a scatter; a line needs two points, a dot shows one). */
  points?: boolean;
  /** Dots only, no line: points that belong to no curve (runs kept out of a fit). */
  scatter?: boolean;
}

/** A shaded region between `lo` and `hi`; it takes the colour of the series of the same name, if any. */
export interface Band {
  name: string;
  x: ArrayLike<number>;
  lo: ArrayLike<number>;
  hi: ArrayLike<number>;
}

export interface VLine {
  x: number;
  label: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  series: Series[];
  bands?: Band[];
  vlines?: VLine[];
  /** Plot area in px (default 360 × 240). */
  width?: number;
  height?: number;
}

/** Several panels in one figure, filled row by row. */
export interface FigureSpec {
  title?: string;
  panels: ChartSpec[];
  /** Panels per row; by default all in one row up to 3, and 2 per row for 4. */
  columns?: number;
}

/** Okabe & Ito's colour-blind-safe palette; yellow (faint on white) and black come last, and black is a good choice for a theory line. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

export const DOWNSAMPLE_THRESHOLD = 20_000;
export const DOWNSAMPLE_BUCKETS = 2_000;

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const DASH = [6, 4];
const WIDTH = 360;
const HEIGHT = 240;

/**
 * Min/max decimation: indices of the smallest and the largest `y` in each of `buckets`
 * equal-count buckets, in index order. The first and last points are always kept.
 */
export function minMaxIndices(y: ArrayLike<number>, buckets: number): number[] {
  const n = y.length;
  if (n <= 2 * buckets) return Array.from({ length: n }, (_, i) => i);
  const keep: number[] = [0];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * n) / buckets);
    const end = Math.floor(((b + 1) * n) / buckets);
    let lo = start;
    let hi = start;
    for (let i = start + 1; i < end; i++) {
      if (y[i] < y[lo]) lo = i;
      if (y[i] > y[hi]) hi = i;
    }
    keep.push(Math.min(lo, hi));
    if (hi !== lo) keep.push(Math.max(lo, hi));
  }
  keep.push(n - 1);
  return [...new Set(keep)];
}

interface Kept {
  rows: Record<string, number | string>[];
  /** Points left out: ≤ 0 on a log axis, or NaN/±Infinity (a diverged run). */
  nonPositive: number;
  nonFinite: number;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** True if a point's coordinates can be drawn; otherwise counts it as dropped. */
function triage(values: number[], logs: boolean[], kept: Kept): boolean {
  if (!values.every(Number.isFinite)) kept.nonFinite++;
  else if (values.some((v, j) => logs[j] && v <= 0)) kept.nonPositive++;
  else return true;
  return false;
}

function seriesRows(s: Series, logX: boolean, logY: boolean): Kept {
  if (s.x.length !== s.y.length) throw new Error(`series "${s.name}": x has ${s.x.length} values, y has ${s.y.length}`);
  const kept: Kept = { rows: [], nonPositive: 0, nonFinite: 0 };
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < s.x.length; i++) {
    if (triage([s.x[i], s.y[i]], [logX, logY], kept)) {
      x.push(s.x[i]);
      y.push(s.y[i]);
    }
  }
  const idx = x.length >= DOWNSAMPLE_THRESHOLD ? minMaxIndices(y, DOWNSAMPLE_BUCKETS) : x.map((_, i) => i);
  kept.rows = idx.map((i) => ({ name: s.name, x: x[i], y: y[i] }));
  return kept;
}

function bandRows(b: Band, logX: boolean, logY: boolean): Kept {
  if (b.x.length !== b.lo.length || b.x.length !== b.hi.length) {
    throw new Error(`band "${b.name}": x, lo and hi have ${b.x.length}, ${b.lo.length} and ${b.hi.length} values`);
  }
  const kept: Kept = { rows: [], nonPositive: 0, nonFinite: 0 };
  const x: number[] = [];
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < b.x.length; i++) {
    if (triage([b.x[i], b.lo[i], b.hi[i]], [logX, logY, logY], kept)) {
      x.push(b.x[i]);
      lo.push(b.lo[i]);
      hi.push(b.hi[i]);
    }
  }
  if (x.length < DOWNSAMPLE_THRESHOLD) {
    kept.rows = x.map((_, i) => ({ name: b.name, x: x[i], lo: lo[i], hi: hi[i] }));
    return kept;
  }
  // The envelope of each bucket, at the bucket's first x, so the band never gets narrower.
  const rows = kept.rows;
  for (let k = 0; k < DOWNSAMPLE_BUCKETS; k++) {
    const start = Math.floor((k * x.length) / DOWNSAMPLE_BUCKETS);
    const end = Math.floor(((k + 1) * x.length) / DOWNSAMPLE_BUCKETS);
    let l = Infinity;
    let h = -Infinity;
    for (let i = start; i < end; i++) {
      l = Math.min(l, lo[i]);
      h = Math.max(h, hi[i]);
    }
    rows.push({ name: b.name, x: x[start], lo: l, hi: h });
  }
  rows.push({ name: b.name, x: x[x.length - 1], lo: lo[x.length - 1], hi: hi[x.length - 1] });
  return kept;
}

/** One colour per name (series first, then bands not named like a series), in a shared legend. */
function colourScale(spec: ChartSpec): { domain: string[]; range: string[]; dash: number[][] } {
  const domain: string[] = [];
  const range: string[] = [];
  const dash: number[][] = [];
  const explicit = new Set(spec.series.map((s) => s.color).filter((c): c is string => !!c));
  const free = PALETTE.filter((c) => !explicit.has(c));
  let next = 0;
  const add = (name: string, colour: string | undefined, dashed: boolean) => {
    if (domain.includes(name)) throw new Error(`chart "${spec.title}": two series are named "${name}"`);
    domain.push(name);
    range.push(colour ?? free[next++ % free.length]);
    dash.push(dashed ? DASH : [1, 0]);
  };
  for (const s of spec.series) add(s.name, s.color, !!s.dashed);
  for (const b of spec.bands ?? []) if (!domain.includes(b.name)) add(b.name, undefined, false);
  return { domain, range, dash };
}

/** The colour scale of the bands: their names, in the colours `colourScale` gave them. */
function bandColours(spec: ChartSpec, domain: string[], range: string[]): { domain: string[]; range: string[] } {
  const names = [...new Set((spec.bands ?? []).map((b) => b.name))];
  return { domain: names, range: names.map((n) => range[domain.indexOf(n)]) };
}

const STEPS = [1, 2, 5];

/** The nearest 1-2-5 value (…, 0.5, 1, 2, 5, 10, …) at or below `v` (`up`: at or above). */
function snap125(v: number, up: boolean): number {
  const e = Math.floor(Math.log10(v));
  const candidates = [-1, 0, 1].flatMap((de) => STEPS.map((m) => Number((m * 10 ** (e + de)).toPrecision(12))));
  return up ? Math.min(...candidates.filter((c) => c >= v * (1 - 1e-9))) : Math.max(...candidates.filter((c) => c <= v * (1 + 1e-9)));
}

/**
 * Domain and tick values for a log axis over data in [lo, hi]. With `widen` the domain grows to
 * 1-2-5 values so both ends are labelled (for y, where reading a level matters; x is left to
 * fill the width). The ticks are the powers of ten, with 2× and 5× (or every multiple) when
 * too few decades give fewer than three. Vega's own log ticks label seemingly arbitrary
 * multiples and draw a grid line at each.
 */
export function logAxis(lo: number, hi: number, widen: boolean): { domain: [number, number]; ticks: number[] } {
  const domain: [number, number] = widen ? [snap125(lo, false), snap125(hi, true)] : [lo, hi];
  const ticksWith = (mults: number[]) => {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(domain[0])); e <= Math.ceil(Math.log10(domain[1])); e++) {
      for (const m of mults) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (v >= domain[0] && v <= domain[1]) ticks.push(v);
      }
    }
    return ticks;
  };
  const decades = ticksWith([1]);
  if (decades.length >= 3) return { domain, ticks: decades };
  const steps = ticksWith(STEPS);
  return { domain, ticks: steps.length >= 3 ? steps : ticksWith([1, 2, 3, 4, 5, 6, 7, 8, 9]) };
}

// Plain numbers in the readable range, else 1e-5 style, instead of 0.00001 or 100000.
const LOG_LABEL = "abs(datum.value) >= 1e-3 && abs(datum.value) < 1e5 ? format(datum.value, '~g') : format(datum.value, '.0e')";

function axis(title: string, log: boolean, widen: boolean, values: () => number[]): Record<string, unknown> {
  // Log axes keep their extent to the data; linear ones start where the data do, not at zero.
  if (!log) return { title, scale: { zero: false, nice: true }, axis: {} };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values()) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!(lo <= hi)) return { title, scale: { type: 'log' }, axis: {} };
  const { domain, ticks } = logAxis(lo, hi, widen);
  return { title, scale: { type: 'log', domain, nice: false }, axis: { values: ticks, labelExpr: LOG_LABEL } };
}

const VLINE_FONT = 11;

/**
 * Pixel offsets from the top for the labels of vertical rules: each label goes on the first
 * row where it does not run into a label to its left, so rules close together stay readable.
 * Positions are estimated from the data's x extent (the drawn axis may be a little wider).
 */
function labelOffsets(vlines: VLine[], xs: number[], log: boolean, width: number): number[] {
  const t = (v: number) => (log ? Math.log10(v) : v);
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of [...xs, ...vlines.map((v) => v.x)]) {
    lo = Math.min(lo, t(x));
    hi = Math.max(hi, t(x));
  }
  const px = (x: number) => (hi > lo ? ((t(x) - lo) / (hi - lo)) * width : 0);
  const rowEnds: number[] = []; // the right end, in px, of the last label on each row
  const offsets = new Array<number>(vlines.length);
  const order = vlines.map((_, i) => i).sort((a, b) => vlines[a].x - vlines[b].x);
  for (const i of order) {
    const start = px(vlines[i].x);
    let row = rowEnds.findIndex((end) => end < start);
    if (row < 0) row = rowEnds.push(0) - 1;
    rowEnds[row] = start + 4 + textEm(vlines[i].label) * VLINE_FONT + 6;
    offsets[i] = 4 + row * (VLINE_FONT + 3);
  }
  return offsets;
}

/** The vega-lite unit (a layer) for one panel; it has a subtitle only when there is something to note. */
function panelSpec(spec: ChartSpec): { title: { text: string; subtitle?: string } } & Record<string, unknown> {
  const logX = !!spec.logX;
  const logY = !!spec.logY;
  const lines = spec.series.map((s) => seriesRows(s, logX, logY));
  const bands = (spec.bands ?? []).map((b) => bandRows(b, logX, logY));
  const all = [...lines, ...bands];
  const notes = [
    plural(all.reduce((n, k) => n + k.nonPositive, 0), 'point') + ' ≤ 0 omitted on the log axis',
    plural(all.reduce((n, k) => n + k.nonFinite, 0), 'non-finite point') + ' omitted',
  ].filter((n) => !n.startsWith('0 '));
  const { domain, range, dash } = colourScale(spec);
  const color = {
    field: 'name',
    type: 'nominal',
    title: null,
    scale: { domain, range },
    legend: { orient: 'bottom', direction: 'vertical', labelLimit: 0, symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 300 },
  };
  const rows = all.flatMap((k) => k.rows);
  const x = { field: 'x', type: 'quantitative', ...axis(spec.xLabel, logX, false, () => rows.map((r) => r.x as number)) };
  const y = { field: 'y', type: 'quantitative', ...axis(spec.yLabel, logY, true, () => rows.flatMap((r) => ('y' in r ? [r.y as number] : [r.lo as number, r.hi as number]))) };

  const layer: Record<string, unknown>[] = [];
  if (bands.length > 0) {
    layer.push({
      data: { values: bands.flatMap((b) => b.rows) },
      mark: { type: 'area', opacity: 0.2, clip: true },
      // `fill`, not `color`, so that the legend shows line symbols; a band named after no series
      // still gets an entry, through the shared domain.
      // Its scale holds the bands' names alone: it is shared by every panel of a figure, and a
      // panel's other series would make its domain conflict with another panel's.
      encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, fill: { ...color, scale: bandColours(spec, domain, range), legend: null } },
    });
  }
  layer.push({
    data: { values: lines.flatMap((l, i) => (spec.series[i].scatter ? [] : l.rows)) },
    mark: { type: 'line', strokeWidth: 1.8, clip: true },
    encoding: {
      x,
      y,
      color,
      strokeDash: { field: 'name', type: 'nominal', scale: { domain, range: dash } },
    },
  });
  const dots = spec.series.flatMap((s, i) => (s.points && !s.scatter ? lines[i].rows : []));
  if (dots.length > 0) layer.push({ data: { values: dots }, mark: { type: 'point', filled: true, size: 45, opacity: 1, clip: true }, encoding: { x, y, color } });
  // Hollow dots: the scatter series, which no line joins.
  const loose = spec.series.flatMap((s, i) => (s.scatter ? lines[i].rows : []));
  if (loose.length > 0) layer.push({ data: { values: loose }, mark: { type: 'point', filled: false, size: 60, strokeWidth: 1.8, opacity: 1, clip: true }, encoding: { x, y, color } });
  // A rule at x ≤ 0 has no place on a log axis.
  const vlines = (spec.vlines ?? []).filter((v) => Number.isFinite(v.x) && (!logX || v.x > 0));
  if (vlines.length > 0) {
    const at = { field: 'x', type: 'quantitative' };
    const top = labelOffsets(vlines, rows.map((r) => r.x as number), logX, spec.width ?? WIDTH);
    const rules = { values: vlines.map((v, i) => ({ ...v, top: top[i] })) };
    layer.push({ data: rules, mark: { type: 'rule', color: '#666', strokeDash: [2, 3], strokeWidth: 1.2 }, encoding: { x: at } });
    layer.push({
      data: rules,
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, fontSize: VLINE_FONT, color: '#444' },
      // `scale: null`: the offset is in pixels from the top of the plot.
      encoding: { x: at, y: { field: 'top', type: 'quantitative', scale: null }, text: { field: 'label' } },
    });
  }

  return {
    title: { text: spec.title, ...(notes.length > 0 ? { subtitle: notes.join('; ') } : {}) },
    width: spec.width ?? WIDTH,
    height: spec.height ?? HEIGHT,
    layer,
  };
}

const CONFIG = {
  font: FONT,
  padding: 12,
  background: 'white',
  title: { fontSize: 15, fontWeight: 'bold', subtitleFontSize: 11, subtitleColor: '#666', anchor: 'start', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', gridColor: '#e8e8e8', domainColor: '#888', tickColor: '#888', labelOverlap: true, labelFlush: true },
  legend: { labelFontSize: 12, rowPadding: 4, columnPadding: 16, offset: 12 },
  view: { stroke: '#ccc' },
  concat: { spacing: 36 },
};

function isFigure(spec: ChartSpec | FigureSpec): spec is FigureSpec {
  return 'panels' in spec;
}

/** Text width in em of DejaVu Sans (the PNG font), by character class, rounded up. */
function charEm(c: string): number {
  if (/[ijlfrtI.,:;'!|()[\]{} ]/.test(c)) return 0.42;
  if (/[mwMW]/.test(c)) return 1.0;
  if (/[A-Z√]/.test(c)) return 0.8;
  return 0.65;
}

/** The width of `text` in em (see charEm): where the labels of vertical rules go, and the text measure chart.ts gives vega in Node. */
export function textEm(text: string): number {
  let em = 0;
  for (const c of text) em += charEm(c);
  return em;
}

/**
 * The vega-lite spec for a chart or a multi-panel figure (exposed so it can be saved or inspected).
 * The parts are built as plain objects: vega-lite's spec types are too deep to spell out here,
 * and the tests render every kind of layer this file emits.
 */
export function toVegaLite(spec: ChartSpec | FigureSpec): TopLevelSpec {
  if (!isFigure(spec)) return { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', config: CONFIG, ...panelSpec(spec) } as unknown as TopLevelSpec;
  if (spec.panels.length === 0) throw new Error(`figure "${spec.title ?? ''}" has no panels`);
  const panels = spec.panels.map(panelSpec);
  // Panels are aligned by their outer box, so one subtitle would shift its plot down: give the
  // others a blank one.
  if (panels.some((p) => p.title.subtitle)) for (const p of panels) p.title.subtitle ||= ' ';
  const columns = spec.columns ?? (spec.panels.length === 4 ? 2 : Math.min(spec.panels.length, 3));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: CONFIG,
    ...(spec.title ? { title: { text: spec.title, fontSize: 17, anchor: 'start' } } : {}),
    columns,
    concat: panels,
    // A legend per panel, since panels plot different series.
    resolve: { scale: { color: 'independent', strokeDash: 'independent' } },
  } as unknown as TopLevelSpec;
}
