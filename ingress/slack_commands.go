package ingress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/slackapp"
)

// slackReply is the JSON answer to a slash command.
type slackReply struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

func ephemeral(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusOK, slackReply{ResponseType: "ephemeral", Text: fmt.Sprintf(format, args...)})
}

// slackCommands is POST /slack/commands:
//
//	/incident                          open the declare form
//	/incident declare <title>          declare in the channel (the notifier posts the card)
//	/incident <verb> <incident-id> ... severity, assign, commander, unassign, ack, mitigate, resolve, reopen, title, note
//	/incident help
//
// Slack does not retry slash commands; the command id comes from the
// request's trigger_id all the same.
func (s *Server) slackCommands(w http.ResponseWriter, r *http.Request) {
	sc, err := slack.SlashCommandParse(r)
	if err != nil {
		s.writeRefusal(w, r, refusal(http.StatusBadRequest, CodeMalformedBody, "not a slash command form", err))
		return
	}
	if r.PostForm.Get("ssl_check") == "1" {
		w.WriteHeader(http.StatusOK) // Slack checking the certificate
		return
	}
	if sc.TeamID == "" || sc.UserID == "" || sc.ChannelID == "" || sc.TriggerID == "" {
		writeProblem(w, http.StatusBadRequest, CodeMalformedBody, "slash command without team_id, user_id, channel_id or trigger_id")
		return
	}
	ws, ok := s.workspaces[sc.TeamID]
	if !ok {
		s.log.Warn("slash command from unknown workspace", "team", sc.TeamID)
		ephemeral(w, "This Slack workspace is not set up for incidentd (team %s).", slackapp.Escape(sc.TeamID))
		return
	}
	if !s.workspaceAllowed(w, ws) {
		return
	}
	if sc.Command != s.cfg.SlashCommand {
		ephemeral(w, "incidentd answers to %s, not %s.", s.cfg.SlashCommand, slackapp.Escape(sc.Command))
		return
	}
	text := strings.TrimSpace(sc.Text)
	if text == "" {
		if err := s.openDeclareForm(r.Context(), ws, sc.TriggerID, sc.ChannelID); err != nil {
			s.log.Warn("open declare form", "team", ws.TeamID, "err", err)
			ephemeral(w, "I could not open the declare form (%s). Try `%s declare <title>`.", slackReason(err), s.cfg.SlashCommand)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	cmdID := incident.CommandIDFor("slack-command", ws.TeamID, sc.TriggerID)
	verb, rest, _ := strings.Cut(text, " ")
	rest = strings.TrimSpace(rest)
	req, err := parseSlackText(text, sc.UserID, s.cfg.Policy)
	switch {
	case err != nil && !isVerbWithID(verb):
		ephemeral(w, "%s", usageText(err, s.cfg.PinEmoji))
		return
	case err == nil && req.Verb == "help":
		ephemeral(w, slackHelp, s.cfg.PinEmoji)
		return
	case err == nil && (req.Verb == "declare" || req.Verb == ""):
		s.slashDeclare(w, r, ws, sc, cmdID, req.Title)
		return
	}
	// verb INCIDENT-ID [args]
	id, args, _ := strings.Cut(rest, " ")
	if !validIncidentID(id) {
		ephemeral(w, "Which incident? `%s %s <incident-id> ...` (the id is on the incident card).", s.cfg.SlashCommand, slackapp.Escape(strings.ToLower(verb)))
		return
	}
	req, err = parseSlackText(verb+" "+args, sc.UserID, s.cfg.Policy)
	if err != nil {
		ephemeral(w, "%s", usageText(err, s.cfg.PinEmoji))
		return
	}
	c := incident.Command{ID: cmdID, Incident: id, Tenant: ws.Tenant, Actor: sc.UserID, At: s.cfg.Now().UTC(),
		Source: incident.Source{Kind: incident.FromSlack, Team: ws.TeamID, Channel: sc.ChannelID}}
	req.apply(&c)
	if err := s.submit(r.Context(), "slack", c); err != nil {
		setRetryAfter(w, s.cfg.RetryAfter)
		ephemeral(w, "%s", unconfirmedText(err, fmt.Sprintf("`%s` for %s", req.Verb, id)))
		return
	}
	ephemeral(w, "`%s` sent for %s; the incident card will show the result.", req.Verb, id)
}

// unconfirmedText tells a Slack user what became of a command (what) that
// the log did not confirm: not done, or perhaps done.
func unconfirmedText(err error, what string) string {
	if errors.Is(err, errOutcomeUnknown) {
		return "The command log did not confirm " + what + " in time: it may still apply. " +
			"Check the incident card before you repeat it."
	}
	return "Nothing was done: the command log is unavailable, so " + what + " was not accepted. Try again in a moment."
}

// isVerbWithID reports whether a slash verb targets an existing incident.
func isVerbWithID(verb string) bool {
	switch strings.ToLower(verb) {
	case "severity", "sev", "assign", "commander", "unassign", "ack", "acknowledge", "mitigate", "mitigated",
		"resolve", "resolved", "reopen", "title", "note":
		return true
	}
	return false
}

// declareInChannel declares an incident in channel that has no thread yet
// (slash command, declare form): the notifier posts its card in the
// channel once the log has the command, and the card starts its thread.
// Nothing is posted before. The incident id derives from the command id,
// itself from what Slack repeats when it delivers the request again (the
// trigger id, the view id), so a replay is the same command on the same
// incident.
func (s *Server) declareInChannel(ctx context.Context, ws slackapp.Workspace, channel, user, cmdID, title, severity string) (string, error) {
	c := incident.Command{
		ID: cmdID, Incident: incident.SlackIncidentID(ws.TeamID, channel, cmdID), Tenant: ws.Tenant,
		Actor: user, At: s.cfg.Now().UTC(), Kind: incident.Declare, Title: title, Severity: severity,
		Source: incident.Source{Kind: incident.FromSlack, Team: ws.TeamID, Channel: channel},
	}
	return c.Incident, s.submit(ctx, "slack", c)
}

// slashDeclare declares from a slash command and answers it.
func (s *Server) slashDeclare(w http.ResponseWriter, r *http.Request, ws slackapp.Workspace, sc slack.SlashCommand, cmdID, title string) {
	id, err := s.declareInChannel(r.Context(), ws, sc.ChannelID, sc.UserID, cmdID, title, "")
	if err != nil {
		setRetryAfter(w, s.cfg.RetryAfter)
		ephemeral(w, "%s", unconfirmedText(err, "declaring “"+slackapp.Escape(title)+"”"))
		return
	}
	ephemeral(w, "Declaring “%s” (%s); the incident card follows in this channel.", slackapp.Escape(title), id)
}
