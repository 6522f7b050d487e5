package ingress

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/goccy/go-json/v2"
	"github.com/slack-go/slack/slackevents"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/slackapp"
)

// slackOuter is the envelope of an Events API request, read first to
// route it: only the events incidentd subscribes to are parsed further.
type slackOuter struct {
	Type    string `json:"type"`
	TeamID  string `json:"team_id"`
	EventID string `json:"event_id"`
	Event   struct {
		Type string `json:"type"`
	} `json:"event"`
}

// slackEvents is POST /slack/events: url_verification, app_mention and
// reaction_added. Every event becomes at most one command whose id is
// derived from Slack's event_id, so Slack's retries (X-Slack-Retry-Num)
// and repeated deliveries are no-ops downstream.
func (s *Server) slackEvents(w http.ResponseWriter, r *http.Request) {
	body := slackBody(r)
	var outer slackOuter
	// Member names match exactly, as Slack sends them: "Type" is not
	// "type" (encoding/json would take it).
	if err := jsonv2.Unmarshal(body, &outer); err != nil {
		s.writeRefusal(w, r, refusal(http.StatusBadRequest, CodeMalformedBody, "not an Events API JSON body", err))
		return
	}
	if outer.Type == "" {
		// null, {} or an object without its type: no envelope Slack sends.
		writeProblem(w, http.StatusBadRequest, CodeMalformedBody, "not an Events API JSON body: no type")
		return
	}
	switch outer.Type {
	case slackevents.URLVerification:
		ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
		v, ok := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
		if err != nil || !ok || v.Challenge == "" {
			writeProblem(w, http.StatusBadRequest, CodeMalformedBody, "url_verification without a challenge")
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(v.Challenge))
		return
	case slackevents.CallbackEvent:
	default:
		// app_rate_limited and anything newer: nothing to do.
		w.WriteHeader(http.StatusOK)
		return
	}
	switch outer.Event.Type {
	case string(slackevents.AppMention), string(slackevents.ReactionAdded):
	default:
		w.WriteHeader(http.StatusOK)
		return
	}
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		s.writeRefusal(w, r, refusal(http.StatusBadRequest, CodeMalformedBody, "malformed "+outer.Event.Type+" event", err))
		return
	}
	ws, ok := s.workspaces[outer.TeamID]
	if !ok {
		s.log.Warn("slack event from unknown workspace", "team", outer.TeamID)
		writeJSON(w, http.StatusOK, map[string]string{"text": "This Slack workspace is not set up for incidentd (team " + slackapp.Escape(outer.TeamID) + ")."})
		return
	}
	if !s.workspaceAllowed(w, ws) {
		return
	}
	if outer.EventID == "" {
		writeProblem(w, http.StatusBadRequest, CodeMalformedBody, "event_callback without event_id")
		return
	}
	cmdID := incident.CommandIDFor("slack-event", outer.EventID)
	if _, done := s.tracker.outcome(cmdID); done {
		// A retry of an event whose command was already applied.
		w.WriteHeader(http.StatusOK)
		return
	}
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		s.slackMention(w, r, ws, cmdID, e)
	case *slackevents.ReactionAddedEvent:
		s.slackReaction(w, r, ws, cmdID, e)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// slackMention handles "@fire ...".
func (s *Server) slackMention(w http.ResponseWriter, r *http.Request, ws slackapp.Workspace, cmdID string, e *slackevents.AppMentionEvent) {
	if e.BotID != "" || e.User == "" || e.Channel == "" || e.TimeStamp == "" {
		w.WriteHeader(http.StatusOK) // bots, and mentions without a person, issue nothing
		return
	}
	thread := e.ThreadTimeStamp
	inThread := thread != "" && thread != e.TimeStamp
	if thread == "" {
		thread = e.TimeStamp
	}
	id := s.threadIncident(ws, e.Channel, thread)
	reply := func(text string) {
		s.replyEphemeral(r.Context(), ws, e.Channel, e.User, thread, text)
		w.WriteHeader(http.StatusOK)
	}
	req, err := parseSlackText(stripMention(e.Text), e.User, s.cfg.Policy)
	if err != nil {
		reply(usageText(err, s.cfg.PinEmoji))
		return
	}
	switch {
	case req.Verb == "help":
		reply(fmt.Sprintf(slackHelp, s.cfg.PinEmoji))
		return
	case req.Verb == "":
		// Free text declares, unless this thread already is an incident.
		if t, ok := s.tracker.incident(id); ok && t.State.Declared {
			reply("I did not understand that. " + fmt.Sprintf(slackHelp, s.cfg.PinEmoji))
			return
		}
		req.Verb, req.Kind = "declare", incident.Declare
	case req.Kind != incident.Declare && !inThread:
		reply("Mention me inside an incident's thread to change it, or `@fire <title>` to declare one.")
		return
	}
	c := incident.Command{
		ID: cmdID, Incident: id, Tenant: ws.Tenant, Actor: e.User, At: s.cfg.Now().UTC(),
	}
	req.apply(&c)
	// Where it is declared, or where a rejection is told to its author.
	c.Source = incident.Source{Kind: incident.FromSlack, Team: ws.TeamID, Channel: e.Channel, ThreadTS: thread}
	s.slackSubmit(w, r, c)
}

