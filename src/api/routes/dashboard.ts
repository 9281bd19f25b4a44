// The operator's dashboard: one page, no build step, fed by /events (Server-Sent Events) and
// /stations/:id/image. Per station: model version, camera health, counts by verdict, latency,
// the last inspected and last rejected frame, the latest verdicts. Below, with evidence on, the
// fail gallery: the newest kept fails (GET /evidence), each linking to its full image.
import type { FastifyPluginAsync } from 'fastify';
import { errorBody } from '../schemas.js';

const page = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Linesight</title>
<style>
  :root { --pass: #1b7f3b; --fail: #c62828; --uncertain: #b26a00; --timeout: #6a1b9a; --error: #37474f; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2430; }
  header { background: #1d2430; color: #fff; padding: 10px 16px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #conn { font-size: 12px; opacity: .8; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px; padding: 16px; }
  .station { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px #0002; padding: 12px; }
  .station h2 { margin: 0 0 4px; font-size: 16px; display: flex; justify-content: space-between; }
  .meta { color: #555; font-size: 12px; }
  .state { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: #ddd; }
  .state.streaming { background: #c8e6c9; } .state.failed, .state.stalled { background: #ffcdd2; }
  .counts { display: flex; gap: 8px; margin: 8px 0; flex-wrap: wrap; }
  .count { border-radius: 6px; padding: 4px 8px; color: #fff; min-width: 60px; text-align: center; }
  .count b { display: block; font-size: 18px; }
  .pass { background: var(--pass); } .fail { background: var(--fail); } .uncertain { background: var(--uncertain); }
  .timeout { background: var(--timeout); } .error { background: var(--error); }
  .images { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
  figure { margin: 0; } figure img { width: 100%; height: 140px; object-fit: contain; background: #111; border-radius: 4px; }
  figcaption { font-size: 12px; color: #555; }
  table { width: 100%; border-collapse: collapse; font-size: 12px; margin-top: 8px; }
  td, th { padding: 2px 4px; text-align: left; border-bottom: 1px solid #eee; }
  td.v { color: #fff; border-radius: 3px; text-align: center; }
  #gallery { margin: 0 16px 16px; background: #fff; border-radius: 8px; box-shadow: 0 1px 3px #0002; padding: 12px; }
  #gallery h2 { margin: 0 0 8px; font-size: 16px; }
  #gallery .thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
  #gallery figure img { height: 110px; }
  #gallery a { color: inherit; text-decoration: none; }
</style>
</head>
<body>
<header><h1>Linesight</h1><span id="line"></span><span id="conn">connecting…</span></header>
<main id="stations"></main>
<section id="gallery" hidden><h2>Recent fails</h2><div class="thumbs"></div></section>
<script>
const kinds = ['pass', 'fail', 'uncertain', 'timeout', 'error'];
// With api.protectReads the page is opened as /dashboard?access_token=…; EventSource and <img>
// cannot send headers, so the token goes on in their query.
const token = new URLSearchParams(location.search).get('access_token');
const withToken = (url) => (token ? url + (url.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(token) : url);
const latencies = {};
const recent = {};
const imageAt = {};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function card(s) {
  let c = document.getElementById('st-' + s.id);
  if (c) return c;
  c = el('section', { class: 'station', id: 'st-' + s.id, 'data-station': s.id });
  c.innerHTML = '<h2><span class="name"></span><span class="state"></span></h2><div class="meta"></div>' +
    '<div class="counts">' + kinds.map((k) => '<div class="count ' + k + '" data-kind="' + k + '"><b>0</b>' + k + '</div>').join('') + '</div>' +
    '<div class="meta latency">latency: –</div>' +
    '<div class="images"><figure><img class="last" alt="last inspected frame"><figcaption class="last-cap">last part</figcaption></figure>' +
    '<figure><img class="reject" alt="last rejected frame"><figcaption class="reject-cap">last reject</figcaption></figure></div>' +
    '<table><thead><tr><th>time</th><th>part</th><th>verdict</th><th>label</th><th>score</th><th>ms</th><th>model</th></tr></thead><tbody></tbody></table>';
  c.querySelector('.name').textContent = s.id;
  document.getElementById('stations').append(c);
  return c;
}

function renderStatus(list) {
  for (const s of list) {
    const c = card(s);
    const st = c.querySelector('.state');
    st.textContent = s.source.state;
    st.className = 'state ' + s.source.state;
    const m = s.model ? s.model.name + '@' + s.model.version + ' on ' + s.model.provider : 'no model';
    const err = s.source.lastError ? ' · ' + s.source.lastError : '';
    c.querySelector('.meta').textContent = m + ' · ' + s.mode + ' · ' + s.source.fps + ' fps · dropped ' + s.dropped + err;
    for (const k of kinds) c.querySelector('[data-kind=' + k + '] b').textContent = s.counts[k];
  }
}

function pct(a, p) { return a.length ? a[Math.min(a.length - 1, Math.ceil(p / 100 * a.length) - 1)] : NaN; }

function refreshImage(c, id, which, caption) {
  const img = c.querySelector('img.' + which);
  img.src = withToken('/stations/' + encodeURIComponent(id) + '/image?which=' + which + '&t=' + Date.now());
  c.querySelector('.' + which + '-cap').textContent = caption;
}

function renderVerdict(v) {
  document.getElementById('line').textContent = 'line ' + v.line;
  const c = card({ id: v.camera });
  const lat = (latencies[v.camera] ||= []);
  lat.push(v.timings.totalMs);
  if (lat.length > 200) lat.shift();
  const sorted = [...lat].sort((a, b) => a - b);
  c.querySelector('.latency').textContent = 'latency (last ' + sorted.length + '): p50 ' + pct(sorted, 50).toFixed(1) + ' ms · p99 ' + pct(sorted, 99).toFixed(1) + ' ms · budget ' + v.budgetMs + ' ms';
  const cnt = c.querySelector('[data-kind=' + v.verdict + '] b');
  cnt.textContent = String(Number(cnt.textContent) + 1);
  const row = el('tr', { 'data-verdict': v.verdict },
    el('td', {}, new Date(v.decidedAt).toLocaleTimeString()), el('td', {}, v.partId),
    el('td', { class: 'v ' + v.verdict }, v.verdict), el('td', {}, v.label ?? (v.error ? v.error.code : '')),
    el('td', {}, v.score == null ? '' : v.score.toFixed(3)), el('td', {}, v.timings.totalMs.toFixed(1)),
    el('td', {}, v.model ? v.model.version : ''));
  const body = c.querySelector('tbody');
  body.prepend(row);
  while (body.children.length > 15) body.lastChild.remove();
  // Images at most twice a second per station; the last reject whenever there is a new one.
  const now = Date.now();
  if (!imageAt[v.camera] || now - imageAt[v.camera] > 500) {
    imageAt[v.camera] = now;
    refreshImage(c, v.camera, 'last', 'last part: ' + v.verdict + ' ' + v.partId);
  }
  if (v.action === 'reject') refreshImage(c, v.camera, 'reject', 'last reject: ' + v.verdict + ' ' + v.partId);
  if (v.verdict === 'fail') scheduleGallery();
}

// The fail gallery: the newest kept fails, re-read at most every 2 s while fails come in (the
// evidence is written off the verdict path, so it shows a moment after the verdict).
let galleryTimer = null;
function scheduleGallery() {
  if (galleryTimer === null) galleryTimer = setTimeout(() => { galleryTimer = null; loadGallery(); }, 2000);
}
async function loadGallery() {
  let body;
  try {
    const res = await fetch(withToken('/evidence?verdict=fail&limit=12'));
    if (!res.ok) return;
    body = await res.json();
  } catch { return; }
  const g = document.getElementById('gallery');
  g.hidden = !body.enabled;
  const thumbs = g.querySelector('.thumbs');
  const shown = [...thumbs.children].map((f) => f.dataset.id).join(' ');
  if (shown === body.items.map((e) => e.id).join(' ')) return;
  thumbs.replaceChildren(...body.items.map((e) => {
    const src = withToken('/evidence/' + encodeURIComponent(e.id) + '/image');
    const img = el('img', { src, alt: 'fail ' + e.id, loading: 'lazy' });
    const cap = el('figcaption', {}, e.station + ' · ' + (e.label ?? '') + ' ' + (e.score == null ? '' : e.score.toFixed(3)) + ' · ' + new Date(e.decidedAt).toLocaleTimeString());
    return el('figure', { 'data-id': e.id }, el('a', { href: src, target: '_blank', rel: 'noopener' }, img), cap);
  }));
}
loadGallery();

// EventSource reconnects by itself after a dropped stream, but gives up on an error answer (401,
// or 503 when the server has api.events.maxClients viewers): then try again in a while.
function connect() {
  const es = new EventSource(withToken('/events'));
  es.addEventListener('open', () => (document.getElementById('conn').textContent = 'live'));
  es.addEventListener('error', () => {
    document.getElementById('conn').textContent = 'reconnecting…';
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
  es.addEventListener('stations', (e) => renderStatus(JSON.parse(e.data)));
  es.addEventListener('verdict', (e) => renderVerdict(JSON.parse(e.data)));
}
connect();
</script>
</body>
</html>
`;

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  // The query (?access_token=) goes along, so a protected dashboard opens from one link.
  app.get('/', { config: { tokenInQuery: true }, schema: { hide: true } as object }, async (req, reply) => {
    const q = req.url.indexOf('?');
    return reply.redirect(q < 0 ? '/dashboard' : `/dashboard${req.url.slice(q)}`);
  });
  app.get('/dashboard', {
    config: { tokenInQuery: true },
    schema: {
      summary: 'The live dashboard (HTML). With api.protectReads, open it as /dashboard?access_token=<api.token>; the page passes the token on to /events and the images.',
      querystring: { type: 'object', properties: { access_token: { type: 'string' } } },
      response: { 401: errorBody },
    } as object,
  }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
};
