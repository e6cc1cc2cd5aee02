// The chart of a staff member's daily reveals against their peers, drawn as
// inline SVG (no library, no inline style: attributes only).
import { svg } from './dom.js';

const DAY = 86400000;

// Daily counts of allowed reveals over the last `days` UTC days from audit
// entries: {days: ['MM-DD'...], you: [n...], median: [n...], max: [n...]}.
export function dailyReveals(entries, who, peers, days) {
  const today = Math.floor(Date.now() / DAY);
  const first = today - days + 1;
  const count = new Map();
  for (const e of entries) {
    if (e.action !== 'reveal' || e.decision !== 'allow') continue;
    const d = Math.floor(Date.parse(e.time) / DAY);
    if (d < first || d > today) continue;
    const key = `${e.actor}|${d - first}`;
    count.set(key, (count.get(key) || 0) + 1);
  }
  const out = { days: [], you: [], median: [], max: [] };
  for (let i = 0; i < days; i++) {
    out.days.push(new Date((first + i) * DAY).toISOString().slice(5, 10));
    out.you.push(count.get(`${who}|${i}`) || 0);
    const p = peers.map((u) => count.get(`${u}|${i}`) || 0).sort((a, b) => a - b);
    out.median.push(p.length ? (p.length % 2 ? p[(p.length - 1) / 2] : (p[p.length / 2 - 1] + p[p.length / 2]) / 2) : 0);
    out.max.push(p.length ? p[p.length - 1] : 0);
  }
  return out;
}

// The SVG: bars for the staff member, a line for the peers' median and a
// dashed one for their maximum.
export function revealsChart(data, labels) {
  const W = 640;
  const H = 220;
  const pad = { l: 36, r: 12, t: 28, b: 36 };
  const n = data.days.length;
  const top = Math.max(1, ...data.you, ...data.max);
  const step = (W - pad.l - pad.r) / n;
  const y = (v) => H - pad.b - (v / top) * (H - pad.t - pad.b);
  const x = (i) => pad.l + i * step + step / 2;
  const kids = [svg('title', null, labels.title)];
  for (const v of [0, Math.ceil(top / 2), top]) {
    kids.push(svg('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'grid' }));
    kids.push(svg('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, String(v)));
  }
  data.you.forEach((v, i) => {
    kids.push(svg('rect', { x: x(i) - step * 0.32, width: step * 0.64, y: y(v), height: Math.max(0, H - pad.b - y(v)),
      class: 'bar-you', 'data-day': data.days[i], 'data-count': v }, svg('title', null, `${data.days[i]}: ${v}`)));
    if (i % 2 === n % 2 || n <= 7) {
      kids.push(svg('text', { x: x(i), y: H - pad.b + 16, 'text-anchor': 'middle', class: 'tick' }, data.days[i]));
    }
  });
  const line = (vals) => vals.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  kids.push(svg('polyline', { points: line(data.max), class: 'line-max' }));
  kids.push(svg('polyline', { points: line(data.median), class: 'line-median' }));
  data.median.forEach((v, i) => kids.push(svg('circle', { cx: x(i), cy: y(v), r: 3, class: 'dot-median' })));
  // legend
  kids.push(svg('rect', { x: pad.l, y: 8, width: 12, height: 12, class: 'bar-you' }));
  kids.push(svg('text', { x: pad.l + 18, y: 18, class: 'legend' }, labels.youLabel));
  kids.push(svg('line', { x1: pad.l + 150, x2: pad.l + 172, y1: 14, y2: 14, class: 'line-median' }));
  kids.push(svg('text', { x: pad.l + 178, y: 18, class: 'legend' }, labels.peersLabel));
  kids.push(svg('line', { x1: pad.l + 400, x2: pad.l + 422, y1: 14, y2: 14, class: 'line-max' }));
  kids.push(svg('text', { x: pad.l + 428, y: 18, class: 'legend' }, labels.maxLabel));
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', id: 'reveals-chart',
    'aria-label': labels.title, 'data-total': data.you.reduce((a, b) => a + b, 0) }, kids);
}
