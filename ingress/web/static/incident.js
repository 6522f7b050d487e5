// @ts-check
// An incident's page: its head and facts, its timeline, and the actions
// that change it. Writes wait (bounded) for their outcome, then the page
// reads the incident at least at the version the write produced.
import { api, ApiError, isAbort, problemText, WRITE_WAIT } from './api.js';
import { h, hideToast, poller, show, toast } from './dom.js';
import { extLink, fmtDuration, localInputToRFC3339, muted, parseTime, sevBadge, slackURL, statusBadge, timeEl, toLocalInput } from './format.js';
import { noteSeverity, severities } from './policy.js';
import { eventItem } from './timeline.js';

const INCIDENT_POLL_MS = 5000;

/**
 * pendingVersion remembers, per incident, the version a write of this tab
 * produced, so the incident page asks the view for at least that.
 * @type {Map<string, number>}
 */
const pendingVersion = new Map();

/**
 * expectVersion tells the incident's page, opened next, to read at least
 * this version.
 * @param {string} id
 * @param {number} version
 */
export function expectVersion(id, version) { pendingVersion.set(id, version); }

/**
 * @param {string} id
 * @returns {import('./dom.js').View}
 */
export function viewIncident(id) {
  const ctl = new AbortController();
  const path = '/incidents/' + encodeURIComponent(id);
  /** @type {import('./api.js').Incident | null} the incident as last shown */
  let inc = null;
  let waitedForFirst = false;

  const head = h('div', { class: 'inchead' });
  const facts = h('dl', { class: 'facts' });
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Timeline, oldest first' });
  const loadErr = h('p', { class: 'error', role: 'alert' });
  const panel = actionsPanel(path, ctl.signal, load);
  const notFound = h('div', { hidden: true },
    h('h1', null, 'Incident not found'),
    h('p', null, 'There is no incident ', h('code', null, id), ' that your token can see.'),
    h('p', null, h('a', { href: '#/' }, 'Back to the incidents')));
  const page = h('div', { class: 'incident' },
    h('div', { class: 'incmain' }, head, loadErr, facts,
      h('section', { 'aria-labelledby': 'tl-h' }, h('h2', { id: 'tl-h' }, 'Timeline'), timeline)),
    panel.el);

  /**
   * load reads the incident (at least minVersion when > 0) and renders it
   * if it is newer than what is shown.
   * @param {number} minVersion
   */
  async function load(minVersion) {
    /** @type {{ data: import('./api.js').IncidentDetail | null }} */
    let r;
    try {
      r = await api('GET', path + (minVersion > 0 ? '?min_version=' + minVersion : ''), undefined, ctl.signal);
    } catch (e) {
      if (isAbort(e)) return;
      if (e instanceof ApiError && e.status === 404 && !inc) {
        // Unknown, another tenant's, or declared a moment ago and not in
        // the view yet: say so, and keep looking (the poller).
        if (notFound.hidden) {
          notFound.hidden = false;
          page.hidden = true;
          document.title = 'Not found · incidentd';
        }
        // An incident declared a moment ago may not be in the view yet:
        // ask once more, waiting (bounded, by the server) for its first
        // version, rather than until the next poll.
        if (!waitedForFirst) {
          waitedForFirst = true;
          load(1).catch(() => {});
        }
        return;
      }
      loadErr.textContent = e instanceof ApiError && e.code === 'view_behind'
        ? 'The dashboard\'s view is still catching up with the latest change; it will update by itself.'
        : 'Could not load the incident: ' + problemText(e);
      return;
    }
    if (ctl.signal.aborted) return;
    loadErr.textContent = '';
    notFound.hidden = true;
    page.hidden = false;
    const data = r.data || {};
    if (!data.incident) return;
    if (inc && data.incident.version < inc.version) return; // an older read finished late
    const changed = !inc || data.incident.version !== inc.version;
    inc = data.incident;
    if (changed) render(inc, data.events || []);
  }

  /**
   * @param {import('./api.js').Incident} x
   * @param {import('./api.js').IncidentEvent[]} events
   */
  function render(x, events) {
    noteSeverity(x.severity);
    document.title = x.title + ' · incidentd';
    renderHead(head, x);
    renderFacts(facts, x);
    timeline.replaceChildren(...events.map(eventItem));
    if (events.length === 0) timeline.append(h('li', { class: 'muted' }, 'No events yet.'));
    panel.show(x);
  }

  show('Incident', notFound, page);
  const first = pendingVersion.get(id) || 0;
  pendingVersion.delete(id);
  head.append(h('h1', null, 'Loading…'));
  load(first).then(() => {
    const t = notFound.hidden ? document.getElementById('inc-title') : notFound.querySelector('h1');
    if (t && !ctl.signal.aborted) { t.setAttribute('tabindex', '-1'); t.focus({ preventScroll: true }); }
  }).catch(() => {});
  const p = poller(() => load(0), INCIDENT_POLL_MS);
  return { stop() { p.stop(); ctl.abort(); } };
}

