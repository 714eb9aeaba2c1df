/**
 * The dashboard's server without a browser: it serves files under its directories and refuses
 * every way out of them (`..`, encoded `..`, a symbolic link), answers only requests addressed to
 * its own host, and gives the panels of a run with the predicted equilibrium beside the measured
 * angular update, and the sharpness panels of a run with sharpness.jsonl, following that file as
 * it grows and as a resume cuts it back.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { Dashboard, startDashboard } from '../../src/dashboard/server';
import { StepLines } from '../../src/io/step-lines';
import { SharpnessRecord } from '../../src/train/hessian';
import { tmpDir } from '../cli';

function get(url: string, rawPath: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    // http.request sends the path as given, without the normalisation a URL object would apply.
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const step = (s: number, lr: number) => ({
  type: 'step', step: s, epoch: s / 10, lr, wd: 5e-4, lambda_eta: lr * 5e-4, loss: 2, loss_avg: 2, acc: 0.1, w_norm: 10, g_norm: 1,
  si_w_norm: 8, eff_lr: lr / 64, angular_update: 0.01, cos_wg: 0, layers: { 'conv1.weight': { w_norm: 3, g_norm: 0.2, angular_update: 0.02, eff_lr: lr / 9 } },
});

describe('dashboard server', () => {
  let root: string;
  let dash: Dashboard;
  const SECRET = 'not for the dashboard';

  beforeAll(async () => {
    const base = tmpDir('ilr-serve-');
    root = path.join(base, 'runs');
    fs.mkdirSync(path.join(root, 'sweep', 'lr0.1'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sweep', 'lr0.1', 'config.json'), JSON.stringify({ config: { steps: 40, momentum: 0.9 } }));
    fs.writeFileSync(path.join(root, 'sweep', 'lr0.1', 'metrics.jsonl'), [step(10, 0.1), step(20, 0.1), step(30, 0.01)].map((r) => JSON.stringify(r) + '\n').join(''));
    fs.writeFileSync(path.join(base, 'secret.txt'), SECRET);
    fs.symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link.txt'));
    dash = await startDashboard({ roots: [root], port: 0 });
  });
  afterAll(() => dash.close());

  test('serves a file under its directory', async () => {
    const r = await get(dash.url, '/files/0/sweep/lr0.1/metrics.jsonl');
    expect(r.status).toBe(200);
    expect(r.body.split('\n')[0]).toContain('"step":10');
  });

  test.each([
    ['..', '/files/0/../secret.txt'],
    ['an encoded ..', '/files/0/..%2Fsecret.txt'],
    ['an encoded absolute path', `/files/0/${encodeURIComponent('/etc/passwd')}`],
    ['a symbolic link out', '/files/0/link.txt'],
  ])('refuses a path out of its directories: %s', async (_what, p) => {
    const r = await get(dash.url, p);
    expect(r.status).toBe(403);
    expect(r.body).not.toContain(SECRET);
    expect(JSON.parse(r.body).error).toMatch(/outside the directories/);
  });

  test('refuses a request addressed to another host (DNS rebinding)', async () => {
    const r = await get(dash.url, '/api/runs', { Host: 'attacker.example:80' });
    expect(r.status).toBe(403);
  });

  test('lists the run and gives its panels as vega-lite specs', async () => {
    const runs = JSON.parse((await get(dash.url, '/api/runs')).body);
    expect(runs).toEqual([expect.objectContaining({ id: '0/sweep/lr0.1', name: 'runs/sweep/lr0.1', steps: 40, momentum: 0.9 })]);
    const r = await get(dash.url, '/api/panels?run=0/sweep/lr0.1');
    expect(r.status).toBe(200);
    const { panels } = JSON.parse(r.body) as { panels: { key: string; spec: { layer: { data: { values: { name?: string; x: number; y: number }[] } }[] } }[] };
    expect(panels.map((p) => p.key)).toEqual(['loss', 'accuracy', 'w-norm', 'eff-lr', 'angular', 'schedule', 'layers-w-0', 'layers-angular-0']);
    const angular = panels.find((p) => p.key === 'angular')!.spec.layer.flatMap((l) => l.data.values);
    const predicted = angular.filter((v) => v.name?.startsWith('predicted'));
    // √(2ηλ/(1+β)) with β = 0.9, at each logged step, following the LR drop at step 30.
    expect(predicted.map((v) => [v.x, v.y])).toEqual([10, 20, 30].map((s) => [s, Math.sqrt((2 * (s < 30 ? 0.1 : 0.01) * 5e-4) / 1.9)]));
    expect((await get(dash.url, '/api/panels?run=0/nothing')).status).toBe(404);
  });
});

type Spec = { layer: { data: { values: { name?: string; x: number; y: number }[] } }[] };

describe('dashboard server, a run with sharpness.jsonl', () => {
  let dir: string;
  let dash: Dashboard;

  beforeAll(async () => {
    const root = tmpDir('ilr-serve-');
    dir = path.join(root, 'gd');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), [step(10, 0.1), step(20, 0.1)].map((r) => JSON.stringify(r) + '\n').join(''));
    dash = await startDashboard({ roots: [root], port: 0, pollMs: 20 });
  });
  afterAll(() => dash.close());

  test('its panels follow the file as it grows and as a resume cuts it back, with an update event each time', async () => {
    const log = new StepLines<SharpnessRecord>(path.join(dir, 'sharpness.jsonl'));
    const measured = (s: number, lr: number, lambda: number): SharpnessRecord =>
      ({ step: s, lr, lambda_max: lambda, lr_lambda_max: lr * lambda, weight_norm: 2, spherical: 4 * lambda, iterations: 20, residual: 1e-6, params: 'si' });
    const panels = async () => {
      const r = await get(dash.url, '/api/panels?run=0/gd');
      expect(r.status).toBe(200);
      return JSON.parse(r.body) as { summary: string; panels: { key: string; spec: Spec }[] };
    };
    const points = (ps: { key: string; spec: Spec }[], key: string, name: string) =>
      ps.find((p) => p.key === key)!.spec.layer.flatMap((l) => l.data.values).filter((v) => v.name === name).map((v) => [v.x, v.y]);

    // Not measured yet: no sharpness panels, no error.
    expect((await panels()).panels.map((p) => p.key)).not.toContain('sharpness');

    const events = await openEvents(dash.url, '/api/events?run=0/gd');
    try {
      log.append(measured(0, 0.1, 15));
      log.append(measured(10, 0.1, 19));
      await events.next('update');
      let now = await panels();
      expect(now.panels.map((p) => p.key)).toEqual(['loss', 'accuracy', 'w-norm', 'eff-lr', 'angular', 'schedule', 'sharpness', 'lambda-max', 'spherical', 'layers-w-0', 'layers-angular-0']);
      expect(points(now.panels, 'sharpness', 'GD is unstable along the top direction above 2')).toEqual([[0, 2], [10, 2]]);
      expect(points(now.panels, 'lambda-max', 'stability limit 2/η')).toEqual([[0, 20], [10, 20]]);
      expect(now.summary).toContain('η·λ_max 1.9 at step 10');

      // The LR drops at step 20: the limit 2/η follows it.
      log.append(measured(20, 0.01, 150));
      await events.next('update');
      now = await panels();
      expect(points(now.panels, 'lambda-max', 'stability limit 2/η')).toEqual([[0, 20], [10, 20], [20, 200]]);

      // A resume from step 10 cuts the log back.
      log.truncateAfter(10);
      await events.next('update');
      now = await panels();
      expect(points(now.panels, 'lambda-max', 'λ_max (scale-invariant weights)')).toEqual([[0, 15], [10, 19]]);
      expect(points(now.panels, 'spherical', '|w|²·λ_max (scale-invariant weights)')).toEqual([[0, 60], [10, 76]]);
    } finally {
      events.close();
    }
  });
});

/**
 * A server-sent event stream: `next(name)` waits for the next event of that name sent after the
 * call (so an event still on its way from an earlier change does not answer for a later one),
 * and fails after 10 s without one.
 */
function openEvents(url: string, rawPath: string): Promise<{ next(name: string): Promise<void>; close(): void }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath }, (res) => {
      let buffered = '';
      let waiting: { name: string; done: () => void } | undefined;
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        const events = (buffered + d).split('\n\n');
        buffered = events.pop()!;
        for (const e of events) {
          if (waiting && /^event: (.+)$/m.exec(e)?.[1] === waiting.name) {
            waiting.done();
            waiting = undefined;
          }
        }
      });
      const next = (name: string) =>
        new Promise<void>((done, fail) => {
          const timer = setTimeout(() => fail(new Error(`no "${name}" event within 10 s`)), 10_000);
          waiting = { name, done: () => (clearTimeout(timer), done()) };
        });
      resolve({ next, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}
