/**
 * The dashboard's HTTP server (node's own `http`; there are six routes). It reads run directories
 * and never writes them.
 *
 *   /                       the page, /dashboard.js its script, /vendor/* vega, vega-lite, vega-embed
 *   /api/runs               the runs under the directories given
 *   /api/panels?run=ID…     the vega-lite specs of the panels for the runs picked
 *   /api/events?run=ID…     server-sent events: `update` when a picked run's metrics or sharpness change
 *   /files/ROOT/PATH        a file under one of the directories given (metrics.jsonl, sharpness.jsonl, figures)
 *
 * It binds 127.0.0.1 unless told otherwise, answers only requests addressed to that host (a web
 * page elsewhere cannot reach it through DNS rebinding), and serves no file outside the
 * directories given: a path is resolved, symbolic links included, and refused unless it lies
 * under one of them.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { toVegaLite } from '../plot/spec';
import { fmt } from '../util/format';
import { dashboardPanels, RunView } from './figure';
import { PAGE, SCRIPT } from './page';
import { listRuns, RunEntry } from './runs';
import { RunTail } from './tail';

export interface DashboardOptions {
  roots: string[];
  port: number;
  host?: string;
  /** How often a picked run's metrics.jsonl and sharpness.jsonl are checked for growth (default 1 s). */
  pollMs?: number;
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

/** The browser builds of vega, vega-lite and vega-embed, from node_modules. */
const VENDOR: Record<string, string> = {
  'vega.min.js': path.join(path.dirname(require.resolve('vega')), 'vega.min.js'),
  'vega-lite.min.js': path.join(path.dirname(require.resolve('vega-lite')), 'vega-lite.min.js'),
  'vega-embed.min.js': path.join(path.dirname(require.resolve('vega-embed')), 'vega-embed.min.js'),
};

// vega compiles its expressions with `Function`, hence 'unsafe-eval'; nothing comes from elsewhere.
const PAGE_POLICY = "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";

