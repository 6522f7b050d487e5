package incident

import (
	"strings"
	"unicode/utf8"
)

// Decision is what Decide makes of a command: the events to append, or,
// for a command id seen before, its original outcome and no events.
//
// A rejected command produces exactly one event, of kind Rejected: in the
// incident's history, or a notice (Event.Notice) when the incident is not
// its tenant's or the command id was used for another request.
type Decision struct {
	Events    []Event
	Duplicate *Outcome // set when the command id was seen, with its outcome then
}

// Rejection returns the rejection carried by the decision's events, or nil
// if the command was applied (or is a duplicate).
func (d Decision) Rejection() *Rejection {
	if len(d.Events) == 1 && d.Events[0].Kind == Rejected {
		return d.Events[0].Rejection
	}
	return nil
}

// Remember returns the outcome to remember for the command, and false when
// there is none to remember (see Remembered): a duplicate (its first
// outcome stays), a command without an id, or a command id reused for
// another request (the first request's outcome stays).
func (d Decision) Remember() (Outcome, bool) {
	if len(d.Events) == 0 || !Remembered(d.Events[0]) {
		return Outcome{}, false
	}
	return OutcomeOf(d.Events), true
}

// Remembered reports whether the outcome of e's command is remembered: its
// command has an id, and e is not the refusal of a reused one.
func Remembered(e Event) bool {
	return e.Command != "" && (e.Rejection == nil || e.Rejection.Code != CodeKeyReused)
}

// Decide applies the rules to one command against the incident's current
// state. It is pure: the same inputs always give the same decision. The
// events it returns are numbered from s.Version+1 and folding them into s
// with Evolve gives the new state.
//
// seen is the remembered outcome of an earlier command with the same tenant
// and id, if the caller's dedup window still holds one (nil otherwise). The
// same request again (same incident; same fingerprint, or one of them
// without) is a duplicate: no events, the first outcome. Another request
// under that id is refused with a notice, CodeKeyReused, and changes
// nothing.
func Decide(p Policy, s State, c Command, seen *Outcome) Decision {
	if seen != nil && c.ID != "" {
		if seen.Incident == c.Incident && (seen.Fingerprint == "" || c.Fingerprint == "" || seen.Fingerprint == c.Fingerprint) {
			o := *seen
			return Decision{Duplicate: &o}
		}
		return Decision{Events: []Event{notice(c, reject(CodeKeyReused,
			"command id %s was used before for a different request; use a new idempotency key", c.ID))}}
	}
	d := decider{policy: p, s: s, c: c}
	if r := d.decide(); r != nil {
		// An incident that is not the command's tenant's (undeclared, or
		// another tenant's) has no history for the command to enter.
		if !s.Declared || s.Tenant != c.Tenant {
			return Decision{Events: []Event{notice(c, r)}}
		}
		return Decision{Events: []Event{d.event(Rejected, func(e *Event) {
			e.CommandKind = c.Kind
			e.Rejection = r
		})}}
	}
	return Decision{Events: d.events}
}

// notice is the rejection of c outside any incident's history: version 0,
// and nothing of the incident's state on it. It carries c's Source, where
// the command came from, so that the requester can be told there.
func notice(c Command, r *Rejection) Event {
	return Event{
		Incident: c.Incident, Command: c.ID, Tenant: c.Tenant, Actor: c.Actor, At: c.At,
		Kind: Rejected, CommandKind: c.Kind, Rejection: r, Fingerprint: c.Fingerprint, Source: c.Source,
	}
}

// decider holds one Decide call's inputs and the events it builds.
type decider struct {
	policy Policy
	s      State
	c      Command
	events []Event
}

// event builds the next event, numbered after the state and any events
// already built.
func (d *decider) event(k EventKind, fill func(*Event)) Event {
	e := Event{
		Incident: d.c.Incident,
		Version:  d.s.Version + uint64(len(d.events)) + 1,
		Command:  d.c.ID,
		Tenant:   d.c.Tenant,
		Actor:    d.c.Actor,
		At:       d.c.At,
		Kind:     k,
		Status:   d.s.Status,

		Fingerprint: d.c.Fingerprint,
	}
	if fill != nil {
		fill(&e)
	}
	return e
}

