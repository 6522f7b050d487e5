// @ts-check
// The analytics charts, drawn as SVG by this file.
//
// A charting library would be the larger part of the page's code, would
// need a build step or a vendored bundle, and would bring inline styles the
// Content-Security-Policy refuses; the four chart shapes needed here (bars,
// stacked bars, lines, tiles) take a few dozen lines each. Every chart has
// a text title, an aria-label and its numbers in a table below it, so
// nothing is only a picture.
import { h, s } from './dom.js';
import { fmtDuration, parseTime } from './format.js';
import { severities, sevIndex } from './policy.js';

/**
 * Counts and means of incidents, overall or of one severity.
 * @typedef {{ severity?: string, declared?: number, acknowledged?: number, resolved?: number, mtta_seconds?: number, mttr_seconds?: number }} Stats
 */

/**
 * One interval of the range: incidents declared in it by severity, those
 * resolved, and the means of those declared in it.
 * @typedef {{ start: string, declared?: Record<string, number>, resolved?: number, mtta_seconds?: number, mttr_seconds?: number }} Bucket
 */

/**
 * niceMax rounds a count up to a readable axis top.
 * @param {number} v
 */
function niceMax(v) {
  if (!(v > 0)) return 1;
  if (v <= 1) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * niceDurationMax rounds seconds up to a readable axis top.
 * @param {number} v
 */
function niceDurationMax(v) {
  const steps = [10, 30, 60, 300, 600, 1800, 3600, 7200, 4 * 3600, 8 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400];
  for (const x of steps) if (x >= v) return x;
  return niceMax(v);
}

/**
 * dataTable is a chart's numbers, as a table behind a disclosure.
 * @param {string} caption
 * @param {string[]} head
 * @param {(string | number)[][]} rows
 */
export function dataTable(caption, head, rows) {
  return h('details', { class: 'datatable' }, h('summary', null, 'Numbers: ' + caption),
    h('table', null, h('thead', null, h('tr', null, head.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => i === 0 ? h('th', { scope: 'row' }, c) : h('td', null, c)))))));
}

/**
 * @param {string} title
 * @param {string} desc
 * @param {Element} svgEl
 * @param {import('./dom.js').Child} table
 */
export function chartCard(title, desc, svgEl, table) {
  return h('figure', { class: 'chart card' }, h('figcaption', null, h('h2', null, title), desc ? h('p', { class: 'help' }, desc) : null), svgEl, table);
}

/** @param {[string, string][]} items class and text of each swatch */
export function legend(items) {
  return h('ul', { class: 'legend' }, items.map(([cls, text]) => h('li', null, h('span', { class: 'swatch ' + cls, 'aria-hidden': 'true' }), text)));
}

/**
 * barsBySeverity: for each severity, an MTTA bar and an MTTR bar,
 * horizontal, sharing one duration axis.
 * @param {Stats[]} stats
 */
export function barsBySeverity(stats) {
  const W = 560; const rowH = 44; const left = 64; const right = 70; const top = 8;
  const H = top + stats.length * rowH + 24;
  const max = niceDurationMax(Math.max(1, ...stats.flatMap((x) => [x.mtta_seconds || 0, x.mttr_seconds || 0])));
  const x = (/** @type {number} */ v) => left + (W - left - right) * (v / max);
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Mean time to acknowledge and to resolve, by severity', class: 'svgchart' });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    g.append(s('line', { x1: x(v), x2: x(v), y1: top, y2: H - 20, class: 'grid' }),
      s('text', { x: x(v), y: H - 6, class: 'tick', 'text-anchor': 'middle' }, fmtDuration(v)));
  }
  stats.forEach((st, i) => {
    const y = top + i * rowH;
    g.append(s('text', { x: left - 8, y: y + rowH / 2 + 4, class: 'label', 'text-anchor': 'end' }, st.severity || 'all'));
    const bar = (/** @type {number | undefined} */ value, /** @type {number} */ dy, /** @type {string} */ cls, /** @type {string} */ name) => {
      const v = value || 0;
      if (!(v > 0)) {
        g.append(s('text', { x: left + 4, y: y + dy + 12, class: 'tick' }, name + ': none yet'));
        return;
      }
      g.append(s('rect', { x: left, y: y + dy, width: Math.max(2, x(v) - left), height: 15, rx: 2, class: cls },
        s('title', null, `${st.severity} ${name} ${fmtDuration(v)}`)),
      s('text', { x: x(v) + 5, y: y + dy + 12, class: 'val' }, fmtDuration(v)));
    };
    bar(st.mtta_seconds, 5, 'c-mtta', 'MTTA');
    bar(st.mttr_seconds, 22, 'c-mttr', 'MTTR');
  });
  return g;
}

