// @ts-check
// The incidents list: filters, sort and pages over GET /api/v1/incidents.
//
// The filters live in the URL (#/?status=open&q=db), so a filtered list can
// be shared and survives a reload; they are also remembered within the tab,
// so "Incidents" in the nav comes back to the same list.
import { api, isAbort, problemText, qs } from './api.js';
import { h, poller, show } from './dom.js';
import { ago, localInputToRFC3339, muted, sevBadge, STATUSES, statusBadge, timeEl, toLocalInput } from './format.js';
import { severities } from './policy.js';

const LIST_POLL_MS = 4000;
const PAGE_SIZE = 25;
const DEFAULT_SORT = 'open_first';

/** @type {[string, string][]} */
const STATUS_OPTIONS = [['', 'Any status'], ['open,acknowledged,mitigated', 'Not resolved'],
  ...STATUSES.map((x) => /** @type {[string, string]} */ ([x, x[0].toUpperCase() + x.slice(1)]))];
/** @type {[string, string][]} */
const SORT_OPTIONS = [['open_first', 'Open first'], ['newest', 'Newest'], ['oldest', 'Oldest'],
  ['severity', 'Most severe'], ['recent_change', 'Recently changed']];

/**
 * The list's filters. from and to are instants (RFC 3339), as the API and
 * the URL have them; the inputs show them in local time.
 * @typedef {{ status: string, severity: string, assignee: string, from: string, to: string, q: string, sort: string }} Filters
 */

/** @type {Filters} */
let remembered = { status: '', severity: '', assignee: '', from: '', to: '', q: '', sort: DEFAULT_SORT };

/**
 * filtersFromQuery reads the filters of a list URL; values the page does
 * not offer are dropped (the API refuses them anyway).
 * @param {URLSearchParams} query
 * @returns {Filters}
 */
export function filtersFromQuery(query) {
  const get = (/** @type {string} */ k) => (query.get(k) || '').trim();
  const instant = (/** @type {string} */ k) => { const v = get(k); return v && !isNaN(new Date(v).getTime()) ? new Date(v).toISOString() : ''; };
  const status = get('status');
  const sort = get('sort');
  return {
    status: STATUS_OPTIONS.some(([v]) => v === status) ? status : '',
    severity: get('severity'), assignee: get('assignee'), from: instant('from'), to: instant('to'), q: get('q'),
    sort: SORT_OPTIONS.some(([v]) => v === sort) ? sort : DEFAULT_SORT,
  };
}

/**
 * listHash is the URL fragment of the list with these filters ("#/" when
 * none is set).
 * @param {Filters} f
 */
export function listHash(f) {
  return '#/' + qs({ ...f, sort: f.sort === DEFAULT_SORT ? '' : f.sort });
}

/**
 * @param {URLSearchParams} query the URL's filters; none: the remembered ones
 * @returns {import('./dom.js').View}
 */
