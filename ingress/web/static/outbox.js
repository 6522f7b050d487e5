// @ts-check
// The Slack outbox: what the notifier would have posted to Slack when no
// workspace is configured, shown roughly as Slack would.
import { api, ApiError, isAbort, problemText } from './api.js';
import { h, poller, show } from './dom.js';
import { timeEl } from './format.js';

const OUTBOX_POLL_MS = 5000;

/**
 * One call the notifier would have made.
 * @typedef {{ method?: string, channel?: string, thread_ts?: string, user?: string, incident_id?: string, time?: string, text?: string, blocks?: unknown }} OutboxEntry
 */

/**
 * A Block Kit block or element, as far as the preview reads it.
 * @typedef {{ type?: string, text?: unknown, fields?: unknown[], elements?: Block[], style?: string, placeholder?: unknown }} Block
 */

/** @type {Record<string, string>} */
const EMOJI = {
  rotating_light: '🚨', white_check_mark: '✅', warning: '⚠️', fire: '🔥', pushpin: '📌', eyes: '👀',
  large_green_circle: '🟢', large_yellow_circle: '🟡', large_orange_circle: '🟠', red_circle: '🔴', memo: '📝',
  hammer_and_wrench: '🛠️', arrows_counterclockwise: '🔄', bust_in_silhouette: '👤', clock3: '🕒',
};

/**
 * mrkdwn renders the little of Slack's mrkdwn a preview needs: *bold*,
 * _italic_, `code`, known :emoji:, Slack's <url|label> links and
 * <@U123>-style mentions as their text, and Slack's &lt; &gt; &amp;
 * escapes. The result is text nodes and <strong>, <em> and <code>
 * elements only.
 * @param {unknown} text
 * @returns {(string | HTMLElement)[]}
 */
export function mrkdwn(text) {
  /** @type {(string | HTMLElement)[]} */
  const out = [];
  const plain = String(text)
    .replace(/<((?:https?:|mailto:|[#@!])[^<>|]*)\|([^<>]+)>/g, '$2')
    .replace(/<((?:https?:|mailto:|[#@!])[^<>]*)>/g, '$1')
    .replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m)
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const re = /\*([^*\n]+)\*|(?:^|(?<=\s))_([^_\n]+)_(?=\s|$|[.,;:!?])|`([^`\n]+)`/g;
  let last = 0;
  let m;
  while ((m = re.exec(plain))) {
    if (m.index > last) out.push(plain.slice(last, m.index));
    if (m[1] !== undefined) out.push(h('strong', null, m[1]));
    else if (m[2] !== undefined) out.push(h('em', null, m[2]));
    else out.push(h('code', null, m[3]));
    last = re.lastIndex;
  }
  if (last < plain.length) out.push(plain.slice(last));
  return out;
}

/**
 * txt renders a Block Kit text object (or a plain string).
 * @param {unknown} t
 */
function txt(t) {
  const text = t && typeof t === 'object' ? /** @type {{ text?: unknown }} */ (t).text : t;
  return mrkdwn(text || '');
}

/**
 * control is how a Block Kit interactive element looks in the preview.
 * @param {Block} e
 */
function control(e) {
  if (e.type === 'button') return h('span', { class: 'b-button' + (e.style ? ' ' + String(e.style).replace(/[^a-z]/g, '') : '') }, e.text ? txt(e.text) : 'button');
  /** @type {Record<string, string>} */
  const names = { users_select: 'Choose a person', static_select: 'Choose', datepicker: 'Pick a date' };
  const what = e.placeholder ? txt(e.placeholder) : (names[e.type || ''] || e.type || 'control');
  return h('span', { class: 'b-button b-select' }, what, ' ▾');
}

/**
 * blockPreview renders Slack Block Kit blocks roughly as Slack would: text
 * stays text (bold and emoji only, see mrkdwn), buttons are shown, not
 * clickable.
 * @param {unknown} blocks
 */
export function blockPreview(blocks) {
  if (!Array.isArray(blocks)) return null;
  return h('div', { class: 'blocks' }, blocks.map((/** @type {Block | null} */ b) => {
    switch (b && b.type) {
      case 'header': return h('div', { class: 'b-header' }, txt(b && b.text));
      case 'divider': return h('hr');
      case 'section': return h('div', { class: 'b-section' }, b && b.text ? h('div', { class: 'b-text' }, txt(b.text)) : null,
        b && Array.isArray(b.fields) ? h('div', { class: 'b-fields' }, b.fields.map((f) => h('div', null, txt(f)))) : null);
      case 'context': return h('div', { class: 'b-context' }, ((b && b.elements) || []).map((e) => h('span', null, txt(e))));
      case 'actions': return h('div', { class: 'b-actions' }, ((b && b.elements) || []).map((e) => control(e || {})));
      default: return h('div', { class: 'b-other muted' }, '[' + ((b && b.type) || 'block') + ']');
    }
  }));
}

/**
 * @param {OutboxEntry} e
 */
function entry(e) {
  return h('li', { class: 'card outmsg' },
    h('div', { class: 'outhead' },
      h('code', { class: 'method' }, e.method || 'chat.postMessage'),
      e.channel ? h('span', null, 'to ', h('code', null, e.channel)) : null,
      e.thread_ts ? h('span', { class: 'muted' }, 'in thread ' + e.thread_ts) : null,
      e.user ? h('span', { class: 'muted' }, 'visible to ' + e.user) : null,
      h('span', { class: 'spacer' }),
      e.incident_id ? h('a', { href: '#/incidents/' + encodeURIComponent(e.incident_id) }, e.incident_id) : null,
      timeEl(e.time)),
    e.text ? h('p', { class: 'outtext' }, mrkdwn(e.text)) : null,
    blockPreview(e.blocks));
}

/** @returns {import('./dom.js').View} */
export function viewOutbox() {
  const ctl = new AbortController();
  const list = h('ol', { class: 'outbox' });
  const errBox = h('p', { class: 'error', role: 'alert' });
  const empty = h('p', { class: 'empty', hidden: true }, 'Nothing in the outbox yet. Declare an incident and the notifier will "post" its card here.');
  const updated = h('span', { class: 'muted' });
  let lastJSON = '';
  async function load() {
    try {
      /** @type {{ data: unknown }} */
      const { data } = await api('GET', '/outbox', undefined, ctl.signal);
      if (ctl.signal.aborted) return;
      errBox.textContent = '';
      updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
      const d = /** @type {{ entries?: OutboxEntry[], messages?: OutboxEntry[], outbox?: OutboxEntry[] } | null} */ (data);
      /** @type {OutboxEntry[]} */
      const entries = Array.isArray(data) ? data : ((d && (d.entries || d.messages || d.outbox)) || []);
      empty.hidden = entries.length > 0;
      const j = JSON.stringify(entries);
      if (j === lastJSON) return;
      lastJSON = j;
      list.replaceChildren(...entries.map(entry));
    } catch (e) {
      if (isAbort(e)) return;
      errBox.textContent = e instanceof ApiError && e.status === 404
        ? 'This server has no outbox: the notifier posts to Slack itself (or the outbox route is not there).'
        : 'Could not load the outbox: ' + problemText(e);
    }
  }
  show('Slack outbox',
    h('div', { class: 'pagehead' }, h('h1', null, 'Slack outbox'), updated),
    h('p', { class: 'help' }, 'Without Slack credentials, the notifier writes what it would have posted to Slack here, newest first.'),
    errBox, empty, list);
  load();
  const p = poller(load, OUTBOX_POLL_MS);
  return { stop() { p.stop(); ctl.abort(); } };
}
