package ingress

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/slackapp"
)

// slackInteractions is POST /slack/interactions: block_actions from the
// incident card and view_submission of the declare form.
func (s *Server) slackInteractions(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeRefusal(w, r, refusal(http.StatusBadRequest, CodeMalformedBody, "not a form body", err))
		return
	}
	payload := r.PostForm.Get("payload")
	if payload == "" {
		writeProblem(w, http.StatusBadRequest, CodeMalformedBody, "no payload field")
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		s.writeRefusal(w, r, refusal(http.StatusBadRequest, CodeMalformedBody, "payload is not an interaction", err))
		return
	}
	ws, ok := s.workspaces[cb.Team.ID]
	if !ok {
		s.log.Warn("slack interaction from unknown workspace", "team", cb.Team.ID)
		ephemeral(w, "This Slack workspace is not set up for incidentd (team %s).", slackapp.Escape(cb.Team.ID))
		return
	}
	if !s.workspaceAllowed(w, ws) {
		return
	}
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		s.cardActions(w, r, ws, cb)
	case slack.InteractionTypeViewSubmission:
		s.declareSubmission(w, r, ws, cb)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// cardActions turns the card's buttons and selects (slackapp's action
// ids, which the notifier renders) into commands.
func (s *Server) cardActions(w http.ResponseWriter, r *http.Request, ws slackapp.Workspace, cb slack.InteractionCallback) {
	if cb.User.ID == "" {
		writeProblem(w, http.StatusBadRequest, CodeMalformedBody, "block_actions without user")
		return
	}
	var cmds []incident.Command
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil {
			continue
		}
		id, ok := slackapp.IncidentFromBlockID(a.BlockID)
		if !ok || !validIncidentID(id) {
			continue // not an incident card element
		}
		c := incident.Command{
			ID:       incident.CommandIDFor("slack-action", ws.TeamID, cb.TriggerID, a.ActionTs, a.ActionID, a.BlockID),
			Incident: id, Tenant: ws.Tenant, Actor: cb.User.ID, At: s.cfg.Now().UTC(),
			Source: incident.Source{Kind: incident.FromSlack, Team: ws.TeamID, Channel: cb.Channel.ID},
		}
		switch a.ActionID {
		case slackapp.ActionSeverity:
			c.Kind, c.Severity = incident.SetSeverity, a.SelectedOption.Value
		case slackapp.ActionAssign:
			c.Kind, c.Role, c.Person = incident.Assign, incident.Assignee, a.SelectedUser
		case slackapp.ActionAcknowledge:
			c.Kind = incident.Acknowledge
		case slackapp.ActionResolve:
			c.Kind = incident.Resolve
		case slackapp.ActionMitigate:
			c.Kind = incident.Mitigate
		case slackapp.ActionReopen:
			c.Kind = incident.Reopen
		default:
			continue
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := s.submit(r.Context(), "slack", c); err != nil {
			// Slack does not retry interactions: the user is told, in
			// the channel of the card, and the press is answered.
			s.replyEphemeral(r.Context(), ws, cb.Channel.ID, cb.User.ID, "", unconfirmedText(err, fmt.Sprintf("`%s` for %s", c.Kind, c.Incident)))
			setRetryAfter(w, s.cfg.RetryAfter)
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// viewErrors is a view_submission answer that keeps the modal open with
// errors under its inputs.
type viewErrors struct {
	ResponseAction string            `json:"response_action"`
	Errors         map[string]string `json:"errors"`
}

// declareSubmission declares the incident of a submitted declare form.
func (s *Server) declareSubmission(w http.ResponseWriter, r *http.Request, ws slackapp.Workspace, cb slack.InteractionCallback) {
	if cb.View.CallbackID != declareCallbackID {
		w.WriteHeader(http.StatusOK)
		return
	}
	var title, sev string
	if cb.View.State != nil {
		title = strings.TrimSpace(cb.View.State.Values[declareTitle][declareTitle].Value)
		sev = cb.View.State.Values[declareSeverity][declareSeverity].SelectedOption.Value
	}
	if title == "" {
		writeJSON(w, http.StatusOK, viewErrors{"errors", map[string]string{declareTitle: fmt.Sprintf("A title is 1 to %d characters.", incident.MaxTitle)}})
		return
	}
	if err := incident.CheckLine(title, incident.MaxTitle); err != nil {
		writeJSON(w, http.StatusOK, viewErrors{"errors", map[string]string{declareTitle: "The title " + err.Error() + "."}})
		return
	}
	if sev != "" {
		if _, ok := matchSeverity(sev, s.cfg.Policy); !ok {
			writeJSON(w, http.StatusOK, viewErrors{"errors", map[string]string{declareSeverity: "Pick one of " + strings.Join(s.cfg.Policy.Severities, ", ") + "."}})
			return
		}
	}
	channel := cb.View.PrivateMetadata
	if channel == "" {
		channel = ws.IncidentsChannel
	}
	if cb.User.ID == "" || channel == "" || cb.View.ID == "" {
		writeProblem(w, http.StatusBadRequest, CodeMalformedBody, "view_submission without user, view id or channel")
		return
	}
	_, err := s.declareInChannel(r.Context(), ws, channel, cb.User.ID, incident.CommandIDFor("slack-view", ws.TeamID, cb.View.ID), title, sev)
	switch {
	case err != nil:
		// The form stays open; submitting it again is the same command.
		setRetryAfter(w, s.cfg.RetryAfter)
		writeJSON(w, http.StatusOK, viewErrors{"errors", map[string]string{declareTitle: unconfirmedText(err, "the declaration")}})
	default:
		w.WriteHeader(http.StatusOK) // closes the form
	}
}
