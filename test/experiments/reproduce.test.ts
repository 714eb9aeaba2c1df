/**
 * `ilr reproduce --scale smoke`: every figure of the registry runs its smoke preset, and the
 * report and every figure file are written. The verdicts are not required at smoke scale, and the
 * times (each section records its seconds) are not asserted: a slow day must not fail a test.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EXPERIMENTS } from '../../src/experiments/registry';
import { reproduce } from '../../src/experiments/reproduce';

it('runs every figure at smoke scale and writes the report', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-reproduce-'));
  try {
    const sections = await reproduce(EXPERIMENTS, { scale: 'smoke', out, seed: 0, ep: 'cpu', threads: 2, jobs: 1, quiet: true });
    expect(sections.map((s) => s.id)).toEqual(EXPERIMENTS.map((e) => e.id));
    for (const s of sections) {
      expect(s.images.length).toBeGreaterThan(0);
      for (const img of s.images) {
        expect(fs.statSync(path.join(out, img)).size).toBeGreaterThan(1000);
        expect(fs.existsSync(path.join(out, img.replace(/\.png$/, '.svg')))).toBe(true);
      }
      expect(s.verdicts.length).toBeGreaterThan(0);
    }
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    const summary = fs.readFileSync(path.join(out, 'summary.md'), 'utf8');
    for (const e of EXPERIMENTS) {
      expect(html).toContain(`id="${e.id}"`);
      expect(summary).toContain(e.id);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}, 20 * 60 * 1000);