/**
 * threadURL is the link to the Slack thread a Slack incident lives in.
 * @param {import('./api.js').Incident} x
 */
function threadURL(x) {
  return x.source && x.source.kind === 'slack' ? slackURL(x.source.channel, x.source.thread_ts) : null;
}

/**
 * @param {HTMLElement} head
 * @param {import('./api.js').Incident} x
 */
function renderHead(head, x) {
  const slack = threadURL(x);
  head.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Incidents'), ' / ', h('code', null, x.id)),
    h('h1', { id: 'inc-title' }, x.title || '(untitled)'),
    h('div', { class: 'badges' }, sevBadge(x.severity), statusBadge(x.status),
      h('span', { class: 'muted' }, 'version ' + x.version),
      slack ? extLink(slack, 'Slack thread ↗') : null));
}

/**
 * @param {HTMLElement} facts
 * @param {import('./api.js').Incident} x
 */
function renderFacts(facts, x) {
  const slack = threadURL(x);
  const fact = (/** @type {string} */ k, /** @type {import('./dom.js').Child} */ v) => [h('dt', null, k), h('dd', null, v)];
  facts.replaceChildren(
    ...fact('Declared', [timeEl(x.declared_at, 'minute'), x.reporter ? ' by ' + x.reporter : '']),
    ...fact('Impact started', timeEl(x.impact_started_at, 'minute')),
    ...fact('Acknowledged', timeEl(x.acknowledged_at, 'minute')),
    ...fact('Mitigated', timeEl(x.mitigated_at, 'minute')),
    ...fact('Resolved', timeEl(x.resolved_at, 'minute')),
    ...fact('Commander', x.commander || muted('nobody')),
    ...fact('Assignee', x.assignee || muted('nobody')),
    ...fact('Source', x.source && x.source.kind === 'slack'
      ? ['Slack', x.source.channel ? ' #' + x.source.channel : '', slack ? [' · ', extLink(slack, 'open thread')] : '']
      : 'Dashboard / API'),
    ...fact('Notes · pins', (x.notes || 0) + ' · ' + (x.pins || 0)),
    ...fact('Acknowledged after', since(x, x.acknowledged_at)),
    ...fact('Resolved after', since(x, x.resolved_at)));
}

/**
 * since is how long from the impact start (or the declaration, as the
 * analytics count it) to t.
 * @param {import('./api.js').Incident} x
 * @param {string | undefined} t
 */
function since(x, t) {
  const end = parseTime(t);
  const start = parseTime(x.impact_started_at) || parseTime(x.declared_at);
  if (!end || !start) return muted('—');
  return fmtDuration((end.getTime() - start.getTime()) / 1000);
}

/** The usual next status step, highlighted among the status buttons. */
/** @type {Record<string, string>} */
const NEXT_STEP = { open: 'acknowledge', acknowledged: 'mitigate', mitigated: 'resolve', resolved: 'reopen' };

/**
 * actionsPanel is the incident's actions: the status buttons and the forms
 * that change severity, title, assignment, notes and the impact start.
 * show(x) puts the incident's current values in the fields nobody is
 * typing in.
 * @param {string} path the incident's API path
 * @param {AbortSignal} signal the page's
 * @param {(minVersion: number) => Promise<void>} load reads and renders the incident
 */
