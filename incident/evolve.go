package incident

import "time"

// Evolve folds one event into the state. It never fails: events are facts.
// An event whose version is not s.Version+1 is folded all the same; views
// that must not fold over a gap check versions before calling Evolve (see
// Sequence). A notice is in no incident's history and changes nothing.
func Evolve(s State, e Event) State {
	if e.Notice() {
		return s
	}
	if s.Incident == "" {
		s.Incident = e.Incident
	}
	s.Version = e.Version
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
	case Rejected:
		// Returned above: a rejection changes only the version.
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
// A notice, in no incident's history, is Seen by every view: views skip it.
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