const TYPES: Record<string, string> = {
  '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml', '.pdf': 'application/pdf',
};

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The file a `/files/ROOT/PATH` request names, if it lies under that root (after resolving links). */
export function servedFile(roots: readonly string[], rootIndex: string, encoded: string): string {
  const root = roots[Number(rootIndex)];
  if (!/^\d+$/.test(rootIndex) || root === undefined) throw new HttpError(404, `no served directory #${rootIndex}`);
  let rel: string;
  try {
    rel = decodeURIComponent(encoded);
  } catch {
    throw new HttpError(400, 'malformed percent-encoding in the path');
  }
  const realRoot = fs.realpathSync(root);
  const inside = (p: string) => p === realRoot || p.startsWith(realRoot + path.sep);
  const target = path.resolve(realRoot, rel);
  if (rel.includes('\0') || !inside(target)) throw new HttpError(403, 'refused: the path leads outside the directories this dashboard serves');
  let real: string;
  try {
    real = fs.realpathSync(target);
  } catch {
    throw new HttpError(404, `no file ${rel}`);
  }
  if (!inside(real)) throw new HttpError(403, 'refused: the path leads outside the directories this dashboard serves');
  if (!fs.statSync(real).isFile()) throw new HttpError(404, `${rel} is not a file`);
  return real;
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const roots = opts.roots.map((r) => path.resolve(r));
  for (const r of roots) {
    if (!fs.existsSync(r) || !fs.statSync(r).isDirectory()) throw new Error(`${r}: no such directory; give run directories, a figure's output, a sweep or runs/`);
  }
  const host = opts.host ?? '127.0.0.1';
  const pollMs = opts.pollMs ?? 1000;
  const tails = new Map<string, { tail: RunTail; version: number }>();
  const streams = new Set<http.ServerResponse>();

  // The walk is cached for a poll interval, and redone when an id is not found (a new run).
  let listed = { at: 0, runs: [] as RunEntry[] };
  const relist = () => (listed = { at: Date.now(), runs: listRuns(roots) }).runs;
  const runs = () => (Date.now() - listed.at > pollMs ? relist() : listed.runs);
  const picked = (q: URLSearchParams): RunEntry[] =>
    q.getAll('run').map((id) => {
      const r = runs().find((e) => e.id === id) ?? relist().find((e) => e.id === id);
      if (!r) throw new HttpError(404, `no run "${id}" under ${roots.join(', ')}`);
      return r;
    });
  /** Reads a run's new records; its version goes up whenever they change. */
  const follow = (r: RunEntry) => {
    let t = tails.get(r.dir);
    if (!t) tails.set(r.dir, (t = { tail: new RunTail(r.dir), version: 0 }));
    const { records, sharpness, changed } = t.tail.read();
    if (changed) t.version++;
    return { records, sharpness, version: t.version };
  };

  const panels = (q: URLSearchParams) => {
    let layers: RegExp | undefined;
    try {
      layers = q.get('layers') ? new RegExp(q.get('layers')!) : undefined;
    } catch (e) {
      throw new HttpError(400, `layers "${q.get('layers')}": ${(e as Error).message}`);
    }
    const views: RunView[] = picked(q).map((r) => {
      const { records, sharpness } = follow(r);
      return { name: r.name, momentum: r.momentum, optimizer: r.optimizer, records, sharpness };
    });
    const summary = views
      .map((v) => {
        const last = v.records.steps[v.records.steps.length - 1];
        const ev = v.records.evals[v.records.evals.length - 1];
        const sh = v.sharpness[v.sharpness.length - 1];
        return `${v.name}: step ${last?.step ?? 0}${ev ? `, test acc ${(100 * ev.test_acc).toFixed(2)}% at step ${ev.step}` : ''}${sh ? `, η·λ_max ${fmt(sh.lr_lambda_max)} at step ${sh.step}` : ''}${v.records.diverged ? ' — diverged' : ''}`;
      })
      .join('; ');
    return { summary, panels: dashboardPanels(views, { layers }).map((p) => ({ key: p.key, spec: toVegaLite(p.chart) })) };
  };

  const events = (q: URLSearchParams, res: http.ServerResponse) => {
    const watched = picked(q);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    const seen = new Map(watched.map((r) => [r.id, follow(r).version]));
    const timer = setInterval(() => {
      for (const r of watched) {
        const v = follow(r).version;
        if (v !== seen.get(r.id)) {
          seen.set(r.id, v);
          res.write(`event: update\ndata: ${JSON.stringify({ run: r.id })}\n\n`);
        }
      }
    }, pollMs);
    streams.add(res);
    res.on('close', () => {
      clearInterval(timer);
      streams.delete(res);
    });
  };

  const send = (res: http.ServerResponse, status: number, type: string, body: string | Buffer, headers: http.OutgoingHttpHeaders = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store', ...headers });
    res.end(body);
  };
  const json = (res: http.ServerResponse, body: unknown) => send(res, 200, 'application/json', JSON.stringify(body));

  let allowedHosts: Set<string>;
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (allowedHosts.size > 0 && !allowedHosts.has(req.headers.host ?? '')) throw new HttpError(403, `refused: requests must be addressed to ${[...allowedHosts][0]}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'only GET');
    // The raw path, not a normalised URL: a `..` must reach the check in servedFile, not vanish before it.
    const [rawPath, search = ''] = (req.url ?? '/').split('?', 2);
    const q = new URLSearchParams(search);
    const file = /^\/files\/([^/]*)\/(.+)$/.exec(rawPath);
    if (file) {
      const real = servedFile(roots, file[1], file[2]);
      // Served as data only: a sandbox keeps an HTML or SVG file from running script on this origin.
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(real)] ?? 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': 'sandbox' });
      fs.createReadStream(real).pipe(res);
      return;
    }
    const vendor = /^\/vendor\/([\w.-]+)$/.exec(rawPath);
    if (vendor && VENDOR[vendor[1]]) return send(res, 200, 'text/javascript', fs.readFileSync(VENDOR[vendor[1]]));
    switch (rawPath) {
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', PAGE, { 'Content-Security-Policy': PAGE_POLICY });
      case '/dashboard.js':
        return send(res, 200, 'text/javascript', SCRIPT);
      case '/api/runs':
        return json(res, runs().map(({ dir: _dir, ...r }) => r));
      case '/api/panels':
        return json(res, panels(q));
      case '/api/events':
        return events(q, res);
      default:
        throw new HttpError(404, `no such page: ${rawPath}`);
    }
  };

  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      if (!res.headersSent) send(res, status, 'application/json', JSON.stringify({ error: (e as Error).message }));
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${opts.port} on ${host} is in use: choose another with --port (0 picks a free one)`) : e));
    server.listen(opts.port, host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  const open = host === '0.0.0.0' || host === '::';
  allowedHosts = open ? new Set() : new Set([`${host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy();
        server.close(() => resolve());
      }),
  };
}
