import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeChart } from '../../src/plot/chart';
import { formatVerdictTable, Report, Verdict, writeReport } from '../../src/plot/report';

const verdicts: Verdict[] = [
  { figure: 'toy', check: 'loss spikes after reaching < 1e-3', passed: true, measured: '4 spikes', expected: '≥ 2 spikes' },
  { figure: 'toy', check: 'converges with WD off', passed: true, measured: 'loss 2.1e-6', expected: '< 1e-4' },
  { figure: 'intrinsic', check: 'angular update <script>alert(1)</script> | ratio', passed: false, measured: '0.71 × √(2ηλ)', expected: '0.9 – 1.1 × "√(2ηλ)"' },
];

function report(images: string[]): Report {
  return {
    title: 'intrinsic-lr & friends',
    scale: 'cpu',
    generatedAt: new Date('2025-01-02T03:04:05Z'),
    budgetSeconds: 240,
    command: 'ilr report --scale cpu',
    intro: 'At cpu scale λη is larger.\n\nTime to equilibrium is O(1/λη) steps.',
    sections: [
      {
        id: 'toy',
        title: 'Toy: GD + WD',
        claim: 'Full-batch GD + WD is not gradient flow.',
        settings: { 'η': 0.1, 'λ': 5e-3, steps: 30000, model: '<toy>' },
        rationale: 'Chosen so 1/λη = 2000 steps.',
        images,
        verdicts: verdicts.slice(0, 2),
        seconds: 12.3,
      },
      { id: 'intrinsic', title: 'Intrinsic LR grid', claim: 'Only λη matters.', settings: {}, images: [], verdicts: verdicts.slice(2), seconds: 250, notes: ['one seed'] },
    ],
  };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-report-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('writeReport writes index.html and summary.md with escaped content and counts', async () => {
  await writeChart({ title: 'loss', xLabel: 'step', yLabel: 'loss', series: [{ name: 'run', x: [1, 2, 3], y: [3, 2, 1] }] }, path.join(dir, 'toy'));
  await writeReport(dir, report(['toy.svg', 'toy.png']));

  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  expect(html).toContain('2 of 3 checks passed');
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html).not.toContain('<script>');
  expect(html).toContain('intrinsic-lr &amp; friends');
  expect(html).toContain('&quot;√(2ηλ)&quot;');
  expect(html).toContain('&lt;toy&gt;');
  expect(html).toContain('<img src="toy.svg"');
  expect(html).toContain('<p>Time to equilibrium is O(1/λη) steps.</p>');
  expect(html).toContain('4 min 10 s');
  expect(html.match(/<tr class="fail">/g)).toHaveLength(2); // overall table and its section
  expect(html.match(/<tr class="pass">/g)).toHaveLength(4);

  const md = fs.readFileSync(path.join(dir, 'summary.md'), 'utf8');
  expect(md).toContain('**2 of 3 checks passed.**');
  expect(md).toContain('angular update <script>alert(1)</script> \\| ratio');
  expect(md.split('\n').filter((l) => l.includes('❌ FAIL'))).toHaveLength(1);
  expect(md.split('\n').filter((l) => l.includes('✅ pass'))).toHaveLength(2);
  // Times against the scale's budget (4 min here): 12.3 s is within it, 250 s over.
  expect(md).toContain('| figure | time | budget 4 min 00 s |');
  expect(md).toContain('| Intrinsic LR grid | 4 min 10 s | **over** |');
  expect(md).toMatch(/\| 12\.3 s \| within \|/);
  expect(html).toContain('(budget 4 min 00 s, over)');
});

test('formatVerdictTable aligns columns and counts', () => {
  const table = formatVerdictTable(verdicts);
  const lines = table.split('\n');
  expect(lines[0]).toMatch(/^figure\s+check\s+result\s+measured\s+expected$/);
  const col = lines[0].indexOf('result');
  expect(lines.slice(2, 5).map((l) => l.slice(col, col + 4))).toEqual(['PASS', 'PASS', 'FAIL']);
  expect(lines[lines.length - 1]).toBe('2 of 3 checks passed');
  expect(formatVerdictTable(verdicts, { color: true })).toContain('\x1b[31mFAIL');
});
