/**
 * The dashboard's page and its script. The page lists the runs (picked ones are in the URL,
 * `?run=ID&run=ID`, so a view can be bookmarked), asks the server for the panels' vega-lite
 * specs and draws each with vega-embed as SVG; a server-sent event says when a picked run's
 * metrics changed, and the panels are fetched and drawn again.
 *
 * Everything the page loads comes from the dashboard's server (vega, vega-lite and vega-embed
 * from node_modules); its Content-Security-Policy forbids any other origin.
 */

export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>intrinsic-lr dashboard</title>
<style>
  body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 0; display: flex; color: #222; }
  nav { width: 300px; min-width: 300px; height: 100vh; position: sticky; top: 0; overflow-y: auto; border-right: 1px solid #ddd; padding: 12px; box-sizing: border-box; font-size: 13px; }
  nav h1 { font-size: 16px; margin: 0 0 8px; }
  nav label { display: block; padding: 3px 0; word-break: break-all; cursor: pointer; }
  nav .meta { color: #777; font-size: 11px; margin-left: 20px; display: block; }
  nav .meta a { white-space: nowrap; word-break: normal; }
  nav input[type=text] { width: 100%; box-sizing: border-box; margin: 8px 0; }
  main { flex: 1; padding: 12px; box-sizing: border-box; }
  #status { color: #666; font-size: 12px; margin-bottom: 8px; min-height: 1em; }
  #charts { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; }
  .chart { border: 1px solid #eee; }
</style>
</head>
<body>
<nav>
  <h1>Runs</h1>
  <div id="runs">loading…</div>
  <input id="layers" type="text" placeholder="per-layer panels: parameter names matching (regex)" title="a regular expression over parameter names, e.g. conv|fc; empty: all">
</nav>
<main>
  <div id="status"></div>
  <div id="charts"></div>
</main>
<script src="vendor/vega.min.js"></script>
<script src="vendor/vega-lite.min.js"></script>
<script src="vendor/vega-embed.min.js"></script>
<script src="dashboard.js"></script>
</body>
</html>
`;

export const SCRIPT = `'use strict';
const params = new URLSearchParams(location.search);
let picked = params.getAll('run');
let layers = params.get('layers') || '';
let events;
let drawing = false;
let again = false;

function query() {
  const q = new URLSearchParams();
  for (const id of picked) q.append('run', id);
  if (layers) q.set('layers', layers);
  return q.toString();
}

function status(text) {
  document.getElementById('status').textContent = text;
}

function ago(ms) {
  if (!ms) return 'no metrics yet';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
}

async function loadRuns() {
  const runs = await (await fetch('api/runs')).json();
  if (picked.length === 0 && runs.length > 0) {
    picked = [runs.reduce((a, b) => (b.updated > a.updated ? b : a)).id];
  }
  const list = document.getElementById('runs');
  list.textContent = runs.length === 0 ? 'no runs found under the directories given' : '';
  for (const r of runs) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = r.id;
    box.checked = picked.includes(r.id);
    box.addEventListener('change', () => {
      picked = box.checked ? [...picked, r.id] : picked.filter((id) => id !== r.id);
      pick();
    });
    label.append(box, ' ' + r.name);
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = (r.status || 'training or interrupted') + (r.steps ? ', ' + r.steps + ' steps' : '') + ', updated ' + ago(r.updated) + ' · ';
    for (const file of ['metrics.jsonl', 'config.json']) {
      const link = document.createElement('a');
      link.href = 'files/' + r.id + '/' + file;
      link.textContent = file;
      meta.append(link, ' ');
    }
    label.append(meta);
    list.append(label);
  }
}

function pick() {
  history.replaceState(null, '', '?' + query());
  listen();
  draw();
}

function listen() {
  if (events) events.close();
  if (picked.length === 0) return;
  events = new EventSource('api/events?' + query());
  events.addEventListener('update', () => draw());
}

async function draw() {
  if (drawing) {
    again = true;
    return;
  }
  drawing = true;
  try {
    const res = await fetch('api/panels?' + query());
    const body = await res.json();
    if (!res.ok) {
      status(body.error);
      return;
    }
    const charts = document.getElementById('charts');
    const keys = new Set(body.panels.map((p) => p.key));
    for (const el of [...charts.children]) if (!keys.has(el.dataset.key)) el.remove();
    for (const p of body.panels) {
      let el = charts.querySelector('[data-key="' + p.key + '"]');
      if (!el) {
        el = document.createElement('div');
        el.className = 'chart';
        el.dataset.key = p.key;
        charts.append(el);
      }
      const result = await vegaEmbed(el, p.spec, { renderer: 'svg', actions: false });
      if (el.view) el.view.finalize();
      el.view = result.view;
    }
    status(picked.length === 0 ? 'pick a run on the left' : body.panels.length === 0 ? 'no records yet: the chart appears with the first logged step' : body.summary);
  } catch (e) {
    status('cannot draw: ' + e.message);
  } finally {
    drawing = false;
    if (again) {
      again = false;
      draw();
    }
  }
}

const layerInput = document.getElementById('layers');
layerInput.value = layers;
layerInput.addEventListener('change', () => {
  layers = layerInput.value;
  pick();
});
loadRuns().then(pick);
setInterval(loadRuns, 10000);
`;
