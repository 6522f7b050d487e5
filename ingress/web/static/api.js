// @ts-check
// The API client: every call to /api/v1 goes through api().
//
// The API token lives in sessionStorage and goes out only as an
// Authorization header on same-origin fetches (see ../doc.go for why that
// leaves cross-site request forgery nothing to ride on).

/**
 * The problem document (RFC 9457) of a refused request.
 * @typedef {{ title?: string, detail?: string, code?: string, request_id?: string }} Problem
 */

/**
 * Where an incident was declared.
 * @typedef {{ kind?: string, team?: string, channel?: string, thread_ts?: string }} Source
 */

/**
 * An incident as the read model has it.
 * @typedef {{
 *   id: string, version: number, title: string, severity: string, status: string,
 *   reporter?: string, commander?: string, assignee?: string, source?: Source,
 *   declared_at?: string, impact_started_at?: string, acknowledged_at?: string,
 *   mitigated_at?: string, resolved_at?: string, updated_at?: string,
 *   notes?: number, pins?: number,
 * }} Incident
 */

/**
 * A Slack message an event refers to.
 * @typedef {{ channel?: string, ts?: string, author?: string, text?: string, at?: string }} SlackMessage
 */

/**
 * One event of an incident's timeline.
 * @typedef {{
 *   version: number, kind: string, at?: string, actor?: string, title?: string, severity?: string,
 *   status?: string, role?: string, person?: string, note?: string, message?: SlackMessage,
 *   impact_started?: string, command_kind?: string, rejection?: { code?: string, reason?: string },
 * }} IncidentEvent
 */

/**
 * @typedef {{ incidents?: Incident[], next_cursor?: string }} IncidentPage
 * @typedef {{ incident?: Incident, events?: IncidentEvent[] }} IncidentDetail
 * @typedef {{ incident_id: string, command_id?: string, version?: number }} WriteResult
 */

const TOKEN_KEY = 'incidentd.token';

/** How long a write asks the server to wait for its outcome. */
export const WRITE_WAIT = '5s';

/** The sign-in check's path: a 401 there is the answer, not a sign-out. */
export const SIGNIN_CHECK = '/incidents?limit=1';

/** ApiError is a non-2xx answer, with its problem document. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem | null} problem
   */
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
    this.name = 'ApiError';
    this.status = status;
    /** @type {Problem} */
    this.problem = problem || {};
    this.code = this.problem.code || '';
  }
}

/** @returns {string} the stored token, or '' */
export function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; }
}

/**
 * setToken stores the token for this tab; false when the browser refuses.
 * @param {string} t
 * @returns {boolean}
 */
export function setToken(t) {
  try { sessionStorage.setItem(TOKEN_KEY, t); return true; } catch (_) { return false; }
}

export function clearToken() {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* private mode */ }
}

/**
 * isTokenChange tells a storage event about the token (another tab signed
 * in or out).
 * @param {StorageEvent} ev
 */
export function isTokenChange(ev) { return ev.key === TOKEN_KEY; }

/** @type {(message: string) => void} */
let unauthorized = () => {};

/**
 * onUnauthorized sets what a 401 does (the router signs the user out).
 * @param {(message: string) => void} fn
 */
export function onUnauthorized(fn) { unauthorized = fn; }

/**
 * api calls /api/v1 with the bearer token and returns {status, data}. A
 * non-2xx answer throws an ApiError carrying the problem document; a 401
 * also signs the user out.
 * @template [T=any]
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {AbortSignal} [signal]
 * @param {Record<string, string>} [extraHeaders]
 * @returns {Promise<{ status: number, data: T }>}
 */
export async function api(method, path, body, signal, extraHeaders) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json, application/problem+json', Authorization: 'Bearer ' + token(), ...extraHeaders };
  /** @type {RequestInit} */
  const init = { method, headers, signal, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError') throw e;
    throw new ApiError(0, { code: 'network', detail: 'incidentd did not answer (' + (e instanceof Error ? e.message : String(e)) + ')' });
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    const problem = data && typeof data === 'object' ? data : { title: res.statusText, detail: text.slice(0, 300) };
    if (res.status === 401 && path !== SIGNIN_CHECK) {
      unauthorized('Your token was refused; sign in again.');
    }
    throw new ApiError(res.status, problem);
  }
  return { status: res.status, data };
}

/**
 * isAbort tells a request cancelled by its view from a failure.
 * @param {unknown} e
 */
export function isAbort(e) {
  return e instanceof Error && e.name === 'AbortError';
}

/**
 * problemText is what a failed call says to the user: the problem's
 * detail (or title) and its code.
 * @param {unknown} e
 * @returns {string}
 */
export function problemText(e) {
  if (e instanceof ApiError) {
    const p = e.problem;
    const what = p.detail || p.title || ('HTTP ' + e.status);
    return p.code ? what + ' (' + p.code + ')' : what;
  }
  return String((e instanceof Error && e.message) || e);
}

/**
 * idempotencyKey is a fresh random key (crypto.getRandomValues works on
 * plain http too, unlike randomUUID).
 */
export function idempotencyKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'web-' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * qs is a query string ("?a=1&b=2") of the params that are not empty.
 * @param {Record<string, string | number | null | undefined>} params
 */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v !== null && v !== undefined) u.set(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}
