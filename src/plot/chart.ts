/**
 * Rendering the figures' charts in Node, without a browser: the vega-lite spec (spec.ts) →
 * vega → SVG, and resvg for SVG → PNG.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import { ChartSpec, FigureSpec, textEm, toVegaLite } from './spec';

export * from './spec';

/*
 * Without node-canvas, vega guesses 0.8 em per character for layout, far wider than real text
 * (≈ 0.6 em): a long rotated axis title then overhangs the plot and pushes the panel title up,
 * and legends take twice their width. Vega lets the measure be replaced (vl-convert does the
 * same); ours errs wide, so nothing clips in a narrower fallback font. A browser measures text
 * itself.
 */
(vega as unknown as { textMetrics: { width: (item: { fontSize?: number; fontWeight?: string | number }, text: unknown) => number } }).textMetrics.width = (item, text) => {
  const em = textEm(String(text ?? ''));
  const bold = /bold|[6-9]00/.test(String(item.fontWeight ?? ''));
  return em * (item.fontSize ?? 11) * (bold ? 1.12 : 1);
};

/** Renders to an SVG string, without a browser (vega's headless view). */
export async function renderChart(spec: ChartSpec | FigureSpec): Promise<{ svg: string }> {
  const view = new vega.View(vega.parse(compile(toVegaLite(spec)).spec), { renderer: 'none', logLevel: vega.Error });
  try {
    return { svg: await view.toSVG() };
  } finally {
    view.finalize();
  }
}

const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', path.join(process.env.HOME ?? '', '.fonts'), path.join(process.env.HOME ?? '', '.local/share/fonts'), '/System/Library/Fonts', '/Library/Fonts', 'C:\\Windows\\Fonts'];

function hasFontFile(dir: string, depth = 0): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some((e) => (e.isFile() && /\.(ttf|otf|ttc)$/i.test(e.name)) || (e.isDirectory() && depth < 4 && hasFontFile(path.join(dir, e.name), depth + 1)));
}

let fontsChecked = false;

/**
 * SVG → PNG at `scale`× (2 by default, for sharp text on screens and in print). resvg draws
 * text only with fonts it finds in the system font directories; without any, the PNG has no
 * text, and we say so once rather than fail (the SVG is still complete).
 */
export function svgToPng(svg: string, scale = 2): Buffer {
  if (!fontsChecked) {
    fontsChecked = true;
    if (!FONT_DIRS.some((d) => hasFontFile(d))) process.emitWarning('no system fonts found: PNG figures will have no text (the SVGs are fine). On Debian: apt-get install fonts-dejavu-core');
  }
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/** Writes `<base>.svg` and `<base>.png` (creating the folder) and returns their paths. */
export async function writeChart(spec: ChartSpec | FigureSpec, base: string): Promise<{ svg: string; png: string }> {
  const { svg } = await renderChart(spec);
  fs.mkdirSync(path.dirname(base), { recursive: true });
  const out = { svg: `${base}.svg`, png: `${base}.png` };
  fs.writeFileSync(out.svg, svg);
  fs.writeFileSync(out.png, svgToPng(svg));
  return out;
}
