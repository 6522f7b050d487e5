// Package web is the incidentd dashboard: a small single-page application
// (plain HTML, CSS and JavaScript as native ES modules, no build step)
// embedded into the binary and served by ingress at "/", beside the JSON API
// it reads and writes through (/api/v1). The modules (static/*.js, one per
// concern, app.js the entry) carry JSDoc types that tsc checks ("make
// test-web", tsconfig.json here).
//
// # What it serves
//
// Handler serves the embedded files under static/: "/" is index.html, and
// the modules, style sheet and icon by their names, and /incidents/ID (the
// link on an incident's Slack card) redirects to /#/incidents/ID. Anything
// else is 404: the application routes with the URL fragment
// (#/incidents/ID), so the server never has to guess which paths are pages. Every answer carries a
// strict Content-Security-Policy (default-src 'self', no inline script or
// style, no framing, no plugins), X-Content-Type-Options: nosniff and
// Referrer-Policy: no-referrer. Files are revalidated on every load
// (Cache-Control: no-cache with a content-hash ETag), so a new binary's
// pages are never mixed with an old binary's script.
//
// # Sign-in and why cross-site request forgery has nothing to ride on
//
// The user signs in by pasting an API token (incidentd run prints a
// development token at start-up and stores it in DATA/ingress/dev-token).
// The page keeps it in sessionStorage (gone when the tab closes, not shared
// with other tabs or sites) and sends it on every API call as
// "Authorization: Bearer TOKEN". No cookie carries credentials, and a
// browser never adds an Authorization header on its own: a page of another
// site can make the browser send a request to incidentd, but that request
// arrives without the token and is refused with 401. Cross-site request
// forgery needs ambient credentials (cookies, HTTP auth, client
// certificates) and there are none, so the API needs no CSRF tokens.
// What remains is script injection, which could read sessionStorage: the
// pages build every piece of user-provided text with textContent (never
// innerHTML with data), and the Content-Security-Policy refuses inline and
// foreign scripts as a second line.
package web
