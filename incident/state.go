package incident

import "time"

// Status is where an incident is in its life.
type Status string

// The statuses. An incident moves open → acknowledged → mitigated →
// resolved (steps may be skipped) and back to open on reopen.
const (
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged"
	StatusMitigated    Status = "mitigated"
	StatusResolved     Status = "resolved"
)

// RecentWindow is how many of an incident's latest command outcomes State
// keeps for deduplication.
const RecentWindow = 64

// Outcome is what became of one command: the versions of the events it
// produced (From..To), and its rejection code if it was rejected.
type Outcome struct {
	Command  string
	From, To uint64
	Code     Code // "" when applied
}

// State is one incident as folded from its events. The zero State is an
// incident nobody has declared.
type State struct {
	Incident string
	Tenant   string
	Version  uint64 // version of the last event folded
	Declared bool

	Title     string
	Severity  string
	Status    Status
	Reporter  string
	Commander string
	Assignee  string
	Source    Source
	Card      SlackMessage // the incident card the notifier posted, if any

	DeclaredAt      time.Time
	ImpactStartedAt time.Time // zero unless set (back-dated)
	AcknowledgedAt  time.Time // first acknowledgement
	MitigatedAt     time.Time // latest mitigation
	ResolvedAt      time.Time // latest resolution; zero while not resolved
	UpdatedAt       time.Time

	Notes  int       // notes added
	Pins   int       // Slack messages pinned
	Recent []Outcome // the last RecentWindow command outcomes, oldest first
}

// Outcome returns the recorded outcome of a command, if it is still in the
// window.
func (s State) Outcome(commandID string) (Outcome, bool) {
	for i := len(s.Recent) - 1; i >= 0; i-- {
		if s.Recent[i].Command == commandID {
			return s.Recent[i], true
		}
	}
	return Outcome{}, false
}
