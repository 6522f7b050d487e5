// @ts-check
// Routing by the URL fragment (#/incidents/ID, #/?status=open), so the
// server only ever serves "/" and the static files. One view runs at a
// time; a new route stops the last one.
import { clearToken, isTokenChange, onUnauthorized, token } from './api.js';
import { byId, h, show } from './dom.js';
import { loadPolicy } from './policy.js';
import { viewSignIn } from './signin.js';
import { viewList } from './list.js';
import { viewDeclare } from './declare.js';
import { viewIncident } from './incident.js';
import { viewAnalytics } from './analytics.js';
import { viewOutbox } from './outbox.js';

const nav = byId('nav');
const signoutBtn = byId('signout');

/** @type {import('./dom.js').View | null} */
let active = null;
let policyLoaded = false;
let signinMessage = '';
let returnTo = '#/'; // where sign-in goes back to after a sign-out

/**
 * signOut forgets the token and shows the sign-in page with message; after
 * signing in again the user is back where they were.
 * @param {string} message
 */
function signOut(message) {
  clearToken();
  signinMessage = message || '';
  if (location.hash !== '#/signin') {
    returnTo = location.hash || '#/';
    location.hash = '#/signin';
  } else route();
}

/**
 * splitHash splits a fragment into its path and its query:
 * "#/?status=open" is ["#/", URLSearchParams{status: open}].
 * @param {string} hash
 * @returns {[string, URLSearchParams]}
 */
export function splitHash(hash) {
  const i = hash.indexOf('?');
  if (i < 0) return [hash, new URLSearchParams()];
  return [hash.slice(0, i), new URLSearchParams(hash.slice(i + 1))];
}

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
  const [path, query] = splitHash(hash);
  let m;
  if (!signedIn || path === '#/signin') {
    if (signedIn) { location.hash = '#/'; return; }
    const next = path === '#/signin' ? returnTo : hash;
    const message = signinMessage;
    signinMessage = '';
    active = viewSignIn(message, () => {
      const target = next && next !== '#/signin' ? next : '#/';
      if ((location.hash || '#/') === target) route();
      else location.hash = target;
    });
    markNav('');
  } else if (path === '#/' || path === '#' || path === '') {
    active = viewList(query); markNav('list');
  } else if (path === '#/declare') {
    active = viewDeclare(); markNav('declare');
  } else if (path === '#/analytics') {
    active = viewAnalytics(); markNav('analytics');
  } else if (path === '#/outbox') {
    active = viewOutbox(); markNav('outbox');
  } else if ((m = /^#\/incidents\/([A-Za-z0-9_-]{1,64})$/.exec(path))) {
    active = viewIncident(m[1]); markNav('');
  } else {
    active = viewNotFound(); markNav('');
  }
}

/** @param {string} name the data-nav of the current page's link, or '' */
function markNav(name) {
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** @returns {import('./dom.js').View} */
function viewNotFound() {
  show('Not found', h('h1', null, 'No such page'), h('p', null, h('a', { href: '#/' }, 'Back to the incidents')));
  return { stop() {} };
}

/** start routes the current URL and every later change of it. */
export function start() {
  onUnauthorized(signOut);
  signoutBtn.addEventListener('click', () => { signOut('Signed out.'); returnTo = '#/'; });
  window.addEventListener('hashchange', route);
  window.addEventListener('storage', (ev) => { if (isTokenChange(ev)) route(); });
  route();
}
