package notifier

import (
	"fmt"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/slackapp"
)

// maxTimelineLines is how many timeline lines one thread reply carries; a
// longer backlog goes out in several replies.
const maxTimelineLines = 20

// TimelineLine is the thread reply line for a timeline-worthy event
// (severity change, assignment, status change, note), and false for the
// others. The line ends with the event's version, so a reader (and a test)
// can tell two equal-looking changes apart.
func TimelineLine(e incident.Event) (string, bool) {
	by := person(e.Actor)
	var what string
	switch e.Kind {
	case incident.SeverityChanged:
		what = fmt.Sprintf("Severity changed to *%s* by %s", slackapp.Escape(e.Severity), by)
	case incident.Assigned:
		role := "assignee"
		if e.Role == incident.Commander {
			role = "commander"
		}
		if e.Person == "" {
			what = fmt.Sprintf("%s unassigned by %s", role, by)
		} else {
			what = fmt.Sprintf("%s set to %s by %s", role, person(e.Person), by)
		}
	case incident.Acknowledged:
		what = "Acknowledged by " + by
	case incident.Mitigated:
		what = "Mitigated by " + by
	case incident.Resolved:
		what = "Resolved by " + by
	case incident.Reopened:
		what = "Reopened by " + by
	case incident.NoteAdded:
		what = fmt.Sprintf("Note from %s: %s", by, slackapp.Escape(truncate(e.Note, 1000)))
	case incident.Declared, incident.TitleChanged, incident.MessagePinned, incident.ImpactStartedSet,
		incident.SlackMessageRecorded, incident.Rejected:
		return "", false
	}
	if what == "" {
		return "", false // a kind this build does not know
	}
	return fmt.Sprintf("• %s (v%d)", what, e.Version), true
}

// RejectionText is the ephemeral reply to the person whose command was
// rejected.
func RejectionText(e incident.Event) string {
	reason := "it was rejected"
	if e.Rejection != nil {
		reason = e.Rejection.Reason
		if reason == "" {
			reason = string(e.Rejection.Code)
		}
	}
	what := string(e.CommandKind)
	if what == "" {
		what = "your change"
	}
	return fmt.Sprintf("Could not %s (incident %s): %s", humanKind(what), slackapp.Escape(e.Incident), slackapp.Escape(reason))
}

func humanKind(k string) string {
	switch incident.CommandKind(k) {
	case incident.SetSeverity:
		return "change the severity"
	case incident.Assign:
		return "assign"
	case incident.Acknowledge:
		return "acknowledge"
	case incident.Mitigate:
		return "mark as mitigated"
	case incident.Resolve:
		return "resolve"
	case incident.Reopen:
		return "reopen"
	case incident.AddNote:
		return "add the note"
	case incident.Declare:
		return "declare"
	case incident.SetTitle:
		return "change the title"
	case incident.PinMessage:
		return "pin the message"
	case incident.SetImpactStarted:
		return "set when the impact started"
	case incident.RecordSlackMessage:
		return "record the incident card"
	}
	return "apply " + slackapp.Escape(k)
}
