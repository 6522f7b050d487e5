// @ts-check
// The declare page: POST /api/v1/incidents, then the new incident's page.
import { api, ApiError, idempotencyKey, isAbort, problemText, WRITE_WAIT } from './api.js';
import { h, show, toast } from './dom.js';
import { expectVersion } from './incident.js';
import { severities } from './policy.js';

/** @returns {import('./dom.js').View} */
export function viewDeclare() {
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
  /** @param {SubmitEvent} ev */
  const submit = async (ev) => {
    ev.preventDefault();
    if (!title.value.trim()) { err.textContent = 'A title is required.'; title.focus(); return; }
    btn.disabled = true;
    err.textContent = '';
    try {
      /** @type {{ status: number, data: import('./api.js').WriteResult }} */
      const r = await api('POST', '/incidents?wait=' + WRITE_WAIT, { title: title.value, severity: sev.value }, ctl.signal, { 'Idempotency-Key': key });
      const id = r.data.incident_id;
      expectVersion(id, r.data.version || 1);
      toast(r.status === 200 ? 'Incident declared.' : 'Incident accepted; it will show up in a moment.');
      location.hash = '#/incidents/' + encodeURIComponent(id);
    } catch (e) {
      if (isAbort(e)) return;
      err.textContent = 'Not declared: ' + problemText(e);
      if (e instanceof ApiError && e.status >= 400 && e.status < 500) key = idempotencyKey();
      btn.disabled = false;
    }
  };
  const form = h('form', { class: 'card narrow', onsubmit: submit },
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