func (d *decider) emit(k EventKind, fill func(*Event)) {
	d.events = append(d.events, d.event(k, fill))
}

func (d *decider) decide() *Rejection {
	c, s := d.c, d.s
	switch {
	case c.ID == "" || c.Incident == "" || c.Tenant == "":
		return reject(CodeInvalidCommand, "command id, incident id and tenant are required")
	case c.At.IsZero():
		return reject(CodeInvalidCommand, "command has no time")
	case !c.Kind.Valid():
		return reject(CodeInvalidCommand, "unknown command %q", c.Kind)
	}
	if c.Kind == Declare {
		return d.declare()
	}
	// Another tenant's incident is reported as unknown: ids reveal nothing.
	if !s.Declared || s.Tenant != c.Tenant {
		return reject(CodeUnknownIncident, "incident %s is not declared", c.Incident)
	}
	switch c.Kind {
	case Declare:
		// Decided above: the one command for an incident not declared yet.
	case SetSeverity:
		return d.setSeverity()
	case SetTitle:
		return d.setTitle()
	case Assign:
		return d.assign()
	case Acknowledge:
		return d.acknowledge()
	case Mitigate:
		return d.mitigate()
	case Resolve:
		if s.Status == StatusResolved {
			return reject(CodeAlreadyResolved, "incident is already resolved")
		}
		d.emit(Resolved, func(e *Event) { e.Status = StatusResolved })
	case Reopen:
		if s.Status != StatusResolved {
			return reject(CodeNotResolved, "incident is %s, not resolved", s.Status)
		}
		d.emit(Reopened, func(e *Event) { e.Status = StatusOpen })
	case AddNote:
		return d.addNote()
	case PinMessage:
		return d.pinMessage()
	case SetImpactStarted:
		return d.setImpactStarted()
	case RecordSlackMessage:
		return d.recordSlackMessage()
	}
	return nil
}

func (d *decider) setSeverity() *Rejection {
	c, s := d.c, d.s
	if !d.policy.validSeverity(c.Severity) {
		return reject(CodeInvalidSeverity, "severity %q is not one of %s", c.Severity, strings.Join(d.policy.Severities, ", "))
	}
	if c.Severity == s.Severity {
		return reject(CodeNoChange, "severity is already %s", c.Severity)
	}
	d.emit(SeverityChanged, func(e *Event) { e.Severity = c.Severity })
	return nil
}

func (d *decider) setTitle() *Rejection {
	title := strings.TrimSpace(d.c.Title)
	if r := checkTitle(title); r != nil {
		return r
	}
	if title == d.s.Title {
		return reject(CodeNoChange, "title is already %q", title)
	}
	d.emit(TitleChanged, func(e *Event) { e.Title = title })
	return nil
}

func (d *decider) acknowledge() *Rejection {
	switch d.s.Status {
	case StatusResolved:
		return reject(CodeAlreadyResolved, "incident is resolved")
	case StatusAcknowledged:
		return reject(CodeNoChange, "incident is already acknowledged")
	case StatusMitigated:
		return reject(CodeInvalidTransition, "incident is already mitigated")
	case StatusOpen:
	}
	d.emit(Acknowledged, func(e *Event) { e.Status = StatusAcknowledged })
	return nil
}

func (d *decider) mitigate() *Rejection {
	switch d.s.Status {
	case StatusResolved:
		return reject(CodeAlreadyResolved, "incident is resolved")
	case StatusMitigated:
		return reject(CodeNoChange, "incident is already mitigated")
	case StatusOpen, StatusAcknowledged:
	}
	d.emit(Mitigated, func(e *Event) { e.Status = StatusMitigated })
	return nil
}

func (d *decider) addNote() *Rejection {
	note := strings.TrimSpace(d.c.Note)
	if note == "" {
		return reject(CodeInvalidNote, "a note is 1 to %d characters of text", MaxNote)
	}
	if err := CheckText(note, MaxNote); err != nil {
		return reject(CodeInvalidNote, "the note %s", err)
	}
	d.emit(NoteAdded, func(e *Event) { e.Note = note })
	return nil
}

