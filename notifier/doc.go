// Package notifier keeps Slack in step with incidentd's events: it is the
// last stage of the flow
//
//	ingress → [commands] → processor → [events] → notifier → Slack
//	                ↑                                 │
//	                └── RecordSlackMessage ───────────┘
//
// It consumes the events topic (read committed) and, per incident, posts
// an incident card (Block Kit: title, severity, status, people, dashboard
// link, and the controls whose ids slackapp defines for ingress too) in
// the incident's Slack thread, or in its workspace's incidents channel for
// dashboard-declared incidents. The card's channel and ts go back into the
// incident as a RecordSlackMessage command on the commands topic, with an id
// derived from the card, so retries are duplicates. Every later change
// edits that card; severity, assignment, status changes and notes are also
// posted as thread replies; a rejected Slack command is answered with an
// ephemeral message to its author; so is a notice (a rejection in no
// incident's history, such as a command naming another tenant's
// incident): in the channel and thread the command came from, with the
// bot token of the requester's workspace (a workspace of the notice's
// tenant only), never in the incident's channel. Everything people typed (titles, notes,
// names, rejection reasons quoting them) is escaped (slackapp.Escape) in message
// text and mrkdwn, so it shows as typed and never pings, mentions or links.
// The card's dashboard link is DashboardURL/incidents/ID (DashboardLink),
// which ingress's dashboard redirects to the incident's page.
//
// Without workspaces (the embedded "make run") nothing goes to Slack: each
// call is appended to an outbox file (ReadOutbox) the dashboard shows.
//
// # Processing model
//
// The notifier consumes every partition of the events topic itself (no
// consumer group). Its Pebble store (DataDir/notifier/store) holds, per
// incident, the state folded from the events, the card's reference, and
// the work still to send; and per partition, the next offset to consume.
// One poll's events are folded and written together with the offsets in
// one synced batch, so consumption resumes exactly where the store is.
// Events the store has already folded (version not newer) are skipped. An
// event that skips versions (a version gap: records the store never
// folded) makes the notifier read the missing versions of that incident
// from the events topic (its partition, from the start up to the event,
// read committed) and fold them first (log line,
// incidentd_notifier_gaps_healed_total). A gap the log itself has is
// reported (log, incidentd_notifier_events_total{result="gap"}) and folded
// over. `incidentd verify notifier` compares a stopped notifier's store
// with the fold of the log.
//
// Sending is driven from the store, not from the events: each Slack
// channel has a lane, a goroutine that takes the channel's incidents in
// turn and makes one call at a time, no sooner than ChannelInterval (one
// second) after the previous message in that channel. A call is built from
// the incident's latest state when its turn comes, so a burst of changes
// becomes one card edit showing the latest state, and the latest state is
// never lost: the card is behind only while an edit is pending. Timeline
// lines waiting for a turn go out together, up to 20 per reply.
//
// 429 answers hold the channel for Retry-After; 5xx and network errors
// back off (doubling, with jitter, MinBackoff to MaxBackoff) and retry
// without limit, since they say nothing about the message. Such an error
// on a chat.postMessage (a timeout, an answer lost) may hide a message
// Slack made, so every post carries Slack message metadata (incident,
// card or timeline, the events its lines tell of) and the next attempt
// first looks for it (conversations.replies in its thread, or the latest
// messages of its channel) and adopts what it finds instead of posting
// again. Permanent
// errors (channel_not_found, not_in_channel, invalid_auth, ...) and
// incidents whose workspace is not configured are written to the
// dead-letter topic with the reason, counted, and dropped; the next change
// of the incident tries again (a deleted card is re-posted).
//
// # Delivery guarantee
//
// At least once, with a bounded window for duplicates. After each call
// Slack accepted, the record (work done) and the ledger (l/<event id>:
// method, channel, ts) are written in one synced batch before the call's
// concurrency slot is released. A crash between Slack's answer and that
// write repeats the call on restart: at most Concurrency messages (default
// 8) can be repeated per crash, each only once; for a card this leaves a
// second, stale card in the thread (the recorded one is kept current).
// Slack has no idempotency key for chat.postMessage; the lookup by
// metadata that follows a lost answer is not made after a crash (what
// was in flight is not stored), so this window stays open. Ephemeral
// replies are nobody's history: one whose answer was lost is sent again. A graceful stop waits for calls in flight and has
// no window.
//
// Nothing is lost: an event's work is stored before its offset moves, and
// removed only after Slack accepted the call or refused it for good (a
// dead letter). The RecordSlackMessage command is produced after the card
// is stored and retried until the broker acknowledges it.
//
// The ledger is an audit of what was sent for each event; it is pruned
// after LedgerRetention (7 days). Re-delivered events never reach it: the
// stored state's version skips them first.
//
// Run one notifier per events topic: the store is local, and two
// notifiers would both post. The store is not a cache that can be deleted
// freely: without it the notifier replays the events topic from the start
// and sends its history again (a card recorded in the log is adopted when
// its SlackMessageRecorded event is read, but thread replies and cards of
// incidents declared in an earlier poll repeat). Config.SkipHistory
// (-notifier.skip-history) makes a fresh store fold the history it finds
// without sending it: recorded cards are adopted and edited on the next
// change, the other incidents get their card on their next change.
package notifier
