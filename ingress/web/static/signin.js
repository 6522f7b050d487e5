// @ts-check
// The sign-in page: the user pastes an API token, which is checked with one
// read before it is kept.
import { api, ApiError, clearToken, setToken, SIGNIN_CHECK } from './api.js';
import { h, show } from './dom.js';

/**
 * @param {string} message what to say first (why the user is here), or ''
 * @param {() => void} signedIn called once the token is kept
 * @returns {import('./dom.js').View}
 */
export function viewSignIn(message, signedIn) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-help' });
  const err = h('p', { class: 'error', role: 'alert', id: 'signin-error' }, message);
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  /** @param {SubmitEvent} ev */
  const submit = async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    if (!t) { err.textContent = 'Paste a token first.'; input.focus(); return; }
    btn.disabled = true;
    err.textContent = '';
    if (!setToken(t)) { err.textContent = 'This browser does not allow session storage.'; btn.disabled = false; return; }
    try {
      await api('GET', SIGNIN_CHECK);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        clearToken();
        err.textContent = 'That token was refused. Check it and try again.';
        btn.disabled = false;
        input.focus();
        return;
      }
      // Any other answer (views unavailable, say) means the token is
      // good: let the pages say what is wrong.
    }
    signedIn();
  };
  const form = h('form', { class: 'card narrow', onsubmit: submit },
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
