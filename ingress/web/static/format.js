// @ts-check
// Formatting shared by the pages: times, durations, badges, Slack links.
import { h } from './dom.js';
import { noteSeverity, sevIndex } from './policy.js';

/** The statuses, in their usual order. */
export const STATUSES = ['open', 'acknowledged', 'mitigated', 'resolved'];

/**
 * parseTime reads an API time; the zero time (before 1971) and garbage are
 * null.
 * @param {string | null | undefined} v
 * @returns {Date | null}
 */
export function parseTime(v) {
  if (!v) return null;
  const d = new Date(v);
  return isNaN(d.getTime()) || d.getUTCFullYear() < 1971 ? null : d;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const minuteFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * timeEl is a <time> showing a local time, with the exact instant as its
 * machine-readable value and tooltip.
 * @param {string | null | undefined} v
 * @param {'short' | 'minute' | 'full'} [style] short: no year; minute: no seconds
 * @returns {HTMLElement}
 */
export function timeEl(v, style) {
  const d = parseTime(v);
  if (!d) return h('span', { class: 'muted' }, '—');
  const fmt = style === 'short' ? shortFmt : style === 'minute' ? minuteFmt : dateFmt;
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, fmt.format(d));
}

/** @type {[string, number][]} */
const UNITS = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];

/**
 * ago is a coarse "how long ago": its largest unit only.
 * @param {string | null | undefined} v
 */
export function ago(v) {
  const d = parseTime(v);
  if (!d) return '';
  const sec = Math.max(0, (Date.now() - d.getTime()) / 1000);
  if (sec < 60) return 'just now';
  const [u, n] = UNITS.find(([, n]) => sec >= n) || UNITS[3];
  return Math.floor(sec / n) + u + ' ago';
}

/**
 * fmtDuration renders seconds as the largest unit and the one after it,
 * if not zero: "45s", "12m 5s", "3h", "3h 5m", "2d 4h".
 * @param {number | null | undefined} sec
 */
export function fmtDuration(sec) {
  if (sec === null || sec === undefined || !isFinite(sec)) return '—';
  sec = Math.max(0, Math.round(sec));
  const found = UNITS.findIndex(([, n]) => /** @type {number} */ (sec) >= n);
  const i = found === -1 ? 3 : found;
  const [u, n] = UNITS[i];
  let out = Math.floor(sec / n) + u;
  if (i < 3) {
    const [u2, n2] = UNITS[i + 1];
    const rest = Math.floor((sec % n) / n2);
    if (rest) out += ' ' + rest + u2;
  }
  return out;
}

/**
 * toLocalInput formats a time for a datetime-local input (local time, to
 * the second).
 * @param {string | null | undefined} v
 */
export function toLocalInput(v) {
  const d = parseTime(v);
  if (!d) return '';
  /** @param {number} n */
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * localInputToRFC3339 reads a datetime-local input's value as an instant.
 * @param {string} v
 */
export function localInputToRFC3339(v) {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d.getTime()) ? '' : d.toISOString();
}

/** @param {string | undefined} sev */
export function sevBadge(sev) {
  noteSeverity(sev);
  return h('span', { class: 'badge sev sev' + sevIndex(sev) }, sev || '—');
}

/** @param {string | undefined} status */
export function statusBadge(status) {
  return h('span', { class: 'badge status st-' + (status && STATUSES.includes(status) ? status : 'unknown') }, status || '—');
}

/**
 * slackURL is a link to a Slack message (or thread) by channel and ts;
 * only ids and timestamps of Slack's own shapes make a link.
 * @param {string | undefined} channel
 * @param {string | undefined} ts
 * @param {string} [threadTS]
 * @returns {string | null}
 */
export function slackURL(channel, ts, threadTS) {
  if (!/^[A-Z0-9]{2,30}$/.test(channel || '') || !ts || !/^\d{1,12}\.\d{1,9}$/.test(ts)) return null;
  let u = 'https://slack.com/archives/' + channel + '/p' + ts.replace('.', '');
  if (threadTS && /^\d{1,12}\.\d{1,9}$/.test(threadTS) && threadTS !== ts) {
    u += '?thread_ts=' + threadTS + '&cid=' + channel;
  }
  return u;
}

/**
 * extLink opens a link outside the dashboard in a new tab, without an
 * opener or referrer.
 * @param {string} url
 * @param {string} text
 */
export function extLink(url, text) {
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, text);
}

/** @param {string} text */
export function muted(text) {
  return h('span', { class: 'muted' }, text);
}
