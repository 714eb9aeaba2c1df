/**
 * The run report: `index.html` (figures, verdicts, settings and rationale; images referenced by
 * relative path, so the folder can be moved or zipped as is) and `summary.md` (the verdict
 * table), plus the same table formatted for a terminal.
 */
import * as fs from 'fs';
import * as path from 'path';
import { formatDuration } from '../util/format';

/** One automatic check of a paper claim. */
export interface Verdict {
  figure: string;
  check: string;
  passed: boolean;
  measured: string;
  expected: string;
  /** Reported, not enforced: the check was calibrated for other settings than the runs used (a figure run with `--optimizer`). */
  informative?: boolean;
}

export interface FigureSection {
  /** Used as the HTML anchor, e.g. `toy`. */
  id: string;
  title: string;
  /** The paper's claim this figure tests, in a sentence. */
  claim: string;
  /** The resolved settings of the run (η, λ, steps, model …). */
  settings: Record<string, string | number>;
  /** Why these settings (e.g. a larger λη at cpu scale); blank lines separate paragraphs. */
  rationale?: string;
  /** Paths relative to the report folder. */
  images: string[];
  verdicts: Verdict[];
  /** Wall-clock time of the figure's runs. */
  seconds?: number;
  notes?: string[];
}

export interface Report {
  title: string;
  /** `smoke`, `cpu` or `paper`. */
  scale: string;
  sections: FigureSection[];
  generatedAt: Date;
  /** The time each figure should take at this scale on the reference machine (2 cores), if there is one. */
  budgetSeconds?: number;
  /** The command line that produced the report. */
  command?: string;
  /** Opening paragraphs; blank lines separate them. */
  intro?: string;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function allVerdicts(r: Report): Verdict[] {
  return r.sections.flatMap((s) => s.verdicts);
}

function countLine(verdicts: Verdict[]): string {
  return `${verdicts.filter((v) => v.passed).length} of ${verdicts.length} checks passed`;
}

/** A plain-text table, one row per verdict; `color` adds ANSI green/red to PASS/FAIL. */
export function formatVerdictTable(verdicts: Verdict[], opts: { color?: boolean } = {}): string {
  const head = ['figure', 'check', 'result', 'measured', 'expected'];
  const rows = verdicts.map((v) => [v.figure, v.check, v.passed ? 'PASS' : 'FAIL', v.measured, v.expected]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const padded = c.padEnd(widths[i]);
        if (!opts.color || i !== 2) return padded;
        return `${c === 'PASS' ? '\x1b[32m' : '\x1b[31m'}${padded}\x1b[0m`;
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(head), rule, ...rows.map(line), rule, countLine(verdicts)].join('\n');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function summaryMarkdown(r: Report): string {
  const verdicts = allVerdicts(r);
  const lines = [
    `# ${r.title}`,
    '',
    `Scale: \`${r.scale}\`. Generated ${r.generatedAt.toISOString()}. **${countLine(verdicts)}.**`,
    '',
    '| figure | check | result | measured | expected |',
    '|---|---|---|---|---|',
    ...verdicts.map((v) => `| ${mdCell(v.figure)} | ${mdCell(v.check)} | ${v.passed ? '✅ pass' : '❌ FAIL'} | ${mdCell(v.measured)} | ${mdCell(v.expected)} |`),
  ];
  const timed = r.sections.filter((s) => s.seconds !== undefined);
  if (timed.length > 0) {
    const budget = r.budgetSeconds;
    const within = (t: number) => (budget === undefined ? '' : t <= budget ? ' | within' : ' | **over**');
    lines.push('', `| figure | time${budget === undefined ? '' : ` | budget ${formatDuration(budget)}`} |`, budget === undefined ? '|---|---|' : '|---|---|---|',
      ...timed.map((s) => `| ${mdCell(s.title)} | ${formatDuration(s.seconds!)}${within(s.seconds!)} |`));
  }
  return lines.join('\n') + '\n';
}

function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p)
    .map((p) => `<p>${escapeHtml(p)}</p>`)
    .join('\n');
}

function verdictRows(verdicts: Verdict[], withFigure: boolean): string {
  return verdicts
    .map(
      (v) =>
        `<tr class="${v.passed ? 'pass' : 'fail'}">${withFigure ? `<td>${escapeHtml(v.figure)}</td>` : ''}<td>${escapeHtml(v.check)}</td>` +
        `<td class="result">${v.passed ? 'pass' : 'FAIL'}</td><td class="num">${escapeHtml(v.measured)}</td><td class="num">${escapeHtml(v.expected)}</td></tr>`,
    )
    .join('\n');
}

function verdictTable(verdicts: Verdict[], withFigure: boolean): string {
  if (verdicts.length === 0) return '<p class="muted">No automatic checks.</p>';
  const head = `${withFigure ? '<th>figure</th>' : ''}<th>check</th><th>result</th><th>measured</th><th>expected</th>`;
  return `<table class="verdicts"><thead><tr>${head}</tr></thead><tbody>\n${verdictRows(verdicts, withFigure)}\n</tbody></table>`;
}