// slackReaction pins a message of an incident thread on the pin emoji.
func (s *Server) slackReaction(w http.ResponseWriter, r *http.Request, ws slackapp.Workspace, cmdID string, e *slackevents.ReactionAddedEvent) {
	if e.Reaction != s.cfg.PinEmoji || e.Item.Type != "message" || e.Item.Channel == "" || e.Item.Timestamp == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	at, ok := slackTime(e.Item.Timestamp)
	if !ok {
		writeProblem(w, http.StatusBadRequest, CodeMalformedBody, "reaction_added item.ts is not a Slack timestamp")
		return
	}
	msg := s.lookupMessage(r.Context(), ws, e.Item.Channel, e.Item.Timestamp)
	thread := msg.ThreadTS
	if thread == "" {
		thread = e.Item.Timestamp
	}
	id := s.threadIncident(ws, e.Item.Channel, thread)
	// Only messages of known incidents: a pin anywhere else would be a
	// rejected command per reaction in the whole workspace.
	if t, ok := s.tracker.incident(id); !ok || !t.State.Declared {
		s.log.Debug("pin outside a known incident thread", "incident_id", id)
		w.WriteHeader(http.StatusOK)
		return
	}
	author := e.ItemUser
	if author == "" {
		author = msg.User
	}
	c := incident.Command{
		ID: cmdID, Incident: id, Tenant: ws.Tenant, Actor: e.User, At: s.cfg.Now().UTC(), Kind: incident.PinMessage,
		Message: incident.SlackMessage{Channel: e.Item.Channel, TS: e.Item.Timestamp, Author: author, Text: msg.Text, At: at},
	}
	s.slackSubmit(w, r, c)
}

// threadIncident is the incident a Slack thread belongs to: the one
// declared in it (by a mention), or the one whose card started it (an
// incident declared by slash command or form).
func (s *Server) threadIncident(ws slackapp.Workspace, channel, thread string) string {
	id := incident.SlackIncidentID(ws.TeamID, channel, thread)
	if t, ok := s.tracker.incident(id); ok && t.State.Declared {
		return id
	}
	if card, ok := s.tracker.cardIncident(channel, thread); ok {
		if t, ok := s.tracker.incident(card); ok && t.State.Tenant == ws.Tenant {
			return card
		}
	}
	return id
}

// slackSubmit produces c and answers Slack: 200 once in the log; 503
// log_unavailable or 504 outcome_unknown otherwise, so that Slack retries
// with the same event id, which is the same command.
func (s *Server) slackSubmit(w http.ResponseWriter, r *http.Request, c incident.Command) {
	if err := s.submit(r.Context(), "slack", c); err != nil {
		s.writeSubmitError(w, c, "", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// slackTime parses a Slack message timestamp ("1700000000.000100").
func slackTime(ts string) (time.Time, bool) {
	secs, frac, _ := strings.Cut(ts, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec <= 0 || len(frac) > 6 {
		return time.Time{}, false
	}
	var usec int64
	if frac != "" {
		frac += strings.Repeat("0", 6-len(frac))
		if usec, err = strconv.ParseInt(frac, 10, 64); err != nil || usec < 0 {
			return time.Time{}, false
		}
	}
	return time.Unix(sec, usec*1000).UTC(), true
}
