// @ts-check
// Shared DOM helpers: the only way the dashboard makes elements.
//
// Every piece of data reaches the page through textContent or an attribute
// set with setAttribute; innerHTML is never used, so a title such as
// "<img onerror=...>" stays text.

/**
 * A child of an element: nodes as they are, strings and numbers as text;
 * null, undefined and false are skipped, arrays flattened.
 * @typedef {Node | string | number | null | undefined | false | ChildList} Child
 */
/** @typedef {Child[]} ChildList */

/**
 * Attributes of h and s: "class", "for", aria-* and data-* go through
 * setAttribute; "on*" functions become listeners; value, checked,
 * disabled, hidden and selected are set as properties. null, undefined
 * and false leave the attribute out.
 * @typedef {Record<string, unknown> | null | undefined} Attrs
 */

/**
 * A page of the application, running until stop() (which cancels its
 * requests and timers).
 * @typedef {{ stop(): void }} View
 */

/**
 * h builds an HTML element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';

/**
 * s builds an SVG element, the same way.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function s(tag, attrs, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVGNS, tag));
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected']);

/**
 * @param {Element} el
 * @param {Attrs} attrs
 */
function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    } else if (PROPS.has(k)) {
      /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * byId returns the page's element with that id, which index.html has.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error('index.html has no #' + id);
  return el;
}

const toastEl = byId('toast');
/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;

/**
 * toast says something briefly in a polite live region.
 * @param {string} text
 */
export function toast(text) {
  toastEl.textContent = text;
  toastEl.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toastEl.classList.remove('show'), 4000);
}

/** hideToast takes a toast away at once (an error must not sit beside an earlier success). */
export function hideToast() {
  toastEl.classList.remove('show');
}

const main = byId('main');

/**
 * show replaces the main area, sets the document title and moves focus to
 * the page's heading so keyboard and screen-reader users start there.
 * @param {string} title
 * @param {...(Node | Node[])} content
 */
export function show(title, ...content) {
  document.title = title + ' · incidentd';
  main.replaceChildren(...content.flat());
  const h1 = main.querySelector('h1');
  if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: true }); }
  window.scrollTo(0, 0);
}

/**
 * poller runs fn every ms while the page is visible, never two at once;
 * stop() ends it.
 * @param {() => Promise<unknown>} fn
 * @param {number} ms
 * @returns {View}
 */
export function poller(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await fn(); } catch (e) { if (!(e instanceof Error && e.name === 'AbortError')) console.warn('refresh:', e); }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return { stop() { stopped = true; clearTimeout(timer); } };
}