function sectionHtml(s: FigureSection, budgetSeconds?: number): string {
  const passed = s.verdicts.filter((v) => v.passed).length;
  const status = s.verdicts.length === 0 ? '' : `<span class="badge ${passed === s.verdicts.length ? 'pass' : 'fail'}">${passed}/${s.verdicts.length}</span>`;
  const settings = Object.entries(s.settings)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join('\n');
  const images = s.images.map((src) => `<a href="${escapeHtml(src)}"><img src="${escapeHtml(src)}" alt="${escapeHtml(s.title)}"></a>`).join('\n');
  return `<section id="${escapeHtml(s.id)}">
<h2>${escapeHtml(s.title)} ${status}</h2>
<p class="claim">${escapeHtml(s.claim)}</p>
${images ? `<div class="figures">${images}</div>` : ''}
${verdictTable(s.verdicts, false)}
<div class="details">
<div><h3>Settings</h3><table class="settings">${settings}</table>${s.seconds !== undefined ? `<p class="muted">Time: ${formatDuration(s.seconds)}${budgetSeconds !== undefined ? ` (budget ${formatDuration(budgetSeconds)}${s.seconds > budgetSeconds ? ', over' : ''})` : ''}</p>` : ''}</div>
<div>${s.rationale ? `<h3>Why these settings</h3>${paragraphs(s.rationale)}` : ''}${s.notes?.length ? `<h3>Notes</h3><ul>${s.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}</div>
</div>
</section>`;
}

const CSS = `
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #222; margin: 0; background: #f6f7f9; }
main { max-width: 1200px; margin: 0 auto; padding: 0 24px 48px; }
header { background: #1f2d3d; color: #fff; padding: 20px 24px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header .meta { color: #c9d3de; font-size: 14px; }
header .count { display: inline-block; margin-top: 8px; padding: 4px 12px; border-radius: 14px; font-weight: 600; }
header .count.pass { background: #1a7f37; } header .count.fail { background: #b42318; }
code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; background: #eef0f3; padding: 1px 4px; border-radius: 3px; }
header code { background: #2c3e50; color: #e6edf3; }
section { background: #fff; border: 1px solid #e1e4e8; border-radius: 8px; padding: 8px 24px 20px; margin-top: 24px; }
h2 { font-size: 20px; } h3 { font-size: 15px; margin: 12px 0 6px; }
.claim { font-style: italic; color: #444; }
.muted { color: #777; }
.badge { font-size: 13px; padding: 2px 8px; border-radius: 10px; color: #fff; vertical-align: middle; }
.badge.pass { background: #1a7f37; } .badge.fail { background: #b42318; }
.figures img { max-width: 100%; height: auto; display: block; margin: 8px 0; }
table { border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eaecef; vertical-align: top; }
table.verdicts { width: 100%; margin: 8px 0; }
table.verdicts thead th { background: #f0f2f5; }
tr.pass td.result { color: #1a7f37; font-weight: 600; } tr.fail td.result { color: #b42318; font-weight: 700; }
tr.pass { background: #f0faf3; } tr.fail { background: #fdf0ef; }
td.num { font-variant-numeric: tabular-nums; }
table.settings th { font-weight: 500; color: #555; }
.details { display: grid; grid-template-columns: minmax(280px, 1fr) 2fr; gap: 24px; }
nav ol { padding-left: 20px; }
`;

export function reportHtml(r: Report): string {
  const verdicts = allVerdicts(r);
  const allPassed = verdicts.every((v) => v.passed);
  const toc = r.sections
    .map((s) => {
      const passed = s.verdicts.filter((v) => v.passed).length;
      const time = s.seconds !== undefined ? ` · ${formatDuration(s.seconds)}` : '';
      return `<li><a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a> <span class="muted">${passed}/${s.verdicts.length} passed${time}</span></li>`;
    })
    .join('\n');
  const total = r.sections.reduce((t, s) => t + (s.seconds ?? 0), 0);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(r.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(r.title)}</h1>
<div class="meta">scale <code>${escapeHtml(r.scale)}</code> · generated ${escapeHtml(r.generatedAt.toISOString())}${total > 0 ? ` · total time ${formatDuration(total)}` : ''}</div>
${r.command ? `<div class="meta">command <code>${escapeHtml(r.command)}</code></div>` : ''}
<div class="count ${allPassed ? 'pass' : 'fail'}">${countLine(verdicts)}</div>
</header>
<main>
${r.intro ? paragraphs(r.intro) : ''}
<nav><h2>Figures</h2><ol>${toc}</ol></nav>
<h2>Verdicts</h2>
${verdictTable(verdicts, true)}
${r.sections.map((s) => sectionHtml(s, r.budgetSeconds)).join('\n')}
</main>
</body>
</html>
`;
}

/** Writes `index.html` and `summary.md` into `dir` (created if missing). */
export async function writeReport(dir: string, r: Report): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true });
  await fs.promises.writeFile(path.join(dir, 'index.html'), reportHtml(r));
  await fs.promises.writeFile(path.join(dir, 'summary.md'), summaryMarkdown(r));
}
