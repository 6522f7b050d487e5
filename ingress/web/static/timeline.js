// @ts-check
// An incident's timeline: one list item per event, in words.
import { h } from './dom.js';
import { extLink, sevBadge, slackURL, statusBadge, timeEl } from './format.js';

/** @type {Record<string, string>} */
const COMMAND_VERB = {
  declare: 'declare', set_severity: 'change the severity', set_title: 'change the title', assign: 'assign',
  acknowledge: 'acknowledge', mitigate: 'mitigate', resolve: 'resolve', reopen: 'reopen', add_note: 'add a note',
  pin_message: 'pin a message', set_impact_started: 'set the impact start', record_slack_message: 'record a Slack message',
};

/**
 * eventItem is one event of the timeline: when, who, what, its version,
 * and below it a note, a pinned message or a rejection's reason.
 * @param {import('./api.js').IncidentEvent} e
 */
export function eventItem(e) {
  const [what, extra] = describe(e);
  return h('li', { class: 'ev ev-' + (e.kind || 'unknown').replace(/[^a-z_]/g, ''), 'data-version': e.version },
    h('div', { class: 'evline' },
      h('span', { class: 'when' }, timeEl(e.at)),
      h('span', { class: 'who' }, e.actor || 'someone'),
      h('span', { class: 'what' }, what),
      h('span', { class: 'ver', title: 'version' }, 'v' + e.version)),
    extra);
}

/**
 * describe says what an event did, and what to show below it.
 * @param {import('./api.js').IncidentEvent} e
 * @returns {[import('./dom.js').Child, HTMLElement | null]}
 */
function describe(e) {
  switch (e.kind) {
    case 'declared':
      return [['declared ', h('q', null, e.title), ' as ', sevBadge(e.severity)], null];
    case 'severity_changed':
      return [['changed the severity to ', sevBadge(e.severity)], null];
    case 'title_changed':
      return [['renamed the incident to ', h('q', null, e.title)], null];
    case 'assigned':
      return [e.person ? ['made ', h('strong', null, e.person), ' ' + (e.role || 'assignee')] : ['removed the ' + (e.role || 'assignee')], null];
    case 'acknowledged': case 'mitigated': case 'resolved': case 'reopened':
      return [[e.kind, ' the incident ', statusBadge(e.status || (e.kind === 'reopened' ? 'open' : e.kind))], null];
    case 'note_added':
      return [['added a note'], h('blockquote', { class: 'note' }, e.note)];
    case 'message_pinned': {
      const m = e.message || {};
      const url = slackURL(m.channel, m.ts);
      return [['pinned a Slack message'], h('blockquote', { class: 'pin' },
        h('div', { class: 'pinmeta' }, m.author ? h('strong', null, m.author) : 'unknown author', ' · written ', timeEl(m.at),
          url ? [' · ', extLink(url, 'in Slack ↗')] : null),
        h('div', { class: 'pintext' }, m.text || ''))];
    }
    case 'impact_started_set':
      return [['set the impact start to ', timeEl(e.impact_started)], null];
    case 'slack_message_recorded': {
      const m = e.message || {};
      const url = slackURL(m.channel, m.ts);
      return [[m.channel === 'outbox' ? 'posted the incident card (to the local outbox: Slack is not configured)' : 'posted the incident card in Slack',
        url ? [' · ', extLink(url, 'open ↗')] : null], null];
    }
    case 'rejected': {
      const rj = e.rejection || {};
      const asked = (e.command_kind && COMMAND_VERB[e.command_kind]) || e.command_kind || 'do something';
      return [['tried to ' + asked + ': ', h('strong', { class: 'rej' }, 'rejected')],
        h('p', { class: 'rejection' }, rj.reason || '', rj.code ? h('code', null, rj.code) : null)];
    }
    default:
      return [[e.kind], null];
  }
}
