package notifier

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/ingress/web"
	"github.com/incidentd/incidentd/slackapp"
)

// Limits Slack puts on blocks.
const (
	maxHeader  = 150  // header block text
	maxField   = 2000 // section field text
	maxOptions = 100  // options of a static_select
)

// DashboardLink is the dashboard page of an incident: the path ingress's
// dashboard handler serves for it.
func DashboardLink(base, incidentID string) string {
	return strings.TrimRight(base, "/") + web.IncidentPathPrefix + url.PathEscape(incidentID)
}

// CardText is the card's fallback text (notifications, screen readers,
// and the outbox): the fields the card shows, on one line. Slack formats
// it like any message text, so what people typed is escaped.
func CardText(s incident.State) string {
	return fmt.Sprintf("[%s] %s: %s, commander %s, assignee %s",
		slackapp.Escape(s.Severity), slackapp.Escape(s.Title), s.Status, slackapp.Escape(personText(s.Commander)), slackapp.Escape(personText(s.Assignee)))
}

// RenderCard builds the incident card for a state.
func RenderCard(s incident.State, p incident.Policy, dashboardURL string) (string, []slack.Block) {
	link := DashboardLink(dashboardURL, s.Incident)
	header := slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType,
		truncate(fmt.Sprintf("%s %s: %s", statusEmoji(s.Status), s.Severity, s.Title), maxHeader), true, false))
	header.BlockID = "card-header"
	field := func(name, value string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, truncate("*"+name+"*\n"+value, maxField), false, false)
	}
	fields := slack.NewSectionBlock(nil, []*slack.TextBlockObject{
		field("Severity", slackapp.Escape(s.Severity)),
		field("Status", string(s.Status)),
		field("Commander", person(s.Commander)),
		field("Assignee", person(s.Assignee)),
		field("Declared", slackDate(s.DeclaredAt)+" by "+person(s.Reporter)),
		field("Dashboard", "<"+link+"|Open incident "+slackapp.Escape(s.Incident)+">"),
	}, nil)
	fields.BlockID = "card-fields"

	ctx := slack.NewContextBlock("card-context", slack.NewTextBlockObject(slack.MarkdownType,
		fmt.Sprintf("Incident `%s` · updated %s · <%s|dashboard>", slackapp.Escape(s.Incident), slackDate(s.UpdatedAt), link), false, false))

	blocks := []slack.Block{header, fields, ctx, slack.NewActionBlock(slackapp.BlockID(s.Incident), controls(s, p)...)}
	return CardText(s), blocks
}

// controls are the card's interactive elements for the incident's status.
func controls(s incident.State, p incident.Policy) []slack.BlockElement {
	var opts []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	for _, sev := range p.Severities[:min(len(p.Severities), maxOptions)] {
		o := slack.NewOptionBlockObject(sev, slack.NewTextBlockObject(slack.PlainTextType, sev, false, false), nil)
		opts = append(opts, o)
		if sev == s.Severity {
			initial = o
		}
	}
	sevSel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic,
		slack.NewTextBlockObject(slack.PlainTextType, "Severity", false, false), slackapp.ActionSeverity, opts...)
	sevSel.InitialOption = initial
	assign := slack.NewOptionsSelectBlockElement(slack.OptTypeUser,
		slack.NewTextBlockObject(slack.PlainTextType, "Assign", false, false), slackapp.ActionAssign)
	assign.InitialUser = s.Assignee
	els := []slack.BlockElement{sevSel, assign}

	button := func(action, label string, style slack.Style) *slack.ButtonBlockElement {
		b := slack.NewButtonBlockElement(action, s.Incident, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
		if style != "" {
			b = b.WithStyle(style)
		}
		return b
	}
	switch s.Status {
	case incident.StatusResolved:
		els = append(els, button(slackapp.ActionReopen, "Reopen", ""))
	case incident.StatusOpen, incident.StatusAcknowledged, incident.StatusMitigated:
		if s.Status == incident.StatusOpen {
			els = append(els, button(slackapp.ActionAcknowledge, "Acknowledge", slack.StylePrimary))
		}
		if s.Status != incident.StatusMitigated {
			els = append(els, button(slackapp.ActionMitigate, "Mitigated", ""))
		}
		els = append(els, button(slackapp.ActionResolve, "Resolve", slack.StyleDanger))
	}
	return els
}

func statusEmoji(s incident.Status) string {
	switch s {
	case incident.StatusOpen:
		return "🔥"
	case incident.StatusAcknowledged:
		return "👀"
	case incident.StatusMitigated:
		return "🩹"
	case incident.StatusResolved:
		return "✅"
	}
	return "🔥"
}

// person is a Slack mention of a user id, or a placeholder.
func person(id string) string {
	if id == "" {
		return "_none_"
	}
	if slackapp.IsUserID(id) {
		return slackapp.Mention(id)
	}
	return slackapp.Escape(id)
}

func personText(id string) string {
	if id == "" {
		return "none"
	}
	return id
}

// slackDate formats a time with Slack's date token, so each reader sees it
// in their own time zone; the fallback is UTC.
func slackDate(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
