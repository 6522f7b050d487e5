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

// Outcome is what became of one command: the versions of the events it
// produced (From..To; both 0 for a notice), and its rejection code if it was
// rejected. The processor remembers it by (Tenant, Command) for its dedup
// window and hands it back to Decide when the command id comes again.
type Outcome struct {
	Command     string
	Tenant      string
	Incident    string
	Fingerprint string    // the command's request fingerprint ("" if none)
	At          time.Time // the command's time
	From, To    uint64
	Code        Code // "" when applied
}

// OutcomeOf is the outcome of the events one decision produced (at least
// one).
func OutcomeOf(events []Event) Outcome {
	first, last := events[0], events[len(events)-1]
	o := Outcome{
		Command: first.Command, Tenant: first.Tenant, Incident: first.Incident,
		Fingerprint: first.Fingerprint, At: first.At, From: first.Version, To: last.Version,
	}
	if first.Rejection != nil {
		o.Code = first.Rejection.Code
	}
	return o
}

// Extends reports whether e is the next event of the command whose outcome
// is o: the same command, incident and time, at the next version. A
// command id decided afresh after its window has another time.
func (o Outcome) Extends(e Event) bool {
	return o.Command == e.Command && o.Tenant == e.Tenant && o.Incident == e.Incident &&
		o.At.Equal(e.At) && o.To != 0 && e.Version == o.To+1
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

	Notes int // notes added
	Pins  int // Slack messages pinned
}

// Memory is a dedup window without expiry, held in memory: outcomes by
// tenant and command id. It suits callers that decide a bounded number of
// commands outside the processor (tests, simulations); the processor
// keeps its window in Pebble, by time.
type Memory map[string]Outcome

// Decide decides c against s with the outcome remembered for c's tenant and
// id (see Decide), and remembers the new outcome.
func (m Memory) Decide(p Policy, s State, c Command) Decision {
	k := c.Tenant + "\x00" + c.ID
	var seen *Outcome
	if o, ok := m[k]; ok {
		seen = &o
	}
	d := Decide(p, s, c, seen)
	if o, ok := d.Remember(); ok {
		m[k] = o
	}
	return d
}

// Outcome returns the outcome remembered for a tenant's command.
func (m Memory) Outcome(tenant, command string) (Outcome, bool) {
	o, ok := m[tenant+"\x00"+command]
	return o, ok
}
