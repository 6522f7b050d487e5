package incident

import "time"

// Evolve folds one event into the state. It never fails: events are facts.
// An event whose version is not s.Version+1 is folded all the same; views
// that must not fold over a gap check versions before calling Evolve (see
// Sequence).
func Evolve(s State, e Event) State {
	if s.Incident == "" {
		s.Incident = e.Incident
	}
	s.Version = e.Version
	s.Recent = remember(s.Recent, e)
	if e.Kind == Rejected {
		return s
	}
	s.UpdatedAt = e.At
	switch e.Kind {
	case Declared:
		s.Declared = true
		s.Tenant = e.Tenant
		s.Title = e.Title
		s.Severity = e.Severity
		s.Status = StatusOpen
		s.Reporter = e.Actor
		s.Source = e.Source
		s.DeclaredAt = e.At
	case SeverityChanged:
		s.Severity = e.Severity
	case TitleChanged:
		s.Title = e.Title
	case Assigned:
		if e.Role == Commander {
			s.Commander = e.Person
		} else {
			s.Assignee = e.Person
		}
	case Acknowledged:
		s.Status = StatusAcknowledged
		if s.AcknowledgedAt.IsZero() {
			s.AcknowledgedAt = e.At
		}
	case Mitigated:
		s.Status = StatusMitigated
		s.MitigatedAt = e.At
	case Resolved:
		s.Status = StatusResolved
		s.ResolvedAt = e.At
	case Reopened:
		s.Status = StatusOpen
		s.ResolvedAt = time.Time{}
	case NoteAdded:
		s.Notes++
	case MessagePinned:
		s.Pins++
	case ImpactStartedSet:
		s.ImpactStartedAt = e.ImpactStarted
	case SlackMessageRecorded:
		s.Card = SlackMessage{Channel: e.Message.Channel, TS: e.Message.TS}
	}
	return s
}

// Fold folds events into the state, in order.
func Fold(s State, events ...Event) State {
	for _, e := range events {
		s = Evolve(s, e)
	}
	return s
}

// Order is how an event's version relates to the version a view holds.
type Order int

// The orders Sequence reports.
const (
	InOrder Order = iota // the next version: apply it
	Seen                 // the view already has it: skip it
	Gap                  // versions are missing in between: report, never fold over
)

// Sequence reports how an event relates to a view that holds version have.
func Sequence(have uint64, e Event) Order {
	switch {
	case e.Version == have+1:
		return InOrder
	case e.Version <= have:
		return Seen
	default:
		return Gap
	}
}

// remember records the event's command outcome in the dedup window. All the
// events of one command are consecutive, so the outcome is extended while
// the command stays the same.
func remember(recent []Outcome, e Event) []Outcome {
	if n := len(recent); n > 0 && recent[n-1].Command == e.Command {
		recent = append(recent[:n-1:n-1], recent[n-1])
		recent[n-1].To = e.Version
		return recent
	}
	o := Outcome{Command: e.Command, From: e.Version, To: e.Version}
	if e.Rejection != nil {
		o.Code = e.Rejection.Code
	}
	if len(recent) >= RecentWindow {
		recent = recent[len(recent)-RecentWindow+1:]
	}
	// Copy so states that share a backing array never see each other's
	// appends.
	out := make([]Outcome, len(recent), len(recent)+1)
	copy(out, recent)
	return append(out, o)
}
