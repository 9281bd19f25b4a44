// The dashboard, for a line lead and an ML engineer: one page, no build step, no CDN, fed by
// /events (Server-Sent Events). Per station tile: model version, camera and model health with
// the last error, counts by verdict, yield, latency (with a sparkline against the budget), the
// frames of the last inspected and last rejected part (fetched by the part's seq, so image and
// caption are the same part), the latest verdicts, and the model panel: versions, activate,
// roll back, shadow trial (start, live agreement, confusion matrix, disagreements, promote,
// stop). Below: the verdict feed with filters (GET /verdicts) and, with evidence on, the fail
// gallery. Changes ask for the API token once and keep it for the tab (sessionStorage).
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
  header { background: #1d2430; color: #fff; padding: 10px 16px; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header label { font-size: 12px; }
  #conn { font-size: 12px; opacity: .8; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px; padding: 16px; }
  .station, .panel { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px #0002; padding: 12px; }
  .station h2 { margin: 0 0 4px; font-size: 16px; display: flex; justify-content: space-between; }
  .meta { color: #555; font-size: 12px; }
  .health .bad { color: var(--fail); font-weight: 600; }
  .state { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: #ddd; }
  .state.streaming { background: #c8e6c9; } .state.failed, .state.stalled { background: #ffcdd2; }
  .counts { display: flex; gap: 8px; margin: 8px 0; flex-wrap: wrap; }
  .count { border-radius: 6px; padding: 4px 8px; color: #fff; min-width: 60px; text-align: center; }
  .count b { display: block; font-size: 18px; }
  .pass { background: var(--pass); } .fail { background: var(--fail); } .uncertain { background: var(--uncertain); }
  .timeout { background: var(--timeout); } .error { background: var(--error); }
  svg.spark { width: 100%; height: 40px; background: #fafafa; border-radius: 4px; }
  svg.spark polyline { fill: none; stroke: #1d2430; stroke-width: 1; }
  svg.spark line { stroke: var(--fail); stroke-dasharray: 3 2; stroke-width: 1; }
  .images { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
  figure { margin: 0; } figure img { width: 100%; height: 140px; object-fit: contain; background: #111; border-radius: 4px; }
  figcaption { font-size: 12px; color: #555; }
  table { width: 100%; border-collapse: collapse; font-size: 12px; margin-top: 8px; }
  td, th { padding: 2px 4px; text-align: left; border-bottom: 1px solid #eee; }
  td.v { color: #fff; border-radius: 3px; text-align: center; }
  details.models { margin-top: 8px; border-top: 1px solid #eee; padding-top: 6px; }
  details.models summary { cursor: pointer; font-weight: 600; }
  .row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin: 4px 0; }
  button { font: inherit; font-size: 12px; padding: 2px 8px; }
  .shadow-status { font-size: 12px; }
  table.confusion { width: auto; } table.confusion td, table.confusion th { text-align: center; min-width: 56px; }
  table.confusion td.agree { background: #e8f5e9; }
  .msg { font-size: 12px; color: #555; } .msg.bad { color: var(--fail); }
  #feed, #gallery { margin: 0 16px 16px; }
  #feed h2, #gallery h2 { margin: 0 0 8px; font-size: 16px; }
  #gallery .thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
  #gallery figure img { height: 110px; }
  #gallery a { color: inherit; text-decoration: none; }
</style>
</head>
<body>
<header><h1>Linesight</h1><span id="line"></span><span id="conn">connecting…</span>
  <label>Upload model (.tar.gz) <input type="file" id="upload" accept=".tar,.tgz,.gz"></label><span id="upload-msg" class="msg"></span></header>
<main id="stations"></main>
<section id="feed" class="panel"><h2>Verdicts</h2>
  <div class="row">
    <label>station <select id="f-station"><option value="">all</option></select></label>
    <label>verdict <select id="f-verdict"><option value="">all</option><option>pass</option><option>fail</option><option>uncertain</option><option>timeout</option><option>error</option></select></label>
    <label>time <select id="f-since"><option value="300">last 5 min</option><option value="3600" selected>last hour</option><option value="">all kept</option></select></label>
  </div>
  <table><thead><tr><th>time</th><th>station</th><th>part</th><th>verdict</th><th>label</th><th>score</th><th>ms</th><th>model</th></tr></thead><tbody></tbody></table>
</section>
<section id="gallery" class="panel" hidden><h2>Recent fails</h2><div class="thumbs"></div></section>
<script>
const kinds = ['pass', 'fail', 'uncertain', 'timeout', 'error'];
// With api.protectReads the page is opened as /dashboard?access_token=…; EventSource and <img>
// cannot send headers, so the token goes on in their query.
const readToken = new URLSearchParams(location.search).get('access_token');
const withToken = (url) => (readToken ? url + (url.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(readToken) : url);
// fetch() can send a header, so reads through it carry the token there, never in the URL.
const read = (url) => fetch(url, readToken ? { headers: { authorization: 'Bearer ' + readToken } } : {});
const latencies = {};
const imageAt = {};
const budgets = {};
const served = {};
const modelErrors = {};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

// Changes need the API token: asked once, kept for this tab only (sessionStorage), asked again after a 401.
function writeToken(again) {
  let t = again ? null : sessionStorage.getItem('linesight-token') || readToken;
  if (!t) {
    t = prompt('API token (kept for this tab only)');
    if (!t) return null;
    sessionStorage.setItem('linesight-token', t);
  }
  return t;
}
async function change(method, url, body, contentType) {
  for (const again of [false, true]) {
    const t = writeToken(again);
    if (!t) throw new Error('no token given');
    const headers = { authorization: 'Bearer ' + t };
    if (body !== undefined) headers['content-type'] = contentType || 'application/json';
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : contentType ? body : JSON.stringify(body) });
    if (res.status === 401) { sessionStorage.removeItem('linesight-token'); continue; }
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(answer.message || res.status + ' ' + res.statusText);
    return answer;
  }
  throw new Error('the token was refused');
}
function say(c, text, bad) {
  const m = c.querySelector('.model-msg');
  m.textContent = text;
  m.className = 'msg model-msg' + (bad ? ' bad' : '');
}
async function act(c, id, what) {
  const station = encodeURIComponent(id);
  try {
    if (what === 'activate') {
      const r = await change('POST', '/stations/' + station + '/model', { model: c.querySelector('select.version').value });
      say(c, 'activated ' + r.to);
    } else if (what === 'rollback') {
      const r = await change('POST', '/stations/' + station + '/model/rollback', {});
      say(c, 'rolled back to ' + r.to);
    } else if (what === 'shadow-start') {
      const r = await change('POST', '/stations/' + station + '/shadow', { model: c.querySelector('select.candidate').value });
      say(c, 'shadow trial of ' + r.candidate + ' started');
    } else if (what === 'shadow-stop') {
      await change('DELETE', '/stations/' + station + '/shadow');
      say(c, 'shadow trial stopped');
    } else if (what === 'promote') {
      const r = await change('POST', '/stations/' + station + '/shadow/promote', {});
      say(c, 'promoted ' + r.to);
    }
  } catch (e) { say(c, what + ': ' + e.message, true); }
  loadShadow(id);
  loadModels();
}

function card(s) {
  let c = document.getElementById('st-' + s.id);
  if (c) return c;
  c = el('section', { class: 'station', id: 'st-' + s.id, 'data-station': s.id });
  c.innerHTML = '<h2><span class="name"></span><span class="state"></span></h2><div class="meta"></div><div class="meta health"></div>' +
    '<div class="counts">' + kinds.map((k) => '<div class="count ' + k + '" data-kind="' + k + '"><b>0</b>' + k + '</div>').join('') + '</div>' +
    '<div class="meta yield">yield: –</div><div class="meta latency">latency: –</div>' +
    '<svg class="spark" viewBox="0 0 200 40" preserveAspectRatio="none" aria-label="latency of the last parts against the budget"><line x1="0" x2="200"/><polyline/></svg>' +
    '<div class="images"><figure><img class="last" alt="last inspected frame"><figcaption class="last-cap">last part</figcaption></figure>' +
    '<figure><img class="reject" alt="last rejected frame"><figcaption class="reject-cap">last reject</figcaption></figure></div>' +
    '<table class="latest"><thead><tr><th>time</th><th>part</th><th>verdict</th><th>label</th><th>score</th><th>ms</th><th>model</th></tr></thead><tbody></tbody></table>' +
    '<details class="models" open><summary>Model</summary>' +
    '<div class="row">version <select class="version"></select><button data-act="activate">Activate</button><button data-act="rollback">Roll back</button></div>' +
    '<div class="row">shadow candidate <select class="candidate"></select><button data-act="shadow-start">Start shadow trial</button><button data-act="shadow-stop">Stop trial</button><button data-act="promote">Promote</button></div>' +
    '<div class="shadow-status">no shadow trial</div><table class="confusion" hidden></table><table class="disagreements" hidden><thead><tr><th>part</th><th>active</th><th>candidate</th><th>image</th></tr></thead><tbody></tbody></table>' +
    '<div class="msg model-msg"></div></details>';
  c.querySelector('.name').textContent = s.id;
  for (const b of c.querySelectorAll('button[data-act]')) b.addEventListener('click', () => act(c, s.id, b.dataset.act));
  document.getElementById('stations').append(c);
  document.getElementById('f-station').append(el('option', {}, s.id));
  loadShadow(s.id);
  loadModels();
  return c;
}

function renderStatus(list) {
  for (const s of list) {
    const c = card(s);
    const st = c.querySelector('.state');
    st.textContent = s.source.state;
    st.className = 'state ' + s.source.state;
    const m = s.model ? s.model.name + '@' + s.model.version + ' on ' + s.model.provider : 'no model';
    served[s.id] = s.model ? s.model.name + '@' + s.model.version : null;
    const err = s.source.lastError ? ' · ' + s.source.lastError : '';
    c.querySelector('.meta').textContent = m + ' · ' + s.mode + ' · ' + s.source.fps + ' fps · dropped ' + s.dropped + err;
    const h = c.querySelector('.health');
    h.replaceChildren('camera: ' + s.source.state + ' (' + s.source.reconnects + ' reconnects)',
      s.source.lastError ? el('span', { class: 'bad' }, ' · last camera error: ' + s.source.lastError) : '',
      modelErrors[s.id] ? el('span', { class: 'bad' }, ' · last model error: ' + modelErrors[s.id]) : '');
    for (const k of kinds) c.querySelector('[data-kind=' + k + '] b').textContent = s.counts[k];
    renderYield(c, s.counts);
  }
}

function renderYield(c, counts) {
  const total = kinds.reduce((n, k) => n + counts[k], 0);
  c.querySelector('.yield').textContent = total ? 'yield: ' + (100 * counts.pass / total).toFixed(1) + '% pass of ' + total + ' parts' : 'yield: –';
}

function pct(a, p) { return a.length ? a[Math.min(a.length - 1, Math.ceil(p / 100 * a.length) - 1)] : NaN; }

function renderSpark(c, lat, budget) {
  const top = Math.max(budget, ...lat) * 1.1;
  const y = (ms) => (40 - (ms / top) * 40).toFixed(1);
  const line = c.querySelector('svg.spark line');
  line.setAttribute('y1', y(budget));
  line.setAttribute('y2', y(budget));
  const step = lat.length > 1 ? 200 / (lat.length - 1) : 0;
  c.querySelector('svg.spark polyline').setAttribute('points', lat.map((ms, i) => (i * step).toFixed(1) + ',' + y(ms)).join(' '));
}

// A tile's image is fetched by its part's sequence number, and the caption changes only once that
// image has loaded: image and caption are always the same part (asking for "the last frame" would
// get a newer part than the caption names).
function showImage(c, id, which, v, caption) {
  const img = c.querySelector('img.' + which);
  const src = withToken('/stations/' + encodeURIComponent(id) + '/image?seq=' + v.seq);
  const probe = new Image();
  probe.onload = () => {
    img.src = src;
    img.dataset.part = v.partId;
    c.querySelector('.' + which + '-cap').textContent = caption;
  };
  probe.src = src;
}

function row(v, withStation) {
  return el('tr', { 'data-verdict': v.verdict },
    el('td', {}, new Date(v.decidedAt).toLocaleTimeString()), ...(withStation ? [el('td', {}, v.camera)] : []), el('td', {}, v.partId),
    el('td', { class: 'v ' + v.verdict }, v.verdict), el('td', {}, v.label ?? (v.error ? v.error.code : v.errorCode ?? '')),
    el('td', {}, v.score == null ? '' : v.score.toFixed(3)), el('td', {}, (v.totalMs ?? v.timings.totalMs).toFixed(1)),
    el('td', {}, typeof v.model === 'string' ? v.model.split('@')[1] : v.model ? v.model.version : ''));
}

function renderVerdict(v) {
  document.getElementById('line').textContent = 'line ' + v.line;
  const c = card({ id: v.camera });
  const lat = (latencies[v.camera] ||= []);
  lat.push(v.timings.totalMs);
  if (lat.length > 200) lat.shift();
  budgets[v.camera] = v.budgetMs;
  const sorted = [...lat].sort((a, b) => a - b);
  c.querySelector('.latency').textContent = 'latency (last ' + sorted.length + '): p50 ' + pct(sorted, 50).toFixed(1) + ' ms · p99 ' + pct(sorted, 99).toFixed(1) + ' ms · budget ' + v.budgetMs + ' ms';
  renderSpark(c, lat.slice(-100), v.budgetMs);
  const cnt = c.querySelector('[data-kind=' + v.verdict + '] b');
  cnt.textContent = String(Number(cnt.textContent) + 1);
  const counts = {};
  for (const k of kinds) counts[k] = Number(c.querySelector('[data-kind=' + k + '] b').textContent);
  renderYield(c, counts);
  const body = c.querySelector('table.latest tbody');
  body.prepend(row(v, false));
  while (body.children.length > 15) body.lastChild.remove();
  // Images at most four times a second per station; the last reject whenever there is a new one.
  const now = Date.now();
  if (v.timings.totalMs != null && (!imageAt[v.camera] || now - imageAt[v.camera] > 250)) {
    imageAt[v.camera] = now;
    showImage(c, v.camera, 'last', v, 'last part: ' + v.verdict + ' ' + v.partId);
  }
  if (v.action === 'reject') showImage(c, v.camera, 'reject', v, 'last reject: ' + v.verdict + ' ' + v.partId);
  if (v.verdict === 'fail') scheduleGallery();
  feedLive(v);
}

// The verdict feed: the filtered recent verdicts from the server, then live ones that match.
const feedFilter = () => ({ station: document.getElementById('f-station').value, verdict: document.getElementById('f-verdict').value, since: document.getElementById('f-since').value });
async function loadFeed() {
  const f = feedFilter();
  const q = new URLSearchParams({ limit: '30' });
  if (f.station) q.set('station', f.station);
  if (f.verdict) q.set('verdict', f.verdict);
  if (f.since) q.set('since', new Date(Date.now() - Number(f.since) * 1000).toISOString());
  try {
    const res = await read('/verdicts?' + q);
    if (!res.ok) return;
    const body = await res.json();
    document.querySelector('#feed tbody').replaceChildren(...body.items.map((v) => row(v, true)));
  } catch {}
}
function feedLive(v) {
  const f = feedFilter();
  if ((f.station && v.camera !== f.station) || (f.verdict && v.verdict !== f.verdict)) return;
  const body = document.querySelector('#feed tbody');
  body.prepend(row(v, true));
  while (body.children.length > 30) body.lastChild.remove();
}
for (const id of ['f-station', 'f-verdict', 'f-since']) document.getElementById(id).addEventListener('change', loadFeed);

// Model panel: the versions on disk, and the shadow trial with its live agreement.
async function loadModels() {
  try {
    const res = await read('/models');
    if (!res.ok) return;
    const body = await res.json();
    for (const c of document.querySelectorAll('section.station')) {
      const refs = body.models.flatMap((m) => m.versions.map((v) => m.name + '@' + v.version));
      for (const sel of c.querySelectorAll('select.version, select.candidate')) {
        const keep = sel.value;
        sel.replaceChildren(...refs.map((r) => el('option', { value: r }, r + (served[c.dataset.station] === r ? ' (serving)' : ''))));
        if (refs.includes(keep)) sel.value = keep;
      }
    }
  } catch {}
}
async function loadShadow(id) {
  const c = document.getElementById('st-' + id);
  let trial;
  try {
    const res = await read('/stations/' + encodeURIComponent(id) + '/shadow');
    if (!res.ok) return;
    trial = (await res.json()).trial;
  } catch { return; }
  const status = c.querySelector('.shadow-status');
  const conf = c.querySelector('table.confusion');
  const dis = c.querySelector('table.disagreements');
  if (!trial) { status.textContent = 'no shadow trial'; conf.hidden = true; dis.hidden = true; return; }
  const agreement = trial.agreement == null ? '–' : (trial.agreement * 100).toFixed(1) + '%';
  status.dataset.state = trial.state;
  status.dataset.parts = trial.parts;
  status.textContent = trial.candidate + ' vs ' + trial.active + ': ' + trial.state + ' · ' + trial.parts + ' parts · agreement ' + agreement +
    ' · errors ' + trial.errors + ' · dropped ' + trial.dropped + ' · p99 ' + (trial.latencyMs.candidate.p99 ?? '–') + ' ms worker, ' + (trial.latencyMs.projected.p99 ?? '–') + ' ms projected' +
    (trial.state === 'running' ? (trial.judgement.ready ? ' · ready to promote' : ' · waiting: ' + trial.judgement.blocking.join(', ')) : '');
  conf.hidden = false;
  const vs = ['pass', 'fail', 'uncertain'];
  conf.innerHTML = '<tr><th>active ↓ / candidate →</th>' + vs.map((k) => '<th>' + k + '</th>').join('') + '</tr>' +
    vs.map((a) => '<tr><th>' + a + '</th>' + vs.map((b) => '<td class="' + (a === b ? 'agree' : '') + '">' + trial.confusion[a][b] + '</td>').join('') + '</tr>').join('');
  if (!trial.disagreements) { dis.hidden = true; return; }
  try {
    const res = await read('/stations/' + encodeURIComponent(id) + '/shadow/disagreements');
    const items = (await res.json()).items.slice(0, 10);
    dis.hidden = false;
    dis.querySelector('tbody').replaceChildren(...items.map((d) => el('tr', {},
      el('td', {}, d.partId), el('td', { class: 'v ' + d.active.verdict }, d.active.verdict), el('td', { class: 'v ' + d.candidate.verdict }, d.candidate.verdict),
      el('td', {}, d.evidenceId ? el('a', { href: withToken('/evidence/' + encodeURIComponent(d.evidenceId) + '/image'), target: '_blank', rel: 'noopener' }, 'image') : ''))));
  } catch {}
}
const shadowTimers = {};
function scheduleShadow(id) {
  if (!shadowTimers[id]) shadowTimers[id] = setTimeout(() => { shadowTimers[id] = null; loadShadow(id); }, 300);
}
document.getElementById('upload').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const m = document.getElementById('upload-msg');
  m.textContent = 'uploading ' + file.name + '…';
  try {
    const r = await change('POST', '/models', file, 'application/gzip');
    m.textContent = 'installed ' + r.name + '@' + r.version;
  } catch (err) { m.textContent = 'upload refused: ' + err.message; }
  e.target.value = '';
  loadModels();
});

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
loadFeed();

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
  es.addEventListener('shadow', (e) => scheduleShadow(JSON.parse(e.data).camera));
  es.addEventListener('model', (e) => {
    const m = JSON.parse(e.data);
    const c = document.getElementById('st-' + m.camera);
    if (c) {
      const meta = c.querySelector('.meta');
      meta.textContent = meta.textContent.replace(/^\S+@\S+/, m.to);
      served[m.camera] = m.to;
    }
    loadModels();
    scheduleShadow(m.camera);
  });
  es.addEventListener('model-refused', (e) => {
    const m = JSON.parse(e.data);
    modelErrors[m.camera] = m.model + ': ' + m.error.message;
  });
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
