// Package ingress is incidentd's HTTP edge: the Slack receivers (Events
// API, slash commands, interactivity) and the dashboard's JSON API under
// /api/v1.
//
// # Place in the flow
//
//	Slack, dashboard ─▶ ingress ─▶ [commands topic] ─▶ processor ─▶ [events topic]
//	                       ▲                                              │
//	                       └────────── results tracker (read committed) ◀─┘
//	                       └────────── ClickHouse (projector.Queries) for reads
//
// Ingress authenticates a request (Slack's v0 signature, or a bearer API
// token scoped to one tenant), validates it, turns it into one
// incident.Command keyed by incident id and produces it to the commands
// topic. It decides nothing about the rules: incident.Decide, in the
// processor, applies or rejects the command; the notifier shows the result
// in Slack.
//
// # Routes
//
//	POST /slack/events        Events API: url_verification, app_mention ("@fire server
//	                          down!" declares; in the thread: severity, assign, commander,
//	                          unassign, ack, mitigate, resolve, reopen, title, note, help),
//	                          reaction_added (the pin emoji pins a thread message)
//	POST /slack/commands      /incident [declare <title> | <verb> <incident-id> ... | help];
//	                          no text opens the declare form (views.open)
//	POST /slack/interactions  block_actions of the incident card, view_submission of the form
//	POST /api/v1/incidents[/{id}/severity|title|assign|acknowledge|mitigate|resolve|
//	                          reopen|notes|impact-started]   writes (202; ?wait=2s for the outcome)
//	GET  /api/v1/incidents[/{id}], /api/v1/analytics, /api/v1/outbox,
//	     /api/v1/policy                                                reads
//	GET  /api/v1/openapi.json, /healthz, /readyz, /metrics, / (the dashboard, package web)
//
// Every Slack request is verified first (v0 signature over the raw body,
// timestamps more than 5 minutes away refused) and answered within Slack's
// 3 s: Web API calls made before the answer are bounded by
// SlackCallTimeout, the produce by ProduceTimeout. Slack incidents belong to
// the tenant of their workspace; an incident's id is derived from its
// thread (incident.SlackIncidentID), a command's id from Slack's event id or
// trigger id, so a retried or repeated delivery is the same command. API
// requests carry a bearer token of one tenant; another tenant's incident is
// answered 404, like an unknown one. Errors are RFC 9457 problem documents
// with a stable code.
//
// # Bad input
//
// Bad input is a 4xx decided before anything is produced: 400 for a
// malformed body, parameter or list cursor, or an analytics range over the
// query layer's limits (projector.AnalyticsQuery.Check, the same function
// the query layer applies); 413 for a body over MaxBodyBytes; 422 for a
// title, note or name breaking the model's text rule (incident.CheckLine,
// CheckText: characters, not bytes; no control or bidirectional formatting
// characters), which the Slack paths apply too (the user gets the reason as
// a reply). A problem's detail is written in the API's words; the Go error
// behind it, if any, is logged with the request id that every answer
// carries (X-Request-Id, and request_id in the problem). Slack replies name
// Slack's own error code or a short phrase, never a Go error. What ingress
// posts in Slack escapes what people typed (notifier.Escape); text Slack
// sends is unescaped first (notifier.Unescape), so a title is what was
// typed.
//
// # Delivery guarantee
//
// A request is acknowledged (202 for the API, 200 for Slack) only after the
// broker acked the produce: the producer is idempotent, waits for all
// in-sync replicas and never lingers, so the acknowledgement costs one
// broker round trip. If the broker does not ack within ProduceTimeout
// (1 s by default) the request gets 503 with Retry-After and no 2xx is ever
// sent for a command that is not in the log. A command that was produced
// but not answered (timeout after send) may still land: that is why every
// command carries an id derived from the request (Slack's event_id, the
// caller's Idempotency-Key), so a retry is a no-op downstream.
//
// # Outcomes and read-your-writes
//
// The results tracker consumes the events topic itself (read committed, no
// consumer group) and remembers, bounded, each command's outcome and each
// incident's latest version and folded state. A write with ?wait=DURATION
// blocks (capped by MaxWait) until its outcome is known and answers with the
// applied state or the rejection; a read with ?min_version=N waits, bounded,
// until the view (ClickHouse) has that version.
package ingress
