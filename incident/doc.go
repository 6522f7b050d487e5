// Package incident is incidentd's incident model: the commands people issue,
// the events that record what happened, the state folded from those events,
// and the two pure functions that connect them.
//
//	Decide(policy, state, command) -> Decision (events, a rejection, or a duplicate)
//	Evolve(state, event)           -> state
//
// Every service imports this package and none owns it. It is deterministic:
// no clock, randomness, I/O, logging or goroutines. Time arrives on the
// command (Command.At, stamped by ingress) and is copied onto the events.
//
// # Versions
//
// Each incident has one serial history. Every event carries the incident's
// version: its per-incident sequence number, starting at 1 and increasing by
// one per event without gaps. Event ids are derived from (incident, version),
// so a re-delivered event has the same id and views can apply an event only
// if it is newer than what they hold.
//
// Rejections are events too (KindRejected): they carry the rejection code
// and take a version like any other event, so the caller waiting on a
// command, the notifier and the dedup window all see them through the log.
// Folding a rejection changes nothing but the version and the dedup window.
//
// # Exactly-once effect in bounded space
//
// State keeps the outcomes of the incident's last RecentWindow commands
// (State.Recent). Deciding a command whose id is in that window returns the
// original outcome (Decision.Duplicate) and no events. A command id older
// than the window is decided afresh; the window is sized for retries that
// arrive within minutes (Slack retries three times within about an hour;
// producer retries within seconds), not for replays of week-old input.
//
// # Incident ids
//
// Slack-originated incidents get an id derived from (team, channel, thread):
// a repeated "@fire" in one thread names the same incident and is rejected
// as already declared. API incidents get an id derived from the caller's
// idempotency key (APIIncidentID), or a fresh one generated at the edge.
package incident