/**
 * @param {string} iso a bucket's start
 * @param {number} bucketSec
 */
export function bucketLabel(iso, bucketSec) {
  const d = parseTime(iso);
  if (!d) return '';
  if (bucketSec < 86400) return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/**
 * everyNth is the step between labelled buckets: at most ~8 labels, so
 * they never overlap.
 * @param {number} n
 */
function everyNth(n) { return Math.max(1, Math.ceil(n / 8)); }

/**
 * stackedDeclared: per bucket, a bar of incidents declared stacked by
 * severity, and the incidents resolved as a line over it.
 * @param {Bucket[]} buckets
 * @param {number} bucketSec
 */
export function stackedDeclared(buckets, bucketSec) {
  const W = 640; const H = 240; const left = 36; const right = 12; const top = 10; const bottom = 28;
  const n = Math.max(1, buckets.length);
  const totals = buckets.map((b) => Object.values(b.declared || {}).reduce((a, c) => a + c, 0));
  // Counts get whole-number ticks: four steps of a round size.
  const max = 4 * Math.max(1, niceMax(Math.max(...totals, ...buckets.map((b) => b.resolved || 0), 1) / 4));
  const bw = (W - left - right) / n;
  const y = (/** @type {number} */ v) => H - bottom - (H - top - bottom) * (v / max);
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Incidents declared per interval by severity, and incidents resolved', class: 'svgchart' });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    g.append(s('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, String(Math.round(v))));
  }
  const nth = everyNth(n);
  buckets.forEach((b, i) => {
    let acc = 0;
    const x0 = left + i * bw + bw * 0.15;
    for (const sev of severities) {
      const c = (b.declared || {})[sev] || 0;
      if (!c) continue;
      g.append(s('rect', { x: x0, y: y(acc + c), width: bw * 0.7, height: y(acc) - y(acc + c), class: 'sevfill sev' + sevIndex(sev) },
        s('title', null, `${bucketLabel(b.start, bucketSec)}: ${c} ${sev} declared`)));
      acc += c;
    }
    if (i % nth === 0) g.append(s('text', { x: left + i * bw + bw / 2, y: H - 10, class: 'tick', 'text-anchor': 'middle' }, bucketLabel(b.start, bucketSec)));
  });
  const pts = buckets.map((b, i) => `${left + i * bw + bw / 2},${y(b.resolved || 0)}`);
  if (pts.length) {
    g.append(s('polyline', { points: pts.join(' '), class: 'line c-resolved' }));
    buckets.forEach((b, i) => g.append(s('circle', { cx: left + i * bw + bw / 2, cy: y(b.resolved || 0), r: 3, class: 'dot c-resolved' },
      s('title', null, `${bucketLabel(b.start, bucketSec)}: ${b.resolved || 0} resolved`))));
  }
  return g;
}

/**
 * linesOverTime: MTTA and MTTR per bucket; a bucket without a figure
 * (nothing acknowledged or resolved) breaks the line instead of
 * pretending to be zero.
 * @param {Bucket[]} buckets
 * @param {number} bucketSec
 */
export function linesOverTime(buckets, bucketSec) {
  const W = 640; const H = 240; const left = 56; const right = 12; const top = 10; const bottom = 28;
  const n = Math.max(1, buckets.length);
  const max = niceDurationMax(Math.max(1, ...buckets.flatMap((b) => [b.mtta_seconds || 0, b.mttr_seconds || 0])));
  const bw = (W - left - right) / n;
  const cx = (/** @type {number} */ i) => left + i * bw + bw / 2;
  const y = (/** @type {number} */ v) => H - bottom - (H - top - bottom) * (v / max);
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'MTTA and MTTR per interval', class: 'svgchart' });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    g.append(s('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, fmtDuration(v)));
  }
  const nth = everyNth(n);
  buckets.forEach((b, i) => {
    if (i % nth === 0) g.append(s('text', { x: cx(i), y: H - 10, class: 'tick', 'text-anchor': 'middle' }, bucketLabel(b.start, bucketSec)));
  });
  /** @type {['mtta_seconds' | 'mttr_seconds', string, string][]} */
  const series = [['mtta_seconds', 'c-mtta', 'MTTA'], ['mttr_seconds', 'c-mttr', 'MTTR']];
  for (const [key, cls, name] of series) {
    /** @type {string[]} */
    let run = [];
    const flush = () => { if (run.length > 1) g.append(s('polyline', { points: run.join(' '), class: 'line ' + cls })); run = []; };
    buckets.forEach((b, i) => {
      const v = b[key] || 0;
      if (v > 0) {
        run.push(`${cx(i)},${y(v)}`);
        g.append(s('circle', { cx: cx(i), cy: y(v), r: 3.5, class: 'dot ' + cls }, s('title', null, `${bucketLabel(b.start, bucketSec)}: ${name} ${fmtDuration(v)}`)));
      } else flush();
    });
    flush();
  }
  return g;
}

