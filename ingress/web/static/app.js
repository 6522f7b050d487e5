// @ts-check
// incidentd dashboard: a small single-page application over /api/v1.
//
// Native ES modules, no build step, no dependencies: the binary embeds these
// files as they are, and tsc checks their JSDoc types (make test-web). One
// module per concern:
//   api.js       the API client (token, errors, query strings)
//   router.js    routes the URL fragment to a page
//   dom.js       the only way elements are made (h, s), show, toast, poller
//   format.js    times, durations, badges, Slack links; policy.js the severities
//   signin.js, list.js, declare.js, incident.js (+ timeline.js),
//   analytics.js (+ charts.js), outbox.js: the pages
// Rules they keep: data reaches the page only through textContent or
// setAttribute (dom.js), never innerHTML; the token goes out only as an
// Authorization header (api.js).
import { start } from './router.js';

start();
