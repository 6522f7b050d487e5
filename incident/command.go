package incident

import "time"

// CommandKind names what a command asks for. The strings are stable: they
// appear in the wire encoding and in the dashboard API.
type CommandKind string

// The commands of the model.
const (
	Declare            CommandKind = "declare"
	SetSeverity        CommandKind = "set_severity"
	SetTitle           CommandKind = "set_title"
	Assign             CommandKind = "assign"
	Acknowledge        CommandKind = "acknowledge"
	Mitigate           CommandKind = "mitigate"
	Resolve            CommandKind = "resolve"
	Reopen             CommandKind = "reopen"
	AddNote            CommandKind = "add_note"
	PinMessage         CommandKind = "pin_message"
	SetImpactStarted   CommandKind = "set_impact_started"
	RecordSlackMessage CommandKind = "record_slack_message"
)

// CommandKinds lists every command kind, in a stable order.
var CommandKinds = []CommandKind{
	Declare, SetSeverity, SetTitle, Assign, Acknowledge, Mitigate, Resolve,
	Reopen, AddNote, PinMessage, SetImpactStarted, RecordSlackMessage,
}

// Valid reports whether k is a known command kind.
func (k CommandKind) Valid() bool {
	for _, c := range CommandKinds {
		if c == k {
			return true
		}
	}
	return false
}

// Role is the part a person plays in an incident.
type Role string

// The roles an Assign command can fill.
const (
	Commander Role = "commander"
	Assignee  Role = "assignee"
)

// SourceKind says where an incident was declared.
type SourceKind string

// The sources of an incident.
const (
	FromSlack     SourceKind = "slack"
	FromDashboard SourceKind = "dashboard"
)

// Source is where an incident was declared. For Slack it is the thread the
// incident lives in.
type Source struct {
	Kind     SourceKind
	Team     string // Slack team (workspace) id
	Channel  string // Slack channel id
	ThreadTS string // ts of the thread's parent message; empty when declared by slash command or form (the card starts its thread)
}

// SlackMessage refers to one Slack message: a pinned timeline entry, or the
// incident card the notifier posted.
type SlackMessage struct {
	Channel string
	TS      string    // Slack's message timestamp, its id within the channel
	Author  string    // Slack user id of the message's author, if known
	Text    string    // the message's text, for pins
	At      time.Time // the message's own time (parsed from TS by the edge)
}

// Command is a request to change one incident. Which of the payload fields
// matter depends on Kind; the others are ignored.
type Command struct {
	ID       string    // command id: the unit of idempotency
	Incident string    // incident id, also the Kafka key
	Tenant   string    // workspace or tenant the incident belongs to
	Actor    string    // who issued it (Slack user id, API token name)
	At       time.Time // when the edge accepted it
	Kind     CommandKind

	Title         string       // Declare, SetTitle
	Severity      string       // Declare, SetSeverity
	Source        Source       // Declare: where it is declared; any other command: where it came from (Slack), for its notice
	Role          Role         // Assign
	Person        string       // Assign ("" unassigns)
	Note          string       // AddNote
	Message       SlackMessage // PinMessage, RecordSlackMessage
	ImpactStarted time.Time    // SetImpactStarted

	// Fingerprint identifies the request the command came from (route,
	// incident and body; see Fingerprint), so that the command id reused
	// for another request is told apart from a retry. "" if the edge set
	// none: the id alone decides.
	Fingerprint string
}
