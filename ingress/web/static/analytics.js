// @ts-check
// The analytics page: summary tiles and charts of GET /api/v1/analytics
// over a chosen range.
import { api, isAbort, problemText, qs } from './api.js';
import { barsBySeverity, bucketLabel, chartCard, dataTable, legend, linesOverTime, openAtEnd, openNowBars, openOverTime, stackedDeclared } from './charts.js';
import { h, poller, show } from './dom.js';
import { fmtDuration } from './format.js';
import { noteSeverity, severities, sevIndex } from './policy.js';

const ANALYTICS_POLL_MS = 15000;

/**
 * The analytics of a range.
 * @typedef {{
 *   bucket_seconds?: number, open_now?: number, open_now_by_severity?: Record<string, number>,
 *   overall?: import('./charts.js').Stats, by_severity?: import('./charts.js').Stats[],
 *   buckets?: import('./charts.js').Bucket[],
 * }} Analytics
 */

/** @type {[string, string, number, number][]} name, label, span and bucket in seconds */
const RANGES = [
  ['24h', 'Last 24 hours', 24 * 3600, 3600],
  ['7d', 'Last 7 days', 7 * 86400, 86400],
  ['30d', 'Last 30 days', 30 * 86400, 86400],
  ['90d', 'Last 90 days', 90 * 86400, 7 * 86400],
];
let analyticsRange = '7d';

/** @returns {import('./dom.js').View} */
export function viewAnalytics() {
  const ctl = new AbortController();
  const body = h('div', { class: 'analytics' });
  const errBox = h('p', { class: 'error', role: 'alert' });
  const updated = h('span', { class: 'muted' });
  const rangeSel = h('select', { id: 'an-range' }, RANGES.map(([v, t]) => h('option', { value: v, selected: v === analyticsRange }, t)));
  rangeSel.addEventListener('change', () => { analyticsRange = rangeSel.value; lastJSON = ''; load(); });
  let lastJSON = '';

  async function load() {
    const [, , span, bucket] = RANGES.find((r) => r[0] === analyticsRange) || RANGES[1];
    const to = new Date(Math.ceil(Date.now() / 60000) * 60000 + 60000);
    const from = new Date(Math.floor((to.getTime() - span * 1000) / (bucket * 1000)) * bucket * 1000);
    try {
      /** @type {{ data: Analytics | null }} */
      const { data } = await api('GET', '/analytics' + qs({ from: from.toISOString(), to: to.toISOString(), bucket: bucket + 's' }), undefined, ctl.signal);
      if (ctl.signal.aborted) return;
      errBox.textContent = '';
      updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
      const j = JSON.stringify(data);
      if (j === lastJSON) return;
      lastJSON = j;
      body.replaceChildren(...render(data || {}, bucket));
    } catch (e) {
      if (isAbort(e)) return;
      errBox.textContent = 'Could not load analytics: ' + problemText(e);
    }
  }

  show('Analytics',
    h('div', { class: 'pagehead' }, h('h1', null, 'Analytics'),
      h('div', { class: 'field inline' }, h('label', { for: 'an-range' }, 'Range'), rangeSel), updated),
    errBox, body);
  load();
  const p = poller(load, ANALYTICS_POLL_MS);
  return { stop() { p.stop(); ctl.abort(); } };
}

/**
 * render draws the tiles and the charts of a.
 * @param {Analytics} a
 * @param {number} bucketFallback the bucket asked for, if a does not say
 * @returns {HTMLElement[]}
 */