export function viewList(query) {
  const ctl = new AbortController();
  if ([...query.keys()].length > 0) remembered = filtersFromQuery(query);
  /** @type {Filters} */
  let filters = { ...remembered };
  /** @type {string[]} cursor of each page seen, for Previous */
  let cursors = [''];
  syncURL(filters);

  const form = filterForm(filters, (f) => {
    filters = remembered = f;
    cursors = [''];
    syncURL(f);
    load(true);
  });

  const tbody = h('tbody');
  const table = h('table', { class: 'incidents' },
    h('caption', { class: 'sr-only' }, 'Incidents'),
    h('thead', null, h('tr', null, ['Severity', 'Title', 'Status', 'Commander', 'Assignee', 'Declared', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const empty = h('p', { class: 'empty', hidden: true });
  const errBox = h('p', { class: 'error', role: 'alert' });
  const updated = h('span', { class: 'muted', 'aria-live': 'off' });
  const prev = h('button', { type: 'button', disabled: true, onclick: () => { cursors.pop(); load(true); } }, '← Previous');
  const next = h('button', { type: 'button', disabled: true }, 'Next →');
  const pageNo = h('span', { class: 'muted' });
  let nextCursor = '';
  next.addEventListener('click', () => { cursors.push(nextCursor); load(true); });

  let lastJSON = '';
  /** @param {boolean} userAction re-render even when nothing changed */
  async function load(userAction) {
    const params = { ...filters, limit: PAGE_SIZE, cursor: cursors[cursors.length - 1] };
    try {
      /** @type {{ data: import('./api.js').IncidentPage | null }} */
      const { data } = await api('GET', '/incidents' + qs(params), undefined, ctl.signal);
      if (ctl.signal.aborted) return;
      errBox.textContent = '';
      const rows = (data && data.incidents) || [];
      nextCursor = (data && data.next_cursor) || '';
      const j = JSON.stringify(rows);
      // Re-render only on a change, so a refresh does not move focus or
      // the selection of someone reading the table.
      if (j !== lastJSON || userAction) {
        lastJSON = j;
        replaceRows(tbody, rows);
      }
      empty.hidden = rows.length > 0;
      empty.textContent = cursors.length > 1 ? 'No more incidents.' : 'No incidents match these filters.';
      prev.disabled = cursors.length <= 1;
      next.disabled = nextCursor === '';
      pageNo.textContent = 'Page ' + cursors.length;
      updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      if (isAbort(e)) return;
      errBox.textContent = 'Could not load the incidents: ' + problemText(e);
    }
  }

  show('Incidents',
    h('div', { class: 'pagehead' }, h('h1', null, 'Incidents'),
      h('div', { class: 'field inline' }, h('label', { for: 'f-sort' }, 'Sort'), form.sort),
      h('a', { class: 'button primary', href: '#/declare' }, 'Declare an incident')),
    form.form, errBox,
    h('div', { class: 'tablewrap' }, table), empty,
    h('div', { class: 'pager' }, prev, pageNo, next, h('span', { class: 'spacer' }), updated));
  load(true);
  const p = poller(() => load(false), LIST_POLL_MS);
  return { stop() { p.stop(); ctl.abort(); } };
}

/**
 * syncURL puts the filters into the address bar without a new history
 * entry or a hashchange (the list is already showing them).
 * @param {Filters} f
 */
function syncURL(f) {
  const want = listHash(f);
  if ((location.hash || '#/') !== want) history.replaceState(history.state, '', want);
}

/**
 * filterForm builds the filter controls, showing f; apply gets the new
 * filters when the user applies or clears them. The sort select is placed
 * by the caller, in the page's head.
 * @param {Filters} f
 * @param {(f: Filters) => void} apply
 */
function filterForm(f, apply) {
  const field = (/** @type {string} */ label, /** @type {string} */ id, /** @type {HTMLElement} */ control) =>
    h('div', { class: 'field' }, h('label', { for: id }, label), control);
  const select = (/** @type {string} */ id, /** @type {string} */ value, /** @type {[string, string][]} */ options) => h('select', { id, name: id },
    options.map(([v, t]) => h('option', { value: v, selected: v === value }, t)));

  const sevOptions = severities.map((x) => /** @type {[string, string]} */ ([x, x]));
  if (f.severity && !severities.includes(f.severity)) sevOptions.push([f.severity, f.severity]);
  const fStatus = select('f-status', f.status, STATUS_OPTIONS);
  const fSev = select('f-severity', f.severity, [['', 'Any severity'], ...sevOptions]);
  const fAssignee = h('input', { id: 'f-assignee', type: 'text', value: f.assignee, placeholder: 'anyone' });
  const fFrom = h('input', { id: 'f-from', type: 'datetime-local', value: toLocalInput(f.from) });
  const fTo = h('input', { id: 'f-to', type: 'datetime-local', value: toLocalInput(f.to) });
  const fQ = h('input', { id: 'f-q', type: 'search', value: f.q, placeholder: 'words in the title' });
  const fSort = select('f-sort', f.sort, SORT_OPTIONS);

  /** @param {Event} [ev] */
  const submit = (ev) => {
    if (ev) ev.preventDefault();
    apply({
      status: fStatus.value, severity: fSev.value, assignee: fAssignee.value.trim(),
      from: localInputToRFC3339(fFrom.value), to: localInputToRFC3339(fTo.value), q: fQ.value.trim(), sort: fSort.value,
    });
  };
  const clear = () => {
    for (const el of [fStatus, fSev, fAssignee, fFrom, fTo, fQ]) el.value = '';
    fSort.value = DEFAULT_SORT;
    submit();
  };
  for (const el of [fStatus, fSev, fSort]) el.addEventListener('change', () => submit());

  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter incidents', onsubmit: submit },
    field('Search', 'f-q', fQ), field('Status', 'f-status', fStatus), field('Severity', 'f-severity', fSev),
    field('Assignee', 'f-assignee', fAssignee), field('Declared from', 'f-from', fFrom), field('to', 'f-to', fTo),
    h('div', { class: 'field buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', onclick: clear }, 'Clear')));
  return { form, sort: fSort };
}

/**
 * replaceRows shows rows in tbody, keeping keyboard focus on the same
 * incident across a refresh.
 * @param {HTMLTableSectionElement} tbody
 * @param {import('./api.js').Incident[]} rows
 */
function replaceRows(tbody, rows) {
  const active = document.activeElement;
  const focusedRow = active && tbody.contains(active) ? active.closest('tr') : null;
  const focusedId = focusedRow && focusedRow.dataset.id;
  tbody.replaceChildren(...rows.map(row));
  if (focusedId) {
    const again = [...tbody.rows].find((r) => r.dataset.id === focusedId);
    const link = again && again.querySelector('a');
    if (link) link.focus({ preventScroll: true });
  }
}

/**
 * row is one incident of the table. Each cell carries its column's name
 * (data-label), which the narrow layout shows beside the value.
 * @param {import('./api.js').Incident} inc
 */
function row(inc) {
  const open = inc.status !== 'resolved';
  const cell = (/** @type {string} */ label, /** @type {import('./dom.js').Child[]} */ ...c) => h('td', { 'data-label': label }, c);
  return h('tr', { class: open ? 'open' : 'closed', 'data-id': inc.id },
    cell('Severity', sevBadge(inc.severity)),
    h('td', { class: 'title', 'data-label': 'Title' }, h('a', { href: '#/incidents/' + encodeURIComponent(inc.id) }, inc.title || '(untitled)'),
      inc.source && inc.source.kind === 'slack' ? h('span', { class: 'tag', title: 'Declared in Slack' }, 'Slack') : null),
    cell('Status', statusBadge(inc.status)),
    cell('Commander', inc.commander || muted('—')),
    cell('Assignee', inc.assignee || muted('—')),
    cell('Declared', timeEl(inc.declared_at, 'short'), h('span', { class: 'sub' }, ago(inc.declared_at))),
    cell('Updated', timeEl(inc.updated_at, 'short')));
}
