package ingress

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/slackapp"
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
	"• `@fire <title>` in a channel: declare an incident anchored to that thread; `/incident declare <title>` declares too " +
	"(say `declare <title>` when the title is a word like `list`)\n" +
	"• `severity SEV2` · `assign @user` · `commander @user` · `unassign`\n" +
	"• `ack` · `mitigate` · `resolve` · `reopen`\n" +
	"• `title <new title>` · `note <text>`\n" +
	"• react with :%s: on a message in the thread to pin it to the timeline"

// leadingMention is the app's mention and anything before it ("hey @fire
// server down" declares "server down").
var leadingMention = regexp.MustCompile(`^[^<]*<@[A-Z0-9]+(\|[^>]*)?>[\s:,]*`)

// stripMention removes the first "<@BOT>" of an app mention and what
// precedes it.
func stripMention(text string) string {
	return strings.TrimSpace(leadingMention.ReplaceAllString(text, ""))
}

// usageError is text that names a verb but not in a usable way; its
// message is the reply the user sees, followed by the help when help is
// set.
type usageError struct {
	msg  string
	help bool
}

func (e *usageError) Error() string { return e.msg }

func usage(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// usageText is the reply to a parse error of parseSlackText.
func usageText(err error, pinEmoji string) string {
	var ue *usageError
	if errors.As(err, &ue) && ue.help {
		return ue.msg + "\n" + fmt.Sprintf(slackHelp, pinEmoji)
	}
	return err.Error()
}

// parseSlackText parses a command's text (without the leading mention or
// slash command), as Slack sends it (escaped: see slackapp.Unescape).
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
		return slackRequest{Verb: "declare", Kind: incident.Declare, Title: slackapp.Unescape(rest)}, nil
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
		return slackRequest{Verb: "title", Kind: incident.SetTitle, Title: slackapp.Unescape(rest)}, nil
	case "note":
		if rest == "" {
			return slackRequest{}, usage("What should the note say? `note <text>`.")
		}
		return slackRequest{Verb: "note", Kind: incident.AddNote, Note: slackapp.Unescape(rest)}, nil
	}
	if !strings.Contains(text, " ") {
		if near, ok := nearCommand(text); ok {
			return slackRequest{}, notACommand(text, near)
		}
	}
	return slackRequest{Title: slackapp.Unescape(text)}, nil
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

// slackWords are the words that a lone word close to is taken for a
// mistyped command rather than a title: every verb, and words people try
// that are not commands (listing is the dashboard's).
var slackWords = []string{
	"help", "declare", "fire", "severity", "sev", "assign", "commander", "unassign", "ack", "acknowledge",
	"mitigate", "mitigated", "resolve", "resolved", "reopen", "title", "note",
	"list", "ls", "status", "incidents", "commands",
}

// slackVerbs are the slackWords that are commands.
var slackVerbs = map[string]bool{
	"help": true, "declare": true, "fire": true, "severity": true, "sev": true, "assign": true, "commander": true,
	"unassign": true, "ack": true, "acknowledge": true, "mitigate": true, "mitigated": true, "resolve": true,
	"resolved": true, "reopen": true, "title": true, "note": true,
}

// nearCommand returns the slackWord a lone word is, or nearly is (one
// edit, two for words of seven letters or more; swapping two neighbours
// is one edit). The bound keeps one-word titles such as "outage",
// "table" or "design" titles.
func nearCommand(word string) (string, bool) {
	w := strings.ToLower(word)
	limit := 1
	if len(w) >= 7 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range slackWords {
		if d := editDistance(w, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD <= limit
}

// notACommand is the reply to a lone word taken for a command: what it is
// not, the command it may be, and how to declare an incident so titled.
func notACommand(word, near string) error {
	msg := fmt.Sprintf("`%s` is not a command", word)
	if slackVerbs[near] && !strings.EqualFold(near, word) {
		msg += fmt.Sprintf(" (did you mean `%s`?)", near)
	}
	if near == "list" || near == "ls" || near == "incidents" || near == "status" {
		msg += "; the dashboard lists incidents"
	}
	return &usageError{msg: fmt.Sprintf("%s. To declare an incident with that title: `declare %s`.", msg, word), help: true}
}

// editDistance is the optimal string alignment distance of a and b
// (insertions, deletions, substitutions and swaps of neighbours), on bytes:
// the words compared are short ASCII commands.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
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
	return slackapp.ParseMention(s)
}

// apply fills a command from the request.
func (q slackRequest) apply(c *incident.Command) {
	c.Kind = q.Kind
	c.Title, c.Severity, c.Role, c.Person, c.Note = q.Title, q.Severity, q.Role, q.Person, q.Note
}
