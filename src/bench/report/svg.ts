// A chart of p99.9 latency against offered rate, one line per configuration, with the budget as
// a dashed line: where each line crosses it is what that configuration holds. Plain SVG, no
// dependency; readable in a browser or a Markdown viewer.
import type { ModelResult } from '../result.js';

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

function niceMax(x: number): number {
  if (x <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= x)!;
}

export function renderSvg(m: ModelResult, budgetMs: number): string {
  const W = 720;
  const H = 420;
  const pad = { l: 60, r: 200, t: 40, b: 50 };
  const pw = W - pad.l - pad.r;
  const ph = H - pad.t - pad.b;
  const points = m.configs.flatMap((c) => c.steps.map((s) => ({ x: s.targetPerSec * 60, y: s.latencyMs.p999 })));
  const xMax = niceMax(Math.max(1, ...points.map((p) => p.x)));
  // Latency past a few budgets only squashes the interesting part: clip, and say so by the axis.
  const yMax = niceMax(Math.min(Math.max(budgetMs * 1.2, ...points.map((p) => p.y)), budgetMs * 4));
  const X = (x: number) => pad.l + (x / xMax) * pw;
  const Y = (y: number) => pad.t + ph - (Math.min(y, yMax) / yMax) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${pad.l}" y="22" font-size="14" font-weight="bold">${esc(m.model)}: p99.9 latency against rate${m.randomWeights ? ' (random weights)' : ''}</text>`,
    `<line x1="${pad.l}" y1="${pad.t + ph}" x2="${pad.l + pw}" y2="${pad.t + ph}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + ph}" stroke="black"/>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const xv = (xMax * k) / 5;
    const yv = (yMax * k) / 5;
    parts.push(`<text x="${X(xv)}" y="${pad.t + ph + 16}" text-anchor="middle">${Math.round(xv)}</text>`);
    parts.push(`<text x="${pad.l - 6}" y="${Y(yv) + 4}" text-anchor="end">${Math.round(yv)}</text>`);
    parts.push(`<line x1="${pad.l}" y1="${Y(yv)}" x2="${pad.l + pw}" y2="${Y(yv)}" stroke="#eee"/>`);
  }
  parts.push(`<text x="${pad.l + pw / 2}" y="${H - 12}" text-anchor="middle">offered rate, parts/min</text>`);
  parts.push(`<text x="16" y="${pad.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${pad.t + ph / 2})">p99.9 trigger to verdict, ms (clipped at ${yMax})</text>`);
  parts.push(`<line x1="${pad.l}" y1="${Y(budgetMs)}" x2="${pad.l + pw}" y2="${Y(budgetMs)}" stroke="#888" stroke-dasharray="6 4"/>`);
  parts.push(`<text x="${pad.l + pw - 4}" y="${Y(budgetMs) - 4}" text-anchor="end" fill="#555">budget ${budgetMs} ms</text>`);
  m.configs.forEach((c, i) => {
    const color = palette[i % palette.length]!;
    const pts = c.steps.map((s) => `${X(s.targetPerSec * 60).toFixed(1)},${Y(s.latencyMs.p999).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const s of c.steps) parts.push(`<circle cx="${X(s.targetPerSec * 60).toFixed(1)}" cy="${Y(s.latencyMs.p999).toFixed(1)}" r="3" fill="${s.held ? color : 'white'}" stroke="${color}"/>`);
    const ly = pad.t + 10 + i * 18;
    parts.push(`<line x1="${pad.l + pw + 16}" y1="${ly}" x2="${pad.l + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${pad.l + pw + 42}" y="${ly + 4}">${c.workers} w x ${c.intraOpThreads} t, ${esc(c.provider)}</text>`);
  });
  parts.push(`<text x="${pad.l + pw + 16}" y="${pad.t + 14 + m.configs.length * 18}" fill="#555">w: workers, t: intra-op threads</text>`);
  parts.push(`<text x="${pad.l + pw + 16}" y="${pad.t + 32 + m.configs.length * 18}" fill="#555">filled dot: step held</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
