package incident

import (
	"strconv"
	"time"
)

// EventKind names what happened. The strings are stable: they appear in the
// wire encoding, in ClickHouse and in the dashboard.
type EventKind string

// The events of the model.
const (
	Declared             EventKind = "declared"
	SeverityChanged      EventKind = "severity_changed"
	TitleChanged         EventKind = "title_changed"
	Assigned             EventKind = "assigned"
	Acknowledged         EventKind = "acknowledged"
	Mitigated            EventKind = "mitigated"
	Resolved             EventKind = "resolved"
	Reopened             EventKind = "reopened"
	NoteAdded            EventKind = "note_added"
	MessagePinned        EventKind = "message_pinned"
	ImpactStartedSet     EventKind = "impact_started_set"
	SlackMessageRecorded EventKind = "slack_message_recorded"
	Rejected             EventKind = "rejected"
)

// EventKinds lists every event kind, in a stable order.
var EventKinds = []EventKind{
	Declared, SeverityChanged, TitleChanged, Assigned, Acknowledged, Mitigated,
	Resolved, Reopened, NoteAdded, MessagePinned, ImpactStartedSet,
	SlackMessageRecorded, Rejected,
}

// Valid reports whether k is a known event kind.
func (k EventKind) Valid() bool {
	for _, e := range EventKinds {
		if e == k {
			return true
		}
	}
	return false
}

// Event is a fact about one incident. Events are never rejected: Evolve
// folds any event into the state.
//
// A notice is a rejection in no incident's history (Version 0): the
// rejection of a command on an incident its tenant has not declared (none,
// or another tenant's), or of a reused command id. It tells the requester
// (Tenant, Actor) and its outcome is remembered like any other, but no
// view folds it: it never touches another tenant's incident.
type Event struct {
	Incident string
	Version  uint64 // per-incident sequence number, from 1, without gaps; 0 for a notice
	Command  string // id of the command that caused it
	Tenant   string // the command's tenant
	Actor    string
	At       time.Time // the command's time
	Kind     EventKind

	Title         string       // Declared, TitleChanged
	Severity      string       // Declared, SeverityChanged
	Status        Status       // the status after the event
	Source        Source       // Declared; a notice: where the command came from
	Role          Role         // Assigned
	Person        string       // Assigned
	Note          string       // NoteAdded
	Message       SlackMessage // MessagePinned, SlackMessageRecorded
	ImpactStarted time.Time    // ImpactStartedSet
	CommandKind   CommandKind  // Rejected: what was asked
	Rejection     *Rejection   // Rejected: why not
	Fingerprint   string       // the command's request fingerprint
}

// Notice reports whether e is a notice: a rejection outside any incident's
// history.
func (e Event) Notice() bool { return e.Version == 0 }

// ID is the event's id, derived from (incident, version): the same event
// delivered twice has the same id.
func (e Event) ID() string { return EventID(e.Incident, e.Version) }

// EventID returns the id of an incident's event at a version.
func EventID(incident string, version uint64) string {
	return incident + "/" + strconv.FormatUint(version, 10)
}
