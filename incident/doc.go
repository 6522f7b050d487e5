// Package incident is incidentd's incident model: the commands people issue,
// the events that record what happened, the state folded from those events,
// and the two pure functions that connect them.
//
//	Decide(policy, state, command, seen) -> Decision (events, a rejection, or a duplicate)
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
// Rejections are events too (KindRejected): they carry the rejection code,
// so the caller waiting on a command and the notifier see them through the
// log. A rejection on the tenant's own incident takes a version like any
// other event and changes nothing else. A rejection of a command on an
// incident that is not its tenant's (nobody declared it, or another tenant
// did), or of a command id reused for another request, is a notice
// (Event.Notice): version 0, in no incident's history, folded by no view.
// So an incident's history holds only its own tenant's commands and starts
// with its declaration.
//
// # Exactly-once effect
//
// The model keeps no record of past commands. Its caller remembers each
// command's outcome (Decision.Remember) by tenant and command id for a
// window of time, and hands it back to Decide when the id comes again: the
// same request is a duplicate (Decision.Duplicate, no events), another
// request under the same id (Command.Fingerprint differs) is refused with
// CodeKeyReused. The window is the caller's: time comes in on the command,
// and the model has no clock.
//
// # Incident ids
//
// Slack-originated incidents get an id derived from (team, channel, thread):
// a repeated "@fire" in one thread names the same incident and is rejected
// as already declared. API incidents get an id derived from the caller's
// idempotency key (APIIncidentID), or a fresh one generated at the edge.
package incident
