// incidentd dashboard: a small single-page application over /api/v1.
//
// Plain JavaScript, no build step, no dependencies: the binary embeds this
// file as it is. Rules this file keeps:
//   - Every piece of data reaches the page through textContent or an
//     attribute set with setAttribute (see h() and s()); innerHTML is never
//     used, so a title such as "<img onerror=...>" stays text.
//   - The API token lives in sessionStorage and goes out only as an
//     Authorization header on same-origin fetches (see ../doc.go for why
//     that leaves cross-site request forgery nothing to ride on).
//   - Routing uses the URL fragment (#/incidents/ID), so the server only
//     ever serves "/" and the three static files.
'use strict';

(function () {
  const TOKEN_KEY = 'incidentd.token';
  const LIST_POLL_MS = 4000;
  const INCIDENT_POLL_MS = 5000;
  const ANALYTICS_POLL_MS = 15000;
  const OUTBOX_POLL_MS = 5000;
  const WRITE_WAIT = '5s';
  const STATUSES = ['open', 'acknowledged', 'mitigated', 'resolved'];
  // The deployment's levels, most severe first: the default policy's until
  // GET /api/v1/policy answers (loadPolicy, once after sign-in); levels seen
  // in the data are added too (see noteSeverity).
  const severities = ['SEV1', 'SEV2', 'SEV3', 'SEV4'];
  let policyLoaded = false;

  async function loadPolicy() {
    try {
      const p = await api('GET', '/policy');
      if (p && Array.isArray(p.severities) && p.severities.length > 0) {
        severities.length = 0;
        for (const x of p.severities) if (typeof x === 'string') severities.push(x);
      }
    } catch (_) {
      // Keep the default levels; the pages still work.
    }
  }

  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  const signoutBtn = document.getElementById('signout');
  const toastEl = document.getElementById('toast');

  // ---- DOM helpers: the only way this file makes elements ----------------

  // h builds an HTML element. attrs: "class", "for", aria-*, data-* and the
  // like go through setAttribute; "on*" functions become listeners; a few
  // properties (value, checked, disabled, hidden) are set as properties.
  // Children are nodes or strings (strings become text nodes); null and
  // false are skipped, arrays are flattened.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  const SVGNS = 'http://www.w3.org/2000/svg';
  // s builds an SVG element, the same way.
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected']);
  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2), v);
      } else if (PROPS.has(k)) {
        el[k] = v;
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  let toastTimer = null;
  // toast says something briefly in a polite live region.
  function toast(text) {
    toastEl.textContent = text;
    toastEl.classList.add('show');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => toastEl.classList.remove('show'), 4000);
  }

  // ---- formatting ----------------------------------------------------------

  function parseTime(v) {
    if (!v) return null;
    const d = new Date(v);
    return isNaN(d.getTime()) || d.getUTCFullYear() < 1971 ? null : d;
  }

  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const minuteFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

  // timeEl is a <time> showing a local time, with the exact instant as its
  // machine-readable value and tooltip. style: 'short' (no year), 'minute'
  // (no seconds), or full.
  function timeEl(v, style) {
    const d = parseTime(v);
    if (!d) return h('span', { class: 'muted' }, '—');
    const fmt = style === 'short' || style === true ? shortFmt : style === 'minute' ? minuteFmt : dateFmt;
    return h('time', { datetime: d.toISOString(), title: d.toISOString() }, fmt.format(d));
  }

  const UNITS = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];

  // ago is a coarse "how long ago": its largest unit only.
  function ago(v) {
    const d = parseTime(v);
    if (!d) return '';
    const sec = Math.max(0, (Date.now() - d.getTime()) / 1000);
    if (sec < 60) return 'just now';
    const [u, n] = UNITS.find(([, n]) => sec >= n);
    return Math.floor(sec / n) + u + ' ago';
  }

  // fmtDuration renders seconds as the largest unit and the one after it,
  // if not zero: "45s", "12m 5s", "3h", "3h 5m", "2d 4h".
  function fmtDuration(sec) {
    if (sec === null || sec === undefined || !isFinite(sec)) return '—';
    sec = Math.max(0, Math.round(sec));
    const found = UNITS.findIndex(([, n]) => sec >= n);
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

  function noteSeverity(sev) {
    if (sev && !severities.includes(sev)) severities.push(sev);
  }

  function sevIndex(sev) {
    const i = severities.indexOf(sev);
    return i < 0 ? 9 : Math.min(i, 3);
  }

  function sevBadge(sev) {
    noteSeverity(sev);
    return h('span', { class: 'badge sev sev' + sevIndex(sev) }, sev || '—');
  }

  function statusBadge(status) {
    return h('span', { class: 'badge status st-' + (STATUSES.includes(status) ? status : 'unknown') }, status || '—');
  }

  function problemText(e) {
    if (e && e.name === 'ApiError') {
      const p = e.problem || {};
      const what = p.detail || p.title || ('HTTP ' + e.status);
      return p.code ? what + ' (' + p.code + ')' : what;
    }
    return String((e && e.message) || e);
  }

  // slackLink is a link to a Slack message (or thread) by channel and ts;
  // only ids and timestamps of Slack's own shapes make a link.
  function slackURL(channel, ts, threadTS) {
    if (!/^[A-Z0-9]{2,30}$/.test(channel || '') || !/^\d{1,12}\.\d{1,9}$/.test(ts || '')) return null;
    let u = 'https://slack.com/archives/' + channel + '/p' + ts.replace('.', '');
    if (threadTS && /^\d{1,12}\.\d{1,9}$/.test(threadTS) && threadTS !== ts) {
      u += '?thread_ts=' + threadTS + '&cid=' + channel;
    }
    return u;
  }

  function extLink(url, text) {
    return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, text);
  }

  // ---- the API -------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
      this.name = 'ApiError';
      this.status = status;
      this.problem = problem || {};
      this.code = this.problem.code || '';
    }
  }

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; }
  }

  // api calls /api/v1 with the bearer token and returns {status, data}.
  // A non-2xx answer throws an ApiError carrying the problem document; a
  // 401 also signs the user out.
  async function api(method, path, body, signal, extraHeaders) {
    const headers = { Accept: 'application/json, application/problem+json', Authorization: 'Bearer ' + token(), ...extraHeaders };
    const init = { method, headers, signal, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch('/api/v1' + path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, { code: 'network', detail: 'incidentd did not answer (' + e.message + ')' });
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
      const problem = data && typeof data === 'object' ? data : { title: res.statusText, detail: text.slice(0, 300) };
      if (res.status === 401 && path !== '/incidents?limit=1') {
        signOut('Your token was refused; sign in again.');
      }
      throw new ApiError(res.status, problem);
    }
    return { status: res.status, data };
  }

  // idempotencyKey is a fresh random key (crypto.getRandomValues works on
  // plain http too, unlike randomUUID).
  function idempotencyKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return 'web-' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== '' && v !== null && v !== undefined) u.set(k, v);
    }
    const s = u.toString();
    return s ? '?' + s : '';
  }

  // poller runs fn every ms while the page is visible, never two at once;
  // stop() ends it.
  function poller(fn, ms) {
    let timer = null;
    let stopped = false;
    const tick = async () => {
      if (stopped) return;
      if (!document.hidden) {
        try { await fn(); } catch (e) { if (!(e && e.name === 'AbortError')) console.warn('refresh:', e); }
      }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    timer = setTimeout(tick, ms);
    return { stop() { stopped = true; clearTimeout(timer); } };
  }

  // ---- routing -------------------------------------------------------------

  let active = null; // the current view: {stop()}

  function signOut(message) {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* private mode */ }
    signinMessage = message || '';
    if (location.hash !== '#/signin') {
      returnTo = location.hash || '#/';
      location.hash = '#/signin';
    } else route();
  }
  let signinMessage = '';
  let returnTo = '#/'; // where sign-in goes back to after a sign-out

  signoutBtn.addEventListener('click', () => { signOut('Signed out.'); returnTo = '#/'; });

  function route() {
    if (active) { active.stop(); active = null; }
    const hash = location.hash || '#/';
    const signedIn = token() !== '';
    if (signedIn && !policyLoaded) {
      policyLoaded = true;
      loadPolicy().finally(route);
      return;
    }
    nav.hidden = !signedIn;
    signoutBtn.hidden = !signedIn;
    let m;
    if (!signedIn || hash === '#/signin') {
      if (signedIn) { location.hash = '#/'; return; }
      active = viewSignIn(hash === '#/signin' ? returnTo : hash);
      markNav('');
    } else if (hash === '#/' || hash === '#' || hash === '') {
      active = viewList(); markNav('list');
    } else if (hash === '#/declare') {
      active = viewDeclare(); markNav('declare');
    } else if (hash === '#/analytics') {
      active = viewAnalytics(); markNav('analytics');
    } else if (hash === '#/outbox') {
      active = viewOutbox(); markNav('outbox');
    } else if ((m = /^#\/incidents\/([A-Za-z0-9_-]{1,64})$/.exec(hash))) {
      active = viewIncident(m[1]); markNav('');
    } else {
      active = viewNotFound(); markNav('');
    }
  }

  function markNav(name) {
    for (const a of nav.querySelectorAll('a')) {
      if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  // show replaces the main area, sets the document title and moves focus
  // to the page's heading so keyboard and screen-reader users start there.
  function show(title, ...content) {
    document.title = title + ' · incidentd';
    main.replaceChildren(...content.flat());
    const h1 = main.querySelector('h1');
    if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: true }); }
    window.scrollTo(0, 0);
  }

  function viewNotFound() {
    show('Not found', h('h1', null, 'No such page'), h('p', null, h('a', { href: '#/' }, 'Back to the incidents')));
    return { stop() {} };
  }

  // ---- sign-in -------------------------------------------------------------

  function viewSignIn(next) {
    const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-help' });
    const err = h('p', { class: 'error', role: 'alert', id: 'signin-error' }, signinMessage);
    signinMessage = '';
    const btn = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
    const form = h('form', { class: 'card narrow', onsubmit: async (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (!t) { err.textContent = 'Paste a token first.'; input.focus(); return; }
      btn.disabled = true;
      err.textContent = '';
      try { sessionStorage.setItem(TOKEN_KEY, t); } catch (_) { err.textContent = 'This browser does not allow session storage.'; btn.disabled = false; return; }
      try {
        await api('GET', '/incidents?limit=1');
      } catch (e) {
        if (e.status === 401) {
          try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* ignore */ }
          err.textContent = 'That token was refused. Check it and try again.';
          btn.disabled = false;
          input.focus();
          return;
        }
        // Any other answer (views unavailable, say) means the token is
        // good: let the pages say what is wrong.
      }
      const target = next && next !== '#/signin' ? next : '#/';
      if ((location.hash || '#/') === target) route();
      else location.hash = target;
    } },
      h('h1', null, 'Sign in'),
      h('label', { for: 'token' }, 'API token'),
      input,
      h('p', { id: 'token-help', class: 'help' },
        'incidentd run prints a development token when it starts, and keeps it in ',
        h('code', null, 'DATA/ingress/dev-token'),
        '. The token stays in this tab only (session storage) and is sent as a Bearer header.'),
      err,
      h('div', { class: 'row' }, btn));
    show('Sign in', form);
    input.focus();
    return { stop() {} };
  }

  // ---- incidents list ------------------------------------------------------

  // The list's filters survive navigation within the tab.
  const listState = {
    status: '', severity: '', assignee: '', from: '', to: '', q: '', sort: 'open_first',
    cursors: [''], // cursor of each page seen, for Previous
  };
  const PAGE_SIZE = 25;

  // toLocalInput formats a time for a datetime-local input (local time,
  // to the second).
  function toLocalInput(v) {
    const d = parseTime(v);
    if (!d) return '';
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  function localInputToRFC3339(v) {
    if (!v) return '';
    const d = new Date(v);
    return isNaN(d.getTime()) ? '' : d.toISOString();
  }

  function viewList() {
    const ctl = new AbortController();
    const field = (label, id, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
    const select = (id, value, options) => h('select', { id, name: id },
      options.map(([v, t]) => h('option', { value: v, selected: v === value }, t)));

    const fStatus = select('f-status', listState.status, [['', 'Any status'], ['open,acknowledged,mitigated', 'Not resolved'],
      ...STATUSES.map((x) => [x, x[0].toUpperCase() + x.slice(1)])]);
    const fSev = select('f-severity', listState.severity, [['', 'Any severity'], ...severities.map((x) => [x, x])]);
    const fAssignee = h('input', { id: 'f-assignee', type: 'text', value: listState.assignee, placeholder: 'anyone' });
    const fFrom = h('input', { id: 'f-from', type: 'datetime-local', value: listState.from });
    const fTo = h('input', { id: 'f-to', type: 'datetime-local', value: listState.to });
    const fQ = h('input', { id: 'f-q', type: 'search', value: listState.q, placeholder: 'words in the title' });
    const fSort = select('f-sort', listState.sort, [['open_first', 'Open first'], ['newest', 'Newest'], ['oldest', 'Oldest'],
      ['severity', 'Most severe'], ['recent_change', 'Recently changed']]);

    const apply = (ev) => {
      if (ev) ev.preventDefault();
      Object.assign(listState, {
        status: fStatus.value, severity: fSev.value, assignee: fAssignee.value.trim(), from: fFrom.value, to: fTo.value,
        q: fQ.value.trim(), sort: fSort.value, cursors: [''],
      });
      load(true);
    };
    const clear = () => {
      for (const el of [fStatus, fSev, fAssignee, fFrom, fTo, fQ]) el.value = '';
      fSort.value = 'open_first';
      apply();
    };
    for (const el of [fStatus, fSev, fSort]) el.addEventListener('change', apply);

    const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter incidents', onsubmit: apply },
      field('Search', 'f-q', fQ), field('Status', 'f-status', fStatus), field('Severity', 'f-severity', fSev),
      field('Assignee', 'f-assignee', fAssignee), field('Declared from', 'f-from', fFrom), field('to', 'f-to', fTo),
      h('div', { class: 'field buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'),
        h('button', { type: 'button', onclick: clear }, 'Clear')));

    const tbody = h('tbody');
    const table = h('table', { class: 'incidents' },
      h('caption', { class: 'sr-only' }, 'Incidents'),
      h('thead', null, h('tr', null, ['Severity', 'Title', 'Status', 'Commander', 'Assignee', 'Declared', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody);
    const empty = h('p', { class: 'empty', hidden: true });
    const errBox = h('p', { class: 'error', role: 'alert' });
    const updated = h('span', { class: 'muted', 'aria-live': 'off' });
    const prev = h('button', { type: 'button', disabled: true, onclick: () => { listState.cursors.pop(); load(true); } }, '← Previous');
    const next = h('button', { type: 'button', disabled: true }, 'Next →');
    const pageNo = h('span', { class: 'muted' });
    let nextCursor = '';
    next.addEventListener('click', () => { listState.cursors.push(nextCursor); load(true); });

    let lastJSON = '';
    async function load(userAction) {
      const cursor = listState.cursors[listState.cursors.length - 1];
      const params = {
        status: listState.status, severity: listState.severity, assignee: listState.assignee,
        from: localInputToRFC3339(listState.from), to: localInputToRFC3339(listState.to), q: listState.q,
        sort: listState.sort, limit: PAGE_SIZE, cursor,
      };
      try {
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
          // Keep keyboard focus on the same incident across a refresh.
          const focusedRow = tbody.contains(document.activeElement) ? document.activeElement.closest('tr') : null;
          const focusedId = focusedRow && focusedRow.dataset.id;
          tbody.replaceChildren(...rows.map(row));
          if (focusedId) {
            const again = [...tbody.rows].find((r) => r.dataset.id === focusedId);
            const link = again && again.querySelector('a');
            if (link) link.focus({ preventScroll: true });
          }
        }
        empty.hidden = rows.length > 0;
        empty.textContent = listState.cursors.length > 1 ? 'No more incidents.' : 'No incidents match these filters.';
        prev.disabled = listState.cursors.length <= 1;
        next.disabled = nextCursor === '';
        pageNo.textContent = 'Page ' + listState.cursors.length;
        updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
      } catch (e) {
        if (e.name === 'AbortError') return;
        errBox.textContent = 'Could not load the incidents: ' + problemText(e);
      }
    }

    function row(inc) {
      const open = inc.status !== 'resolved';
      return h('tr', { class: open ? 'open' : 'closed', 'data-id': inc.id },
        h('td', null, sevBadge(inc.severity)),
        h('td', { class: 'title' }, h('a', { href: '#/incidents/' + encodeURIComponent(inc.id) }, inc.title || '(untitled)'),
          inc.source && inc.source.kind === 'slack' ? h('span', { class: 'tag', title: 'Declared in Slack' }, 'Slack') : null),
        h('td', null, statusBadge(inc.status)),
        h('td', null, inc.commander || h('span', { class: 'muted' }, '—')),
        h('td', null, inc.assignee || h('span', { class: 'muted' }, '—')),
        h('td', null, timeEl(inc.declared_at, true), h('span', { class: 'sub' }, ago(inc.declared_at))),
        h('td', null, timeEl(inc.updated_at, true)));
    }

    show('Incidents',
      h('div', { class: 'pagehead' }, h('h1', null, 'Incidents'),
        h('div', { class: 'field inline' }, h('label', { for: 'f-sort' }, 'Sort'), fSort),
        h('a', { class: 'button primary', href: '#/declare' }, 'Declare an incident')),
      filters, errBox,
      h('div', { class: 'tablewrap' }, table), empty,
      h('div', { class: 'pager' }, prev, pageNo, next, h('span', { class: 'spacer' }), updated));
    load(true);
    const p = poller(() => load(false), LIST_POLL_MS);
    return { stop() { p.stop(); ctl.abort(); } };
  }

  // ---- declare -------------------------------------------------------------

  function viewDeclare() {
    const ctl = new AbortController();
    const title = h('input', { id: 'd-title', name: 'title', type: 'text', required: true, maxlength: 500, autocomplete: 'off' });
    const sev = h('select', { id: 'd-severity', name: 'severity' },
      h('option', { value: '' }, 'Default (least severe)'),
      severities.map((x) => h('option', { value: x }, x)));
    const err = h('p', { class: 'error', role: 'alert' });
    const btn = h('button', { type: 'submit', class: 'primary' }, 'Declare');
    // One key per attempt that got no definite answer: submitting again
    // after a lost answer (network, 5xx) declares the same incident, not a
    // second one; after a refusal (4xx) the next submit is a new command.
    let key = idempotencyKey();
    const form = h('form', { class: 'card narrow', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!title.value.trim()) { err.textContent = 'A title is required.'; title.focus(); return; }
      btn.disabled = true;
      err.textContent = '';
      try {
        const r = await api('POST', '/incidents?wait=' + WRITE_WAIT, { title: title.value, severity: sev.value }, ctl.signal, { 'Idempotency-Key': key });
        const id = r.data.incident_id;
        pendingVersion.set(id, r.data.version || 1);
        toast(r.status === 200 ? 'Incident declared.' : 'Incident accepted; it will show up in a moment.');
        location.hash = '#/incidents/' + encodeURIComponent(id);
      } catch (e) {
        if (e.name === 'AbortError') return;
        err.textContent = 'Not declared: ' + problemText(e);
        if (e.status >= 400 && e.status < 500) key = idempotencyKey();
        btn.disabled = false;
      }
    } },
      h('h1', null, 'Declare an incident'),
      h('label', { for: 'd-title' }, 'Title'), title,
      h('p', { class: 'help' }, 'What is broken, for whom. You can change it later.'),
      h('label', { for: 'd-severity' }, 'Severity'), sev,
      err,
      h('div', { class: 'row' }, btn, h('a', { href: '#/', class: 'button' }, 'Cancel')));
    show('Declare', form);
    title.focus();
    return { stop() { ctl.abort(); } };
  }

  // pendingVersion remembers, per incident, the version a write of this tab
  // produced, so the incident page asks the view for at least that.
  const pendingVersion = new Map();

  // ---- incident page -------------------------------------------------------

  function viewIncident(id) {
    const ctl = new AbortController();
    const path = '/incidents/' + encodeURIComponent(id);
    let inc = null; // the incident as last shown
    let waitedForFirst = false;
    let busy = false;

    const head = h('div', { class: 'inchead' });
    const facts = h('dl', { class: 'facts' });
    const timeline = h('ol', { class: 'timeline', 'aria-label': 'Timeline, oldest first' });
    const msg = h('div', { class: 'msg', role: 'status', 'aria-live': 'polite' });
    const errBox = h('p', { class: 'error', role: 'alert' });
    const loadErr = h('p', { class: 'error', role: 'alert' });

    // --- actions
    const buttons = [];
    const actButton = (label, cls, fn) => { const b = h('button', { type: 'button', class: cls, onclick: fn }, label); buttons.push(b); return b; };
    const actForm = (label, fields, onsubmit, submitLabel) => {
      const b = h('button', { type: 'submit' }, submitLabel);
      buttons.push(b);
      return h('form', { class: 'action', onsubmit: (ev) => { ev.preventDefault(); onsubmit(); } },
        h('fieldset', null, h('legend', null, label), fields, b));
    };

    // Every status button stays usable whatever the status: the model
    // decides, and a refusal is shown with its reason. The usual next
    // step is highlighted.
    const statusButtons = {
      acknowledge: actButton('Acknowledge', 'st-acknowledged', () => act('acknowledge', {}, 'Acknowledged')),
      mitigate: actButton('Mitigate', 'st-mitigated', () => act('mitigate', {}, 'Mitigated')),
      resolve: actButton('Resolve', 'st-resolved', () => act('resolve', {}, 'Resolved')),
      reopen: actButton('Reopen', 'st-open', () => act('reopen', {}, 'Reopened')),
    };
    const NEXT_STEP = { open: 'acknowledge', acknowledged: 'mitigate', mitigated: 'resolve', resolved: 'reopen' };
    const statusRow = h('div', { class: 'statusrow', role: 'group', 'aria-label': 'Change status' }, Object.values(statusButtons));

    const sevSel = h('select', { id: 'a-severity', name: 'severity' }, severities.map((x) => h('option', { value: x }, x)));
    const titleIn = h('input', { id: 'a-title', name: 'title', type: 'text', maxlength: 500, autocomplete: 'off' });
    const roleSel = h('select', { id: 'a-role', name: 'role' }, h('option', { value: 'commander' }, 'Commander'), h('option', { value: 'assignee' }, 'Assignee'));
    const personIn = h('input', { id: 'a-person', name: 'person', type: 'text', autocomplete: 'off', placeholder: 'person (empty: nobody)' });
    const noteIn = h('textarea', { id: 'a-note', name: 'note', rows: 3 });
    const impactIn = h('input', { id: 'a-impact', name: 'impact', type: 'datetime-local', step: 1 });

    const actions = h('section', { class: 'actions card', 'aria-labelledby': 'actions-h' },
      h('h2', { id: 'actions-h' }, 'Actions'),
      statusRow, msg, errBox,
      actForm('Severity', [h('label', { for: 'a-severity', class: 'sr-only' }, 'Severity'), sevSel],
        () => act('severity', { severity: sevSel.value }, 'Severity changed to ' + sevSel.value), 'Change severity'),
      actForm('Title', [h('label', { for: 'a-title', class: 'sr-only' }, 'Title'), titleIn],
        () => act('title', { title: titleIn.value }, 'Title changed'), 'Save title'),
      actForm('Assign', [h('label', { for: 'a-role', class: 'sr-only' }, 'Role'), roleSel,
        h('label', { for: 'a-person', class: 'sr-only' }, 'Person'), personIn],
      () => act('assign', { role: roleSel.value, person: personIn.value.trim() }, 'Assigned'), 'Assign'),
      actForm('Note', [h('label', { for: 'a-note', class: 'sr-only' }, 'Note'), noteIn],
        () => act('notes', { note: noteIn.value }, 'Note added', () => { noteIn.value = ''; }), 'Add note'),
      actForm('Impact started', [h('label', { for: 'a-impact', class: 'sr-only' }, 'Impact started (your local time)'), impactIn],
        () => {
          const at = localInputToRFC3339(impactIn.value);
          if (!at) { showError('Pick the time the impact started.'); impactIn.focus(); return; }
          act('impact-started', { at }, 'Impact start set');
        }, 'Set'));

    function setBusy(b) {
      busy = b;
      for (const x of buttons) x.disabled = b;
      actions.setAttribute('aria-busy', b ? 'true' : 'false');
    }

    function showError(text) {
      errBox.textContent = text;
      msg.textContent = '';
      toastEl.classList.remove('show'); // an earlier success must not sit beside it
    }

    // act issues one write and waits for its outcome (bounded), then reads
    // the incident at least at the version the write produced, so the page
    // shows the new state at once. A rejection is shown as its reason.
    async function act(route, body, done, onApplied) {
      if (busy) return;
      // Disabling the buttons drops keyboard focus; give it back after.
      const focused = document.activeElement;
      setBusy(true);
      errBox.textContent = '';
      msg.textContent = 'Working…';
      try {
        const r = await api('POST', path + '/' + route + '?wait=' + WRITE_WAIT, body, ctl.signal);
        if (onApplied) onApplied();
        if (r.status === 200) {
          await load(r.data.version || 0);
          msg.textContent = done + '.';
          toast(done + '.');
        } else {
          msg.textContent = 'Accepted; the outcome is not known yet. This page updates when it is.';
        }
      } catch (e) {
        if (e.name === 'AbortError') return;
        const p = e.problem || {};
        const rejected = p.title === 'command rejected' || e.status === 409 || e.status === 422;
        showError((rejected ? 'Rejected: ' : 'Failed: ') + problemText(e));
        // A rejection is an event of the incident's history: show it.
        load(0).catch(() => {});
      } finally {
        if (!ctl.signal.aborted) {
          setBusy(false);
          if (focused && focused.isConnected && (document.activeElement === document.body || document.activeElement === null)) focused.focus();
        }
      }
    }

    // load reads the incident (at least minVersion when > 0) and renders
    // it if it is newer than what is shown.
    async function load(minVersion) {
      let r;
      try {
        r = await api('GET', path + (minVersion > 0 ? '?min_version=' + minVersion : ''), undefined, ctl.signal);
      } catch (e) {
        if (e.name === 'AbortError') return;
        if (e.status === 404 && !inc) {
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
        loadErr.textContent = e.code === 'view_behind'
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

    // since is how long from the impact start (or the declaration, as the
    // analytics count it) to t.
    function since(x, t) {
      const end = parseTime(t);
      const start = parseTime(x.impact_started_at) || parseTime(x.declared_at);
      if (!end || !start) return h('span', { class: 'muted' }, '—');
      return fmtDuration((end.getTime() - start.getTime()) / 1000);
    }

    function render(x, events) {
      noteSeverity(x.severity);
      document.title = x.title + ' · incidentd';
      const slack = x.source && x.source.kind === 'slack' ? slackURL(x.source.channel, x.source.thread_ts) : null;
      head.replaceChildren(
        h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Incidents'), ' / ', h('code', null, x.id)),
        h('h1', { id: 'inc-title' }, x.title || '(untitled)'),
        h('div', { class: 'badges' }, sevBadge(x.severity), statusBadge(x.status),
          h('span', { class: 'muted' }, 'version ' + x.version),
          slack ? extLink(slack, 'Slack thread ↗') : null));
      const fact = (k, v) => [h('dt', null, k), h('dd', null, v)];
      facts.replaceChildren(
        ...fact('Declared', [timeEl(x.declared_at, 'minute'), x.reporter ? ' by ' + x.reporter : '']),
        ...fact('Impact started', timeEl(x.impact_started_at, 'minute')),
        ...fact('Acknowledged', timeEl(x.acknowledged_at, 'minute')),
        ...fact('Mitigated', timeEl(x.mitigated_at, 'minute')),
        ...fact('Resolved', timeEl(x.resolved_at, 'minute')),
        ...fact('Commander', x.commander || h('span', { class: 'muted' }, 'nobody')),
        ...fact('Assignee', x.assignee || h('span', { class: 'muted' }, 'nobody')),
        ...fact('Source', x.source && x.source.kind === 'slack'
          ? ['Slack', x.source.channel ? ' #' + x.source.channel : '', slack ? [' · ', extLink(slack, 'open thread')] : '']
          : 'Dashboard / API'),
        ...fact('Notes · pins', (x.notes || 0) + ' · ' + (x.pins || 0)),
        ...fact('Acknowledged after', since(x, x.acknowledged_at)),
        ...fact('Resolved after', since(x, x.resolved_at)));
      timeline.replaceChildren(...events.map(eventItem));
      if (events.length === 0) timeline.append(h('li', { class: 'muted' }, 'No events yet.'));
      // Keep what someone is typing; otherwise show the current values.
      if (document.activeElement !== sevSel) {
        if (![...sevSel.options].some((o) => o.value === x.severity)) sevSel.append(h('option', { value: x.severity }, x.severity));
        sevSel.value = x.severity;
      }
      if (document.activeElement !== titleIn) titleIn.value = x.title;
      if (document.activeElement !== impactIn) impactIn.value = toLocalInput(x.impact_started_at);
      for (const [k, b] of Object.entries(statusButtons)) b.classList.toggle('next', NEXT_STEP[x.status] === k);
    }

    const COMMAND_VERB = {
      declare: 'declare', set_severity: 'change the severity', set_title: 'change the title', assign: 'assign',
      acknowledge: 'acknowledge', mitigate: 'mitigate', resolve: 'resolve', reopen: 'reopen', add_note: 'add a note',
      pin_message: 'pin a message', set_impact_started: 'set the impact start', record_slack_message: 'record a Slack message',
    };

    function eventItem(e) {
      let what;
      let extra = null;
      const actor = e.actor || 'someone';
      switch (e.kind) {
        case 'declared':
          what = ['declared ', h('q', null, e.title), ' as ', sevBadge(e.severity)]; break;
        case 'severity_changed':
          what = ['changed the severity to ', sevBadge(e.severity)]; break;
        case 'title_changed':
          what = ['renamed the incident to ', h('q', null, e.title)]; break;
        case 'assigned':
          what = e.person ? ['made ', h('strong', null, e.person), ' ' + (e.role || 'assignee')] : ['removed the ' + (e.role || 'assignee')]; break;
        case 'acknowledged': case 'mitigated': case 'resolved': case 'reopened':
          what = [e.kind, ' the incident ', statusBadge(e.status || (e.kind === 'reopened' ? 'open' : e.kind))]; break;
        case 'note_added':
          what = ['added a note'];
          extra = h('blockquote', { class: 'note' }, e.note);
          break;
        case 'message_pinned': {
          const m = e.message || {};
          const url = slackURL(m.channel, m.ts);
          what = ['pinned a Slack message'];
          extra = h('blockquote', { class: 'pin' },
            h('div', { class: 'pinmeta' }, m.author ? h('strong', null, m.author) : 'unknown author', ' · written ', timeEl(m.at),
              url ? [' · ', extLink(url, 'in Slack ↗')] : null),
            h('div', { class: 'pintext' }, m.text || ''));
          break;
        }
        case 'impact_started_set':
          what = ['set the impact start to ', timeEl(e.impact_started)]; break;
        case 'slack_message_recorded': {
          const m = e.message || {};
          const url = slackURL(m.channel, m.ts);
          what = [m.channel === 'outbox' ? 'posted the incident card (to the local outbox: Slack is not configured)' : 'posted the incident card in Slack',
            url ? [' · ', extLink(url, 'open ↗')] : null];
          break;
        }
        case 'rejected': {
          const rj = e.rejection || {};
          what = ['tried to ' + (COMMAND_VERB[e.command_kind] || e.command_kind || 'do something') + ': ', h('strong', { class: 'rej' }, 'rejected')];
          extra = h('p', { class: 'rejection' }, rj.reason || '', rj.code ? h('code', null, rj.code) : null);
          break;
        }
        default:
          what = [e.kind];
      }
      return h('li', { class: 'ev ev-' + (e.kind || 'unknown').replace(/[^a-z_]/g, ''), 'data-version': e.version },
        h('div', { class: 'evline' },
          h('span', { class: 'when' }, timeEl(e.at)),
          h('span', { class: 'who' }, actor),
          h('span', { class: 'what' }, what),
          h('span', { class: 'ver', title: 'version' }, 'v' + e.version)),
        extra);
    }

    const notFound = h('div', { hidden: true },
      h('h1', null, 'Incident not found'),
      h('p', null, 'There is no incident ', h('code', null, id), ' that your token can see.'),
      h('p', null, h('a', { href: '#/' }, 'Back to the incidents')));
    const page = h('div', { class: 'incident' },
      h('div', { class: 'incmain' }, head, loadErr, facts,
        h('section', { 'aria-labelledby': 'tl-h' }, h('h2', { id: 'tl-h' }, 'Timeline'), timeline)),
      actions);
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

  // ---- analytics -----------------------------------------------------------
  //
  // The charts are SVG drawn by this file. A charting library would be the
  // larger part of the page's code, would need a build step or a vendored
  // bundle, and would bring inline styles the Content-Security-Policy
  // refuses; the four chart shapes needed here (bars, stacked bars, lines,
  // tiles) take a few dozen lines each. Every chart has a text title, an
  // aria-label and its numbers in a table below it, so nothing is only a
  // picture.

  const RANGES = [
    ['24h', 'Last 24 hours', 24 * 3600, 3600],
    ['7d', 'Last 7 days', 7 * 86400, 86400],
    ['30d', 'Last 30 days', 30 * 86400, 86400],
    ['90d', 'Last 90 days', 90 * 86400, 7 * 86400],
  ];
  let analyticsRange = '7d';

  function niceMax(v) {
    if (!(v > 0)) return 1;
    if (v <= 1) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // niceDurationMax rounds seconds up to a readable axis top.
  function niceDurationMax(v) {
    const steps = [10, 30, 60, 300, 600, 1800, 3600, 7200, 4 * 3600, 8 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400];
    for (const x of steps) if (x >= v) return x;
    return niceMax(v);
  }

  function dataTable(caption, head, rows) {
    return h('details', { class: 'datatable' }, h('summary', null, 'Numbers: ' + caption),
      h('table', null, h('thead', null, h('tr', null, head.map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => i === 0 ? h('th', { scope: 'row' }, c) : h('td', null, c)))))));
  }

  function chartCard(title, desc, svgEl, table) {
    return h('figure', { class: 'chart card' }, h('figcaption', null, h('h2', null, title), desc ? h('p', { class: 'help' }, desc) : null), svgEl, table);
  }

  function legend(items) {
    return h('ul', { class: 'legend' }, items.map(([cls, text]) => h('li', null, h('span', { class: 'swatch ' + cls, 'aria-hidden': 'true' }), text)));
  }

  // barsBySeverity: for each severity, an MTTA bar and an MTTR bar,
  // horizontal, sharing one duration axis.
  function barsBySeverity(stats) {
    const W = 560; const rowH = 44; const left = 64; const right = 70; const top = 8;
    const H = top + stats.length * rowH + 24;
    const max = niceDurationMax(Math.max(1, ...stats.flatMap((x) => [x.mtta_seconds || 0, x.mttr_seconds || 0])));
    const x = (v) => left + (W - left - right) * (v / max);
    const g = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Mean time to acknowledge and to resolve, by severity', class: 'svgchart' });
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      g.append(s('line', { x1: x(v), x2: x(v), y1: top, y2: H - 20, class: 'grid' }),
        s('text', { x: x(v), y: H - 6, class: 'tick', 'text-anchor': 'middle' }, fmtDuration(v)));
    }
    stats.forEach((st, i) => {
      const y = top + i * rowH;
      g.append(s('text', { x: left - 8, y: y + rowH / 2 + 4, class: 'label', 'text-anchor': 'end' }, st.severity || 'all'));
      const bar = (v, dy, cls, name) => {
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

  function bucketLabel(iso, bucketSec) {
    const d = parseTime(iso);
    if (!d) return '';
    if (bucketSec < 86400) return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  }

  // xLabels picks at most ~8 bucket labels so they never overlap.
  function everyNth(n) { return Math.max(1, Math.ceil(n / 8)); }

  // stackedDeclared: per bucket, a bar of incidents declared stacked by
  // severity, and the incidents resolved as a line over it.
  function stackedDeclared(buckets, bucketSec) {
    const W = 640; const H = 240; const left = 36; const right = 12; const top = 10; const bottom = 28;
    const n = Math.max(1, buckets.length);
    const totals = buckets.map((b) => Object.values(b.declared || {}).reduce((a, c) => a + c, 0));
    // Counts get whole-number ticks: four steps of a round size.
    const max = 4 * Math.max(1, niceMax(Math.max(...totals, ...buckets.map((b) => b.resolved || 0), 1) / 4));
    const bw = (W - left - right) / n;
    const y = (v) => H - bottom - (H - top - bottom) * (v / max);
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

  // linesOverTime: MTTA and MTTR per bucket; a bucket without a figure
  // (nothing acknowledged or resolved) breaks the line instead of
  // pretending to be zero.
  function linesOverTime(buckets, bucketSec) {
    const W = 640; const H = 240; const left = 56; const right = 12; const top = 10; const bottom = 28;
    const n = Math.max(1, buckets.length);
    const max = niceDurationMax(Math.max(1, ...buckets.flatMap((b) => [b.mtta_seconds || 0, b.mttr_seconds || 0])));
    const bw = (W - left - right) / n;
    const cx = (i) => left + i * bw + bw / 2;
    const y = (v) => H - bottom - (H - top - bottom) * (v / max);
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
    for (const [key, cls, name] of [['mtta_seconds', 'c-mtta', 'MTTA'], ['mttr_seconds', 'c-mttr', 'MTTR']]) {
      let run = [];
      const flush = () => { if (run.length > 1) g.append(s('polyline', { points: run.join(' '), class: 'line ' + cls })); run = []; };
      buckets.forEach((b, i) => {
        const v = b[key];
        if (v > 0) {
          run.push(`${cx(i)},${y(v)}`);
          g.append(s('circle', { cx: cx(i), cy: y(v), r: 3.5, class: 'dot ' + cls }, s('title', null, `${bucketLabel(b.start, bucketSec)}: ${name} ${fmtDuration(v)}`)));
        } else flush();
      });
      flush();
    }
    return g;
  }

  // openAtEnd derives, for each bucket, how many incidents were open at
  // its end: open now, minus those declared after it, plus those resolved
  // after it. (Resolved counts an incident's latest resolution, so an
  // incident resolved, reopened and still open is missed at its first
  // resolution: an approximation, labelled as one.)
  function openAtEnd(buckets, openNow) {
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

  // openOverTime draws openAtEnd as an area.
  function openOverTime(buckets, values, bucketSec) {
    const W = 640; const H = 240; const left = 36; const right = 12; const top = 10; const bottom = 28;
    const n = Math.max(1, buckets.length);
    const max = 4 * Math.max(1, niceMax(Math.max(...values, 1) / 4));
    const bw = (W - left - right) / n;
    const cx = (i) => left + i * bw + bw / 2;
    const y = (v) => H - bottom - (H - top - bottom) * (v / max);
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

  // openNowBars: one horizontal bar per severity of the incidents open now.
  function openNowBars(bySev) {
    const entries = severities.map((sv) => [sv, (bySev || {})[sv] || 0]).concat(
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

  function viewAnalytics() {
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
        const { data } = await api('GET', '/analytics' + qs({ from: from.toISOString(), to: to.toISOString(), bucket: bucket + 's' }), undefined, ctl.signal);
        if (ctl.signal.aborted) return;
        errBox.textContent = '';
        updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
        const j = JSON.stringify(data);
        if (j === lastJSON) return;
        lastJSON = j;
        render(data || {}, bucket);
      } catch (e) {
        if (e.name === 'AbortError') return;
        errBox.textContent = 'Could not load analytics: ' + problemText(e);
      }
    }

    function render(a, bucketFallback) {
      const bucketSec = a.bucket_seconds || bucketFallback;
      const bySev = (a.by_severity || []).slice();
      for (const x of bySev) noteSeverity(x.severity);
      bySev.sort((p, q) => sevIndex(p.severity) - sevIndex(q.severity));
      const overall = a.overall || {};
      const buckets = a.buckets || [];
      const tile = (label, value, sub, cls) => h('div', { class: 'tile ' + (cls || '') }, h('div', { class: 'tlabel' }, label), h('div', { class: 'tvalue' }, value), sub ? h('div', { class: 'tsub' }, sub) : null);
      const tiles = h('section', { class: 'tiles', 'aria-label': 'Summary' },
        h('div', { class: 'tile open-now' }, h('div', { class: 'tlabel' }, 'Open now'), h('div', { class: 'tvalue' + (a.open_now ? '' : ' zero'), id: 'open-now' }, String(a.open_now || 0)),
          openNowBars(a.open_now_by_severity)),
        tile('MTTA', fmtDuration(overall.acknowledged ? overall.mtta_seconds : null), (overall.acknowledged || 0) + ' acknowledged', 'mtta'),
        tile('MTTR', fmtDuration(overall.resolved ? overall.mttr_seconds : null), (overall.resolved || 0) + ' resolved', 'mttr'),
        tile('Declared', String(overall.declared || 0), 'in this range'));
      const sevRows = bySev.length ? bySev : [];
      const openEnd = openAtEnd(buckets, a.open_now || 0);
      body.replaceChildren(
        tiles,
        h('div', { class: 'charts' },
          chartCard('MTTA and MTTR by severity', 'Mean time from impact start (or declaration) to the first acknowledgement, and to resolution.',
            sevRows.length ? barsBySeverity(sevRows) : h('p', { class: 'empty' }, 'No incidents declared in this range.'),
            [legend([['c-mtta', 'MTTA'], ['c-mttr', 'MTTR']]),
              dataTable('by severity', ['Severity', 'Declared', 'Acknowledged', 'Resolved', 'MTTA', 'MTTR'],
                sevRows.concat([Object.assign({}, overall, { severity: 'All' })]).map((x) => [x.severity || 'All', x.declared || 0, x.acknowledged || 0, x.resolved || 0,
                  x.acknowledged ? fmtDuration(x.mtta_seconds) : '—', x.resolved ? fmtDuration(x.mttr_seconds) : '—']))]),
          chartCard('Declared and resolved over time', 'Bars: incidents declared in each interval, by severity. Line: incidents resolved.',
            stackedDeclared(buckets, bucketSec),
            [legend(severities.slice(0, 4).map((x) => ['sevfill sev' + sevIndex(x), x]).concat([['c-resolved', 'Resolved']])),
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
                buckets.map((b) => [bucketLabel(b.start, bucketSec), b.mtta_seconds > 0 ? fmtDuration(b.mtta_seconds) : '—', b.mttr_seconds > 0 ? fmtDuration(b.mttr_seconds) : '—']))])));
    }

    show('Analytics',
      h('div', { class: 'pagehead' }, h('h1', null, 'Analytics'),
        h('div', { class: 'field inline' }, h('label', { for: 'an-range' }, 'Range'), rangeSel), updated),
      errBox, body);
    load();
    const p = poller(load, ANALYTICS_POLL_MS);
    return { stop() { p.stop(); ctl.abort(); } };
  }

  // ---- Slack outbox ----------------------------------------------------------

  const EMOJI = {
    rotating_light: '🚨', white_check_mark: '✅', warning: '⚠️', fire: '🔥', pushpin: '📌', eyes: '👀',
    large_green_circle: '🟢', large_yellow_circle: '🟡', large_orange_circle: '🟠', red_circle: '🔴', memo: '📝',
    hammer_and_wrench: '🛠️', arrows_counterclockwise: '🔄', bust_in_silhouette: '👤', clock3: '🕒',
  };

  // mrkdwn renders the little of Slack's mrkdwn a preview needs: *bold*,
  // _italic_, `code`, known :emoji:, Slack's <url|label> links and
  // <@U123>-style mentions as their text, and Slack's &lt; &gt; &amp;
  // escapes. The result is text nodes and <strong>, <em> and <code>
  // elements only.
  function mrkdwn(text) {
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

  // control is how a Block Kit interactive element looks in the preview.
  function control(e, txt) {
    if (e.type === 'button') return h('span', { class: 'b-button' + (e.style ? ' ' + String(e.style).replace(/[^a-z]/g, '') : '') }, e.text ? txt(e.text) : 'button');
    const what = e.placeholder ? txt(e.placeholder) : ({ users_select: 'Choose a person', static_select: 'Choose', datepicker: 'Pick a date' }[e.type] || e.type || 'control');
    return h('span', { class: 'b-button b-select' }, what, ' ▾');
  }

  // blockPreview renders Slack Block Kit blocks roughly as Slack would:
  // text stays text (bold and emoji only, see mrkdwn), buttons are shown,
  // not clickable.
  function blockPreview(blocks) {
    if (!Array.isArray(blocks)) return null;
    const txt = (t) => mrkdwn((t && typeof t === 'object' ? t.text : t) || '');
    return h('div', { class: 'blocks' }, blocks.map((b) => {
      switch (b && b.type) {
        case 'header': return h('div', { class: 'b-header' }, txt(b.text));
        case 'divider': return h('hr');
        case 'section': return h('div', { class: 'b-section' }, b.text ? h('div', { class: 'b-text' }, txt(b.text)) : null,
          Array.isArray(b.fields) ? h('div', { class: 'b-fields' }, b.fields.map((f) => h('div', null, txt(f)))) : null);
        case 'context': return h('div', { class: 'b-context' }, (b.elements || []).map((e) => h('span', null, txt(e))));
        case 'actions': return h('div', { class: 'b-actions' }, (b.elements || []).map((e) => control(e || {}, txt)));
        default: return h('div', { class: 'b-other muted' }, '[' + ((b && b.type) || 'block') + ']');
      }
    }));
  }

  function viewOutbox() {
    const ctl = new AbortController();
    const list = h('ol', { class: 'outbox' });
    const errBox = h('p', { class: 'error', role: 'alert' });
    const empty = h('p', { class: 'empty', hidden: true }, 'Nothing in the outbox yet. Declare an incident and the notifier will "post" its card here.');
    const updated = h('span', { class: 'muted' });
    let lastJSON = '';
    async function load() {
      try {
        const { data } = await api('GET', '/outbox', undefined, ctl.signal);
        if (ctl.signal.aborted) return;
        errBox.textContent = '';
        updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
        const entries = Array.isArray(data) ? data : ((data && (data.entries || data.messages || data.outbox)) || []);
        empty.hidden = entries.length > 0;
        const j = JSON.stringify(entries);
        if (j === lastJSON) return;
        lastJSON = j;
        list.replaceChildren(...entries.map((e) => h('li', { class: 'card outmsg' },
          h('div', { class: 'outhead' },
            h('code', { class: 'method' }, e.method || 'chat.postMessage'),
            e.channel ? h('span', null, 'to ', h('code', null, e.channel)) : null,
            e.thread_ts ? h('span', { class: 'muted' }, 'in thread ' + e.thread_ts) : null,
            e.user ? h('span', { class: 'muted' }, 'visible to ' + e.user) : null,
            h('span', { class: 'spacer' }),
            e.incident_id ? h('a', { href: '#/incidents/' + encodeURIComponent(e.incident_id) }, e.incident_id) : null,
            timeEl(e.time)),
          e.text ? h('p', { class: 'outtext' }, mrkdwn(e.text)) : null,
          blockPreview(e.blocks))));
      } catch (e) {
        if (e.name === 'AbortError') return;
        errBox.textContent = e.status === 404
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

  window.addEventListener('hashchange', route);
  window.addEventListener('storage', (ev) => { if (ev.key === TOKEN_KEY) route(); });
  route();
}());