function actionsPanel(path, signal, load) {
  let busy = false;
  const msg = h('div', { class: 'msg', role: 'status', 'aria-live': 'polite' });
  const errBox = h('p', { class: 'error', role: 'alert' });
  /** @type {HTMLButtonElement[]} */
  const buttons = [];
  const actButton = (/** @type {string} */ label, /** @type {string} */ cls, /** @type {() => void} */ fn) => {
    const b = h('button', { type: 'button', class: cls, onclick: fn }, label);
    buttons.push(b);
    return b;
  };
  /**
   * @param {string} label
   * @param {HTMLElement[]} fields
   * @param {() => void} onsubmit
   * @param {string} submitLabel
   */
  const actForm = (label, fields, onsubmit, submitLabel) => {
    const b = h('button', { type: 'submit' }, submitLabel);
    buttons.push(b);
    return h('form', { class: 'action', onsubmit: (/** @type {Event} */ ev) => { ev.preventDefault(); onsubmit(); } },
      h('fieldset', null, h('legend', null, label), fields, b));
  };

  // Every status button stays usable whatever the status: the model
  // decides, and a refusal is shown with its reason.
  /** @type {Record<string, HTMLButtonElement>} */
  const statusButtons = {
    acknowledge: actButton('Acknowledge', 'st-acknowledged', () => act('acknowledge', {}, 'Acknowledged')),
    mitigate: actButton('Mitigate', 'st-mitigated', () => act('mitigate', {}, 'Mitigated')),
    resolve: actButton('Resolve', 'st-resolved', () => act('resolve', {}, 'Resolved')),
    reopen: actButton('Reopen', 'st-open', () => act('reopen', {}, 'Reopened')),
  };
  const statusRow = h('div', { class: 'statusrow', role: 'group', 'aria-label': 'Change status' }, Object.values(statusButtons));

  const sevSel = h('select', { id: 'a-severity', name: 'severity' }, severities.map((x) => h('option', { value: x }, x)));
  const titleIn = h('input', { id: 'a-title', name: 'title', type: 'text', maxlength: 500, autocomplete: 'off' });
  const roleSel = h('select', { id: 'a-role', name: 'role' }, h('option', { value: 'commander' }, 'Commander'), h('option', { value: 'assignee' }, 'Assignee'));
  const personIn = h('input', { id: 'a-person', name: 'person', type: 'text', autocomplete: 'off', placeholder: 'person (empty: nobody)' });
  const noteIn = h('textarea', { id: 'a-note', name: 'note', rows: 3 });
  const impactIn = h('input', { id: 'a-impact', name: 'impact', type: 'datetime-local', step: 1 });
  const srLabel = (/** @type {string} */ id, /** @type {string} */ text) => h('label', { for: id, class: 'sr-only' }, text);

  const el = h('section', { class: 'actions card', 'aria-labelledby': 'actions-h' },
    h('h2', { id: 'actions-h' }, 'Actions'),
    statusRow, msg, errBox,
    actForm('Severity', [srLabel('a-severity', 'Severity'), sevSel],
      () => act('severity', { severity: sevSel.value }, 'Severity changed to ' + sevSel.value), 'Change severity'),
    actForm('Title', [srLabel('a-title', 'Title'), titleIn],
      () => act('title', { title: titleIn.value }, 'Title changed'), 'Save title'),
    actForm('Assign', [srLabel('a-role', 'Role'), roleSel, srLabel('a-person', 'Person'), personIn],
      () => act('assign', { role: roleSel.value, person: personIn.value.trim() }, 'Assigned'), 'Assign'),
    actForm('Note', [srLabel('a-note', 'Note'), noteIn],
      () => act('notes', { note: noteIn.value }, 'Note added', () => { noteIn.value = ''; }), 'Add note'),
    actForm('Impact started', [srLabel('a-impact', 'Impact started (your local time)'), impactIn],
      () => {
        const at = localInputToRFC3339(impactIn.value);
        if (!at) { showError('Pick the time the impact started.'); impactIn.focus(); return; }
        act('impact-started', { at }, 'Impact start set');
      }, 'Set'));

  /** @param {boolean} b */
  function setBusy(b) {
    busy = b;
    for (const x of buttons) x.disabled = b;
    el.setAttribute('aria-busy', b ? 'true' : 'false');
  }

  /** @param {string} text */
  function showError(text) {
    errBox.textContent = text;
    msg.textContent = '';
    hideToast(); // an earlier success must not sit beside it
  }

  /**
   * act issues one write and waits for its outcome (bounded), then reads
   * the incident at least at the version the write produced, so the page
   * shows the new state at once. A rejection is shown as its reason.
   * @param {string} route the write's path under the incident
   * @param {Record<string, string>} body
   * @param {string} done what to say once it is applied
   * @param {() => void} [onApplied]
   */
  async function act(route, body, done, onApplied) {
    if (busy) return;
    // Disabling the buttons drops keyboard focus; give it back after.
    const focused = document.activeElement;
    setBusy(true);
    errBox.textContent = '';
    msg.textContent = 'Working…';
    try {
      /** @type {{ status: number, data: import('./api.js').WriteResult }} */
      const r = await api('POST', path + '/' + route + '?wait=' + WRITE_WAIT, body, signal);
      if (onApplied) onApplied();
      if (r.status === 200) {
        await load(r.data.version || 0);
        msg.textContent = done + '.';
        toast(done + '.');
      } else {
        msg.textContent = 'Accepted; the outcome is not known yet. This page updates when it is.';
      }
    } catch (e) {
      if (isAbort(e)) return;
      const rejected = e instanceof ApiError && (e.problem.title === 'command rejected' || e.status === 409 || e.status === 422);
      showError((rejected ? 'Rejected: ' : 'Failed: ') + problemText(e));
      // A rejection is an event of the incident's history: show it.
      load(0).catch(() => {});
    } finally {
      if (!signal.aborted) {
        setBusy(false);
        if (focused instanceof HTMLElement && focused.isConnected && (document.activeElement === document.body || document.activeElement === null)) focused.focus();
      }
    }
  }

  /** @param {import('./api.js').Incident} x */
  function showIncident(x) {
    // Keep what someone is typing; otherwise show the current values.
    if (document.activeElement !== sevSel) {
      if (![...sevSel.options].some((o) => o.value === x.severity)) sevSel.append(h('option', { value: x.severity }, x.severity));
      sevSel.value = x.severity;
    }
    if (document.activeElement !== titleIn) titleIn.value = x.title;
    if (document.activeElement !== impactIn) impactIn.value = toLocalInput(x.impact_started_at);
    for (const [k, b] of Object.entries(statusButtons)) b.classList.toggle('next', NEXT_STEP[x.status] === k);
  }

  return { el, show: showIncident };
}