/**
 * openAtEnd derives, for each bucket, how many incidents were open at its
 * end: open now, minus those declared after it, plus those resolved after
 * it. (Resolved counts an incident's latest resolution, so an incident
 * resolved, reopened and still open is missed at its first resolution: an
 * approximation, labelled as one.)
 * @param {Bucket[]} buckets
 * @param {number} openNow
 * @returns {number[]}
 */
export function openAtEnd(buckets, openNow) {
  const out = new Array(buckets.length);
  let open = openNow;
  for (let i = buckets.length - 1; i >= 0; i--) {
    out[i] = Math.max(0, open);
    const b = buckets[i];
    open -= Object.values(b.declared || {}).reduce((a, c) => a + c, 0);
    open += b.resolved || 0;
  }
  return out;
}

/**
 * openOverTime draws openAtEnd as an area.
 * @param {Bucket[]} buckets
 * @param {number[]} values
 * @param {number} bucketSec
 */
export function openOverTime(buckets, values, bucketSec) {
  const W = 640; const H = 240; const left = 36; const right = 12; const top = 10; const bottom = 28;
  const n = Math.max(1, buckets.length);
  const max = 4 * Math.max(1, niceMax(Math.max(...values, 1) / 4));
  const bw = (W - left - right) / n;
  const cx = (/** @type {number} */ i) => left + i * bw + bw / 2;
  const y = (/** @type {number} */ v) => H - bottom - (H - top - bottom) * (v / max);
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Open incidents at the end of each interval', class: 'svgchart' });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    g.append(s('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, String(Math.round(v))));
  }
  const nth = everyNth(n);
  buckets.forEach((b, i) => {
    if (i % nth === 0) g.append(s('text', { x: cx(i), y: H - 10, class: 'tick', 'text-anchor': 'middle' }, bucketLabel(b.start, bucketSec)));
  });
  if (values.length) {
    const pts = values.map((v, i) => `${cx(i)},${y(v)}`);
    g.append(s('polygon', { points: `${cx(0)},${y(0)} ${pts.join(' ')} ${cx(values.length - 1)},${y(0)}`, class: 'area c-open' }),
      s('polyline', { points: pts.join(' '), class: 'line c-open' }));
    values.forEach((v, i) => g.append(s('circle', { cx: cx(i), cy: y(v), r: 3, class: 'dot c-open' },
      s('title', null, `${bucketLabel(buckets[i].start, bucketSec)}: ${v} open`))));
  }
  return g;
}

/**
 * openNowBars: one horizontal bar per severity of the incidents open now.
 * @param {Record<string, number> | undefined} bySev
 */
export function openNowBars(bySev) {
  /** @type {[string, number][]} */
  const entries = severities.map((sv) => /** @type {[string, number]} */ ([sv, (bySev || {})[sv] || 0])).concat(
    Object.entries(bySev || {}).filter(([k]) => !severities.includes(k)));
  const W = 300; const rowH = 22; const left = 52; const H = entries.length * rowH + 4;
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Open incidents by severity', class: 'svgchart small' });
  entries.forEach(([sv, v], i) => {
    const y = 2 + i * rowH;
    g.append(s('text', { x: left - 8, y: y + 14, class: 'label', 'text-anchor': 'end' }, sv),
      s('rect', { x: left, y: y + 3, width: Math.max(v ? 3 : 0, (W - left - 40) * (v / max)), height: 14, rx: 2, class: 'sevfill sev' + sevIndex(sv) }),
      s('text', { x: left + (W - left - 40) * (v / max) + 6, y: y + 14, class: 'val' }, String(v)));
  });
  return g;
}