func (d *decider) pinMessage() *Rejection {
	m := d.c.Message
	if m.Channel == "" || m.TS == "" || m.At.IsZero() {
		return reject(CodeInvalidMessage, "a pinned message needs its channel, ts and time")
	}
	if len(m.Text) > MaxNote || !utf8.ValidString(m.Text) {
		return reject(CodeInvalidMessage, "a pinned message's text is at most %d bytes", MaxNote)
	}
	d.emit(MessagePinned, func(e *Event) { e.Message = m })
	return nil
}

func (d *decider) setImpactStarted() *Rejection {
	t := d.c.ImpactStarted
	switch {
	case t.IsZero() || t.After(d.c.At):
		return reject(CodeInvalidImpactStart, "impact must have started before now")
	case t.Equal(d.s.ImpactStartedAt):
		return reject(CodeNoChange, "impact start is already %s", t.UTC().Format("2006-01-02T15:04:05Z07:00"))
	}
	d.emit(ImpactStartedSet, func(e *Event) { e.ImpactStarted = t })
	return nil
}

// recordSlackMessage records where the notifier posted the incident's card.
func (d *decider) recordSlackMessage() *Rejection {
	m := d.c.Message
	if m.Channel == "" || m.TS == "" {
		return reject(CodeInvalidMessage, "a card reference needs its channel and ts")
	}
	if m.Channel == d.s.Card.Channel && m.TS == d.s.Card.TS {
		return reject(CodeNoChange, "card is already recorded")
	}
	d.emit(SlackMessageRecorded, func(e *Event) { e.Message = SlackMessage{Channel: m.Channel, TS: m.TS} })
	return nil
}

func (d *decider) declare() *Rejection {
	c := d.c
	if d.s.Declared {
		return reject(CodeAlreadyDeclared, "incident %s is already declared", c.Incident)
	}
	title := strings.TrimSpace(c.Title)
	if r := checkTitle(title); r != nil {
		return r
	}
	sev := c.Severity
	if sev == "" {
		sev = d.policy.Severities[len(d.policy.Severities)-1]
	}
	if !d.policy.validSeverity(sev) {
		return reject(CodeInvalidSeverity, "severity %q is not one of %s", sev, strings.Join(d.policy.Severities, ", "))
	}
	src := c.Source
	switch src.Kind {
	case FromDashboard:
	case FromSlack:
		// ThreadTS may be empty: an incident declared by slash command or
		// form has no thread until the notifier posts its card.
		if src.Team == "" || src.Channel == "" {
			return reject(CodeInvalidCommand, "a Slack incident needs its team and channel")
		}
	default:
		return reject(CodeInvalidCommand, "unknown source %q", src.Kind)
	}
	d.emit(Declared, func(e *Event) {
		e.Title = title
		e.Severity = sev
		e.Source = src
		e.Status = StatusOpen
	})
	return nil
}

func (d *decider) assign() *Rejection {
	c, s := d.c, d.s
	person := strings.TrimSpace(c.Person)
	if err := CheckLine(person, MaxPerson); err != nil {
		return reject(CodeInvalidPerson, "the person %s", err)
	}
	var current string
	switch c.Role {
	case Commander:
		current = s.Commander
	case Assignee:
		current = s.Assignee
	default:
		return reject(CodeInvalidRole, "role %q is not commander or assignee", c.Role)
	}
	if person == current {
		return reject(CodeNoChange, "%s is already %q", c.Role, person)
	}
	d.emit(Assigned, func(e *Event) {
		e.Role = c.Role
		e.Person = person
	})
	return nil
}

func checkTitle(title string) *Rejection {
	if title == "" {
		return reject(CodeInvalidTitle, "a title is 1 to %d characters of text", MaxTitle)
	}
	if err := CheckLine(title, MaxTitle); err != nil {
		return reject(CodeInvalidTitle, "the title %s", err)
	}
	return nil
}
