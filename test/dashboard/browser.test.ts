/**
 * The dashboard in a real browser: `ilr dashboard` on a run that is still training, the page
 * opened in Debian's headless chromium (driven by playwright-core), a chart drawn with the run's
 * points (its sharpness too: it measures it), and more points after the run has advanced, without
 * reloading the page. Every request
 * the page makes goes to the dashboard itself.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium } from 'playwright-core';
import { lastLoggedStep } from '../../src/train/metrics';
import { startCli, tmpDir, writeConfig } from '../cli';
import { CHROMIUM, itBrowser } from '../helpers';
import { tinyConfig } from '../train/fixtures';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'];

async function until<T>(what: () => string, f: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stop(child: ReturnType<typeof startCli>): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

// The page's DOM, as far as the function below (run in the browser) uses it; the tests' types have no DOM.
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

/** Runs in the page: the vertices of a panel's first line (vega draws `M x,y L x,y …`) if more than `n`, else false. */
function morePoints({ key, n }: { key: string; n: number }): number | false {
  const d = document.querySelector(`[data-key="${key}"] g.mark-line path`)?.getAttribute('d') ?? '';
  const count = (d.match(/[ML]/g) ?? []).length;
  return count > n && count;
}

itBrowser('ilr dashboard draws a run as it trains, in headless chromium', async () => {
  const root = tmpDir('ilr-dashboard-');
  const runs = path.join(root, 'runs');
  const metrics = path.join(runs, 'live', 'metrics.jsonl');
  // Long enough that it is still training when the test ends (it is stopped then).
  const config = writeConfig(root, 'live.json', tinyConfig({ steps: 1_000_000, logEvery: 5, layerEvery: 10, evalEvery: 50, checkpointEvery: 1_000_000, sharpnessEvery: 10 }));
  const trainer = startCli(['train', '--config', config, '--out', path.join(runs, 'live'), '--quiet', '--threads', '1']);
  let dashboard: ReturnType<typeof startCli> | undefined;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-chromium-'));
  let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  try {
    await until(() => 'the first records', () => (lastLoggedStep(metrics) >= 10 ? true : undefined));
    dashboard = startCli(['dashboard', runs, '--port', '0']);
    let out = '';
    dashboard.stdout!.on('data', (d) => (out += d));
    dashboard.stderr!.on('data', (d) => (out += d));
    const url = await until(() => `the dashboard to print its address (it said: ${out})`, () => /http:\/\/127\.0\.0\.1:\d+\//.exec(out)?.[0]);

    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    const page = browser.pages()[0] ?? (await browser.newPage());
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url); // no run in the URL: the page picks the one updated last
    const first = (await (await page.waitForFunction(morePoints, { key: 'w-norm', n: 1 }, { timeout: 60_000 })).jsonValue()) as number;
    expect(first).toBeGreaterThanOrEqual(2);
    expect(first).toBeLessThanOrEqual(lastLoggedStep(metrics) / 5); // one point per logged step, no more
    expect(await page.$eval('#runs', (e) => e.textContent)).toContain('runs/live');
    for (const key of ['loss', 'accuracy', 'eff-lr', 'angular', 'schedule', 'sharpness', 'lambda-max', 'spherical', 'layers-w-0', 'layers-angular-0']) {
      // Waited for: the page draws the panels one after another.
      await page.waitForSelector(`[data-key="${key}"] svg`, { timeout: 30_000 });
    }

    // The run goes on; the open page draws its new points when the server says the file grew.
    const later = (await (await page.waitForFunction(morePoints, { key: 'w-norm', n: first }, { timeout: 60_000 })).jsonValue()) as number;
    expect(later).toBeGreaterThan(first);
    expect(trainer.exitCode).toBeNull(); // still training
    const origin = new URL(url).origin;
    expect(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'))).toEqual([]);
  } finally {
    await browser?.close();
    await Promise.all([stop(trainer), dashboard && stop(dashboard)]);
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
