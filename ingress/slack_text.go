package ingress

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/notifier"
)

// slackRequest is what a line of Slack text asks for: an app mention
// ("@fire resolve") or a slash command's text ("resolve sl-1234").
type slackRequest struct {
	Verb string // "help", "declare", or a command verb; "" for free text
	Kind incident.CommandKind

	Title    string
	Severity string
	Role     incident.Role
	Person   string
	Note     string
}

// slackHelp is the reply to "help" and to text that is not a command.
const slackHelp = "Commands (mention me in the incident's thread, or `/incident VERB INCIDENT-ID ...`):\n" +
	"• `@fire <title>` in a channel: declare an incident anchored to that thread\n" +
	"• `severity SEV2` · `assign @user` · `commander @user` · `unassign`\n" +
	"• `ack` · `mitigate` · `resolve` · `reopen`\n" +
	"• `title <new title>` · `note <text>`\n" +
	"• react with :%s: on a message in the thread to pin it to the timeline"

var (
	// leadingMention is the app's mention and anything before it ("hey
	// @fire server down" declares "server down").
	leadingMention = regexp.MustCompile(`^[^<]*<@[A-Z0-9]+(\|[^>]*)?>[\s:,]*`)
	userMention    = regexp.MustCompile(`^<@([A-Z0-9]+)(\|[^>]*)?>$`)
)

// stripMention removes the first "<@BOT>" of an app mention and what
// precedes it.
func stripMention(text string) string {
	return strings.TrimSpace(leadingMention.ReplaceAllString(text, ""))
}

// usageError is text that names a verb but not in a usable way; its
// message is the reply the user sees.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usage(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// parseSlackText parses a command's text (without the leading mention or
// slash command), as Slack sends it (escaped: see notifier.Unescape).
// actor is the Slack user issuing it, for "assign me". Titles and notes
// follow the model's text rule (incident.CheckLine, CheckText); one that
// breaks it is a usage error, answered before anything is produced.
func parseSlackText(text, actor string, pol incident.Policy) (slackRequest, error) {
	req, err := parseSlackVerb(text, actor, pol)
	if err != nil {
		return req, err
	}
	// A title typed in Slack may run over several lines ("@fire db down"
	// and details below): it becomes one line, its spaces collapsed.
	req.Title = strings.Join(strings.Fields(req.Title), " ")
	if req.Title != "" {
		if err := incident.CheckLine(req.Title, incident.MaxTitle); err != nil {
			return slackRequest{}, usage("The title %s.", err)
		}
	}
	if req.Note != "" {
		if err := incident.CheckText(req.Note, incident.MaxNote); err != nil {
			return slackRequest{}, usage("The note %s.", err)
		}
	}
	return req, nil
}

func parseSlackVerb(text, actor string, pol incident.Policy) (slackRequest, error) {
	text = strings.TrimSpace(text)
	verb, rest, _ := strings.Cut(text, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(verb) {
	case "", "help", "?":
		return slackRequest{Verb: "help"}, nil
	case "declare", "fire":
		if rest == "" {
			return slackRequest{}, usage("Give the incident a title: `declare <title>`.")
		}
		return slackRequest{Verb: "declare", Kind: incident.Declare, Title: notifier.Unescape(rest)}, nil
	case "severity", "sev":
		sev, ok := matchSeverity(rest, pol)
		if !ok {
			return slackRequest{}, usage("Which severity? `severity %s` (one of %s).", pol.Severities[0], strings.Join(pol.Severities, ", "))
		}
		return slackRequest{Verb: "severity", Kind: incident.SetSeverity, Severity: sev}, nil
	case "assign", "commander":
		role := incident.Assignee
		if strings.EqualFold(verb, "commander") {
			role = incident.Commander
		}
		person, ok := parsePerson(rest, actor)
		if !ok {
			return slackRequest{}, usage("Who? `%s @user` (or `%s me`).", strings.ToLower(verb), strings.ToLower(verb))
		}
		return slackRequest{Verb: strings.ToLower(verb), Kind: incident.Assign, Role: role, Person: person}, nil
	case "unassign":
		return slackRequest{Verb: "unassign", Kind: incident.Assign, Role: incident.Assignee}, nil
	case "ack", "acknowledge":
		return slackRequest{Verb: "ack", Kind: incident.Acknowledge}, nil
	case "mitigate", "mitigated":
		return slackRequest{Verb: "mitigate", Kind: incident.Mitigate}, nil
	case "resolve", "resolved":
		return slackRequest{Verb: "resolve", Kind: incident.Resolve}, nil
	case "reopen":
		return slackRequest{Verb: "reopen", Kind: incident.Reopen}, nil
	case "title":
		if rest == "" {
			return slackRequest{}, usage("What should the title be? `title <new title>`.")
		}
		return slackRequest{Verb: "title", Kind: incident.SetTitle, Title: notifier.Unescape(rest)}, nil
	case "note":
		if rest == "" {
			return slackRequest{}, usage("What should the note say? `note <text>`.")
		}
		return slackRequest{Verb: "note", Kind: incident.AddNote, Note: notifier.Unescape(rest)}, nil
	}
	return slackRequest{Title: notifier.Unescape(text)}, nil
}

// slackReason is what a Slack user is told about a failed Slack API call:
// Slack's own error code ("not_in_channel") when it gave one, else a short
// phrase. The error itself (a Go error, with URLs and addresses) is for
// the log.
func slackReason(err error) string {
	var se slack.SlackErrorResponse
	var rl *slack.RateLimitedError
	switch {
	case errors.As(err, &se) && se.Err != "":
		return "Slack said " + se.Err
	case errors.As(err, &rl):
		return "Slack is rate limiting incidentd"
	case errors.Is(err, context.DeadlineExceeded):
		return "Slack did not answer in time"
	}
	return "Slack could not be reached"
}

// matchSeverity finds a policy level, ignoring case.
func matchSeverity(s string, pol incident.Policy) (string, bool) {
	for _, l := range pol.Severities {
		if strings.EqualFold(l, strings.TrimSpace(s)) {
			return l, true
		}
	}
	return "", false
}

// parsePerson reads "<@U123>", "<@U123|name>" or "me".
func parsePerson(s, actor string) (string, bool) {
	if strings.EqualFold(s, "me") && actor != "" {
		return actor, true
	}
	m := userMention.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// apply fills a command from the request.
func (q slackRequest) apply(c *incident.Command) {
	c.Kind = q.Kind
	c.Title, c.Severity, c.Role, c.Person, c.Note = q.Title, q.Severity, q.Role, q.Person, q.Note
}