function render(a, bucketFallback) {
  const bucketSec = a.bucket_seconds || bucketFallback;
  const bySev = (a.by_severity || []).slice();
  for (const x of bySev) noteSeverity(x.severity);
  bySev.sort((p, q) => sevIndex(p.severity) - sevIndex(q.severity));
  const overall = a.overall || {};
  const buckets = a.buckets || [];
  const openEnd = openAtEnd(buckets, a.open_now || 0);
  return [
    tiles(a, overall),
    h('div', { class: 'charts' },
      chartCard('MTTA and MTTR by severity', 'Mean time from impact start (or declaration) to the first acknowledgement, and to resolution.',
        bySev.length ? barsBySeverity(bySev) : h('p', { class: 'empty' }, 'No incidents declared in this range.'),
        [legend([['c-mtta', 'MTTA'], ['c-mttr', 'MTTR']]),
          dataTable('by severity', ['Severity', 'Declared', 'Acknowledged', 'Resolved', 'MTTA', 'MTTR'],
            bySev.concat([{ ...overall, severity: 'All' }]).map((x) => [x.severity || 'All', x.declared || 0, x.acknowledged || 0, x.resolved || 0,
              x.acknowledged ? fmtDuration(x.mtta_seconds) : '—', x.resolved ? fmtDuration(x.mttr_seconds) : '—']))]),
      chartCard('Declared and resolved over time', 'Bars: incidents declared in each interval, by severity. Line: incidents resolved.',
        stackedDeclared(buckets, bucketSec),
        [legend(severities.slice(0, 4).map((x) => /** @type {[string, string]} */ (['sevfill sev' + sevIndex(x), x])).concat([['c-resolved', 'Resolved']])),
          dataTable('per interval', ['Interval', ...severities, 'Resolved'],
            buckets.map((b) => [bucketLabel(b.start, bucketSec), ...severities.map((x) => (b.declared || {})[x] || 0), b.resolved || 0]))]),
      chartCard('Open incidents over time', 'Open at the end of each interval, derived from open now and the declarations and resolutions since (reopened incidents make it approximate).',
        openOverTime(buckets, openEnd, bucketSec),
        [legend([['c-open', 'Open']]),
          dataTable('per interval', ['Interval', 'Open at its end'], buckets.map((b, i) => [bucketLabel(b.start, bucketSec), openEnd[i]]))]),
      chartCard('MTTA and MTTR over time', 'Of the incidents declared in each interval; gaps are intervals with nothing acknowledged or resolved.',
        linesOverTime(buckets, bucketSec),
        [legend([['c-mtta', 'MTTA'], ['c-mttr', 'MTTR']]),
          dataTable('per interval', ['Interval', 'MTTA', 'MTTR'],
            buckets.map((b) => [bucketLabel(b.start, bucketSec), (b.mtta_seconds || 0) > 0 ? fmtDuration(b.mtta_seconds) : '—', (b.mttr_seconds || 0) > 0 ? fmtDuration(b.mttr_seconds) : '—']))])),
  ];
}

/**
 * tiles are the summary: open now (by severity), MTTA, MTTR, declared.
 * @param {Analytics} a
 * @param {import('./charts.js').Stats} overall
 */
function tiles(a, overall) {
  const tile = (/** @type {string} */ label, /** @type {string} */ value, /** @type {string} */ sub, /** @type {string} */ cls) =>
    h('div', { class: 'tile ' + cls }, h('div', { class: 'tlabel' }, label), h('div', { class: 'tvalue' }, value), sub ? h('div', { class: 'tsub' }, sub) : null);
  return h('section', { class: 'tiles', 'aria-label': 'Summary' },
    h('div', { class: 'tile open-now' }, h('div', { class: 'tlabel' }, 'Open now'), h('div', { class: 'tvalue' + (a.open_now ? '' : ' zero'), id: 'open-now' }, String(a.open_now || 0)),
      openNowBars(a.open_now_by_severity)),
    tile('MTTA', fmtDuration(overall.acknowledged ? overall.mtta_seconds : null), (overall.acknowledged || 0) + ' acknowledged', 'mtta'),
    tile('MTTR', fmtDuration(overall.resolved ? overall.mttr_seconds : null), (overall.resolved || 0) + ' resolved', 'mttr'),
    tile('Declared', String(overall.declared || 0), 'in this range', ''));
}
