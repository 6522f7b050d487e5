package ingress

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/slackapp"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// Payloads in the shapes of Slack's API reference.

func mentionEvent(eventID, channel, user, text, ts, threadTS string) []byte {
	ev := map[string]any{
		"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts,
		"blocks": []any{map[string]any{"type": "rich_text", "block_id": "b1", "elements": []any{}}},
	}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return callback(teamID, eventID, ev)
}

func callback(team, eventID string, ev map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"token": "ZZZZZZWSxiZZZ2yIvs3peJ", "team_id": team, "api_app_id": "A0INCIDENTD", "event": ev,
		"type": "event_callback", "event_id": eventID, "event_time": 1700000000, "authed_users": []string{"UBOT"},
		"event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
	})
	return b
}

func slashForm(team, channel, user, command, text, trigger string) []byte {
	v := url.Values{
		"token": {"gIkuvaNzQIHg97ATvDxqgjtO"}, "team_id": {team}, "team_domain": {"acme"},
		"channel_id": {channel}, "channel_name": {"incidents"}, "user_id": {user}, "user_name": {"alice"},
		"command": {command}, "text": {text}, "api_app_id": {"A0INCIDENTD"},
		"response_url": {"https://hooks.slack.com/commands/1234/5678"}, "trigger_id": {trigger},
	}
	return []byte(v.Encode())
}

func interaction(payload map[string]any) []byte {
	b, _ := json.Marshal(payload)
	return []byte(url.Values{"payload": {string(b)}}.Encode())
}

func blockAction(user, trigger string, action map[string]any) []byte {
	return interaction(map[string]any{
		"type": "block_actions", "api_app_id": "A0INCIDENTD", "token": "x", "trigger_id": trigger,
		"team":         map[string]any{"id": teamID, "domain": "acme"},
		"user":         map[string]any{"id": user, "username": "alice", "name": "alice", "team_id": teamID},
		"container":    map[string]any{"type": "message", "message_ts": "1700000000.000900", "channel_id": channelID, "is_ephemeral": false},
		"channel":      map[string]any{"id": channelID, "name": "incidents"},
		"response_url": "https://hooks.slack.com/actions/T0/1/x",
		"actions":      []any{action},
	})
}

const form = "application/x-www-form-urlencoded"

func TestSlackURLVerification(t *testing.T) {
	h := startHarness(t)
	r := h.slackPost("/slack/events", "application/json",
		[]byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`))
	wantStatus(t, r, http.StatusOK)
	if string(r.body) != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("challenge answer %q", r.body)
	}
}

func TestSlackSignatureRefused(t *testing.T) {
	h := startHarness(t)
	body := mentionEvent("EvSIG", "C1", "U1", "<@UBOT> forged outage", "1700000000.000100", "")
	now := time.Now()
	good, goodSig := slackSign(signingSecret, now, body)
	_, wrongSecret := slackSign("not-the-secret", now, body)
	stale, staleSig := slackSign(signingSecret, now.Add(-6*time.Minute), body)
	future, futureSig := slackSign(signingSecret, now.Add(6*time.Minute), body)
	for _, tc := range []struct {
		name     string
		body     []byte
		ts, sig  string
		wantCode string
	}{
		{"wrong secret", body, good, wrongSecret, CodeBadSignature},
		{"tampered body", []byte(strings.Replace(string(body), "forged", "forgeD", 1)), good, goodSig, CodeBadSignature},
		{"stale timestamp", body, stale, staleSig, CodeBadSignature},
		{"future timestamp", body, future, futureSig, CodeBadSignature},
		{"no signature", body, good, "", CodeBadSignature},
		{"no timestamp", body, "", goodSig, CodeBadSignature},
		{"not hex", body, good, "v0=zz", CodeBadSignature},
		{"wrong version", body, good, strings.Replace(goodSig, "v0=", "v1=", 1), CodeBadSignature},
		{"replayed with another timestamp", body, stale, goodSig, CodeBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/slack/events", "/slack/commands", "/slack/interactions"} {
				var hdr []string
				if tc.ts != "" {
					hdr = append(hdr, "X-Slack-Request-Timestamp", tc.ts)
				}
				if tc.sig != "" {
					hdr = append(hdr, "X-Slack-Signature", tc.sig)
				}
				r := h.do(http.MethodPost, path, "", tc.body, hdr...)
				wantStatus(t, r, http.StatusUnauthorized)
				if p := r.problem(t); p.Code != tc.wantCode {
					t.Fatalf("%s: problem %+v", path, p)
				}
			}
		})
	}
	// Nothing of the refused requests reached the log: the first command
	// is the one of a correctly signed request.
	wantStatus(t, h.slackPost("/slack/events", "application/json", mentionEvent("EvOK", "C1", "U1", "<@UBOT> real outage", "1700000000.000200", "")), http.StatusOK)
	if cmds := h.commands(1); len(cmds) != 1 || cmds[0].Title != "real outage" {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestSlackMentionDeclaresAndCommands(t *testing.T) {
	h := startHarness(t)
	const thread = "1700000000.000100"
	id := incident.SlackIncidentID(teamID, "C1", thread)
	steps := []struct {
		eventID, text, ts, threadTS string
		retry                       string
	}{
		{"Ev1", "<@UBOT> server down!", thread, "", ""},
		{"Ev1", "<@UBOT> server down!", thread, "", "1"}, // Slack's retry of the same event
		{"Ev2", "<@UBOT> severity sev1", "1700000001.000100", thread, ""},
		{"Ev3", "<@UBOT|fire> assign <@U0BOB>", "1700000002.000100", thread, ""},
		{"Ev4", "<@UBOT> commander me", "1700000003.000100", thread, ""},
		{"Ev5", "<@UBOT> ack", "1700000004.000100", thread, ""},
		{"Ev6", "<@UBOT> title checkout 500s", "1700000005.000100", thread, ""},
		{"Ev7", "<@UBOT> note rolled back deploy 42", "1700000006.000100", thread, ""},
		{"Ev8", "<@UBOT> mitigate", "1700000007.000100", thread, ""},
		{"Ev9", "<@UBOT> resolve", "1700000008.000100", thread, ""},
		{"Ev10", "<@UBOT> reopen", "1700000009.000100", thread, ""},
		{"Ev11", "<@UBOT> server down again", "1700000010.000100", thread, ""}, // repeated @fire in the thread: same incident
	}
	for _, s := range steps {
		var hdr []string
		if s.retry != "" {
			hdr = []string{"X-Slack-Retry-Num", s.retry, "X-Slack-Retry-Reason", "http_timeout"}
		}
		r := h.slackPost("/slack/events", "application/json", mentionEvent(s.eventID, "C1", "U0ALICE", s.text, s.ts, s.threadTS), hdr...)
		wantStatus(t, r, http.StatusOK)
	}
	cmds := h.commands(len(steps))
	if len(cmds) != len(steps) {
		t.Fatalf("%d commands, want %d", len(cmds), len(steps))
	}
	// Every command says where it came from: where a rejection is told.
	from := incident.Source{Kind: incident.FromSlack, Team: teamID, Channel: "C1", ThreadTS: thread}
	for i, c := range cmds {
		if c.Incident != id || c.Tenant != "acme" || c.Actor != "U0ALICE" || c.ID != incident.CommandIDFor("slack-event", steps[i].eventID) ||
			c.Source != from {
			t.Errorf("command %d: %+v", i, c)
		}
	}
	d := cmds[0]
	if d.Kind != incident.Declare || d.Title != "server down!" ||
		d.Source != (incident.Source{Kind: incident.FromSlack, Team: teamID, Channel: "C1", ThreadTS: thread}) {
		t.Fatalf("declare %+v", d)
	}
	if cmds[1].ID != d.ID {
		t.Fatal("a retry got another command id")
	}
	want := []func(c incident.Command) bool{
		2: func(c incident.Command) bool { return c.Kind == incident.SetSeverity && c.Severity == "SEV1" },
		3: func(c incident.Command) bool {
			return c.Kind == incident.Assign && c.Role == incident.Assignee && c.Person == "U0BOB"
		},
		4: func(c incident.Command) bool {
			return c.Kind == incident.Assign && c.Role == incident.Commander && c.Person == "U0ALICE"
		},
		5:  func(c incident.Command) bool { return c.Kind == incident.Acknowledge },
		6:  func(c incident.Command) bool { return c.Kind == incident.SetTitle && c.Title == "checkout 500s" },
		7:  func(c incident.Command) bool { return c.Kind == incident.AddNote && c.Note == "rolled back deploy 42" },
		8:  func(c incident.Command) bool { return c.Kind == incident.Mitigate },
		9:  func(c incident.Command) bool { return c.Kind == incident.Resolve },
		10: func(c incident.Command) bool { return c.Kind == incident.Reopen },
		11: func(c incident.Command) bool { return c.Kind == incident.Declare && c.Title == "server down again" },
	}
	for i := 2; i < len(want); i++ {
		if !want[i](cmds[i]) {
			t.Errorf("step %d (%q): command %+v", i, steps[i].text, cmds[i])
		}
	}
}

// TestSlackRetriesAreNoOps runs the commands through the model: a retried
// event and a repeated delivery change the incident once.
func TestSlackRetriesAreNoOps(t *testing.T) {
	h := startHarness(t)
	h.runProcessor(0)
	body := mentionEvent("EvR1", "C1", "U1", "<@UBOT> disk full", "1700000100.000100", "")
	for i := range 3 {
		var hdr []string
		if i > 0 {
			hdr = []string{"X-Slack-Retry-Num", fmt.Sprint(i), "X-Slack-Retry-Reason", "http_timeout"}
		}
		wantStatus(t, h.slackPost("/slack/events", "application/json", body, hdr...), http.StatusOK)
	}
	id := incident.SlackIncidentID(teamID, "C1", "1700000100.000100")
	testenv.Eventually(t, 5*time.Second, "the tracker to see the declaration", func() bool {
		tr, ok := h.srv.tracker.incident(id)
		return ok && tr.State.Declared
	})
	recs := testenv.ReadTopicN(t, h.kcfg, h.kcfg.Topics().Events, 1)
	if len(recs) != 1 {
		t.Fatalf("%d events, want 1", len(recs))
	}
	e, err := wire.DecodeEvent(recs[0].Value)
	if err != nil || e.Kind != incident.Declared || e.Incident != id {
		t.Fatalf("event %+v, %v", e, err)
	}
}

func TestSlackMentionReplies(t *testing.T) {
	h := startHarness(t)
	const thread = "1700000200.000100"
	for _, tc := range []struct {
		eventID, text, ts, threadTS, want string
	}{
		{"EvH1", "<@UBOT> help", thread, "", "Commands"},
		{"EvH2", "<@UBOT>", thread, "", "Commands"},
		{"EvH3", "<@UBOT> severity", "1700000201.000100", thread, "Which severity?"},
		{"EvH4", "<@UBOT> assign bob", "1700000202.000100", thread, "Who?"},
		{"EvH5", "<@UBOT> resolve", thread, "", "inside an incident's thread"},
	} {
		wantStatus(t, h.slackPost("/slack/events", "application/json", mentionEvent(tc.eventID, "C1", "U0ALICE", tc.text, tc.ts, tc.threadTS)), http.StatusOK)
		testenv.Eventually(t, 5*time.Second, "ephemeral reply to "+tc.text, func() bool {
			for _, m := range h.slack.Messages("C1") {
				if m.Ephemeral && m.User == "U0ALICE" && m.ThreadTS == thread && strings.Contains(m.Text, tc.want) {
					return true
				}
			}
			return false
		})
	}
	// An unknown workspace, a bot's own mention and other events: 200, no
	// command.
	unknown := mentionEvent("EvU1", "C1", "U1", "<@UBOT> outage", "1700000203.000100", "")
	unknown = []byte(strings.Replace(string(unknown), teamID, "T0OTHER", 1))
	r := h.slackPost("/slack/events", "application/json", unknown)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "not set up") {
		t.Fatalf("unknown team answer %s", r.body)
	}
	bot := callback(teamID, "EvB1", map[string]any{"type": "app_mention", "user": "U1", "bot_id": "B1", "text": "<@UBOT> loop", "ts": "1.1", "channel": "C1"})
	wantStatus(t, h.slackPost("/slack/events", "application/json", bot), http.StatusOK)
	other := callback(teamID, "EvO1", map[string]any{"type": "message", "user": "U1", "text": "hi", "ts": "1.2", "channel": "C1"})
	wantStatus(t, h.slackPost("/slack/events", "application/json", other), http.StatusOK)
	// Malformed bodies are refused with a clear problem.
	for _, b := range []string{`{`, `{"type":"event_callback","team_id":"` + teamID + `","event_id":"E","event":{"type":"app_mention","ts":5}}`} {
		r := h.slackPost("/slack/events", "application/json", []byte(b))
		wantStatus(t, r, http.StatusBadRequest)
		r.problem(t)
	}
	// None of the above produced a command: the next real one is first.
	wantStatus(t, h.slackPost("/slack/events", "application/json", mentionEvent("EvReal", "C1", "U1", "<@UBOT> real", "1700000300.000100", "")), http.StatusOK)
	if cmds := h.commands(1); len(cmds) != 1 || cmds[0].Title != "real" {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestSlackSlashCommand(t *testing.T) {
	h := startHarness(t)
	// No text: the declare form opens with the request's trigger.
	r := h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", "", "trig-1"))
	wantStatus(t, r, http.StatusOK)
	opens := h.slack.CallsTo("views.open")
	if len(opens) != 1 || !opens[0].OK() || opens[0].Params.Get("trigger_id") != "trig-1" ||
		!strings.Contains(opens[0].Params.Get("view"), declareCallbackID) || !strings.Contains(opens[0].Params.Get("view"), channelID) {
		t.Fatalf("views.open calls %+v", opens)
	}

	// declare <title>: the incident, in the channel; nothing is posted
	// before the log has it (the notifier posts the card).
	r = h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", "declare payments failing", "trig-2"))
	wantStatus(t, r, http.StatusOK)
	var reply slackReply
	r.json(t, &reply)
	if posts := h.slack.CallsTo("chat.postMessage"); len(posts) != 0 {
		t.Fatalf("posted before the log had the declare: %+v", posts)
	}
	declareID := incident.CommandIDFor("slack-command", teamID, "trig-2")
	id := incident.SlackIncidentID(teamID, channelID, declareID)
	if reply.ResponseType != "ephemeral" || !strings.Contains(reply.Text, id) {
		t.Fatalf("reply %+v", reply)
	}

	// verb incident-id args.
	wantStatus(t, h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", "severity "+id+" SEV2", "trig-3")), http.StatusOK)
	wantStatus(t, h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", "resolve "+id, "trig-4")), http.StatusOK)

	// Usage errors and unknown workspaces answer with text, produce nothing.
	for _, tc := range []struct{ team, command, text, want string }{
		{teamID, "/incident", "resolve", "Which incident?"},
		{teamID, "/incident", "severity " + id, "Which severity?"},
		{teamID, "/incident", "help", "Commands"},
		{teamID, "/other", "declare x", "answers to /incident"},
		{"T0OTHER", "/incident", "declare x", "not set up"},
	} {
		r := h.slackPost("/slack/commands", form, slashForm(tc.team, channelID, "U0ALICE", tc.command, tc.text, "trig-x"))
		wantStatus(t, r, http.StatusOK)
		r.json(t, &reply)
		if reply.ResponseType != "ephemeral" || !strings.Contains(reply.Text, tc.want) {
			t.Errorf("%q: reply %+v", tc.text, reply)
		}
	}
	cmds := h.commands(3)
	if len(cmds) != 3 {
		t.Fatalf("commands %+v", cmds)
	}
	if c := cmds[0]; c.Kind != incident.Declare || c.Incident != id || c.Title != "payments failing" ||
		c.Source != (incident.Source{Kind: incident.FromSlack, Team: teamID, Channel: channelID}) || c.ID != declareID {
		t.Fatalf("declare %+v", c)
	}
	from := incident.Source{Kind: incident.FromSlack, Team: teamID, Channel: channelID} // where a rejection is told
	if c := cmds[1]; c.Kind != incident.SetSeverity || c.Severity != "SEV2" || c.Incident != id || c.Source != from {
		t.Fatalf("severity %+v", c)
	}
	if c := cmds[2]; c.Kind != incident.Resolve || c.Incident != id || c.Tenant != "acme" || c.Source != from {
		t.Fatalf("resolve %+v", c)
	}
}

func TestSlackInteractions(t *testing.T) {
	h := startHarness(t)
	id := incident.SlackIncidentID(teamID, channelID, "1700000000.000900")
	block := slackapp.BlockIDPrefix + id
	actions := []map[string]any{
		{"action_id": slackapp.ActionSeverity, "block_id": block, "type": "static_select", "action_ts": "1700000001.000001",
			"selected_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": "SEV1"}, "value": "SEV1"}},
		{"action_id": slackapp.ActionAssign, "block_id": block, "type": "users_select", "action_ts": "1700000001.000002", "selected_user": "U0BOB"},
		{"action_id": slackapp.ActionAcknowledge, "block_id": block, "type": "button", "value": id, "action_ts": "1700000001.000003",
			"text": map[string]any{"type": "plain_text", "text": "Acknowledge"}},
		{"action_id": slackapp.ActionMitigate, "block_id": block, "type": "button", "value": id, "action_ts": "1700000001.000004"},
		{"action_id": slackapp.ActionResolve, "block_id": block, "type": "button", "value": id, "action_ts": "1700000001.000005"},
		{"action_id": slackapp.ActionReopen, "block_id": block, "type": "button", "value": id, "action_ts": "1700000001.000006"},
		// Not the card's: ignored.
		{"action_id": "something_else", "block_id": "other", "type": "button", "value": "x", "action_ts": "1700000001.000007"},
	}
	for i, a := range actions {
		wantStatus(t, h.slackPost("/slack/interactions", form, blockAction("U0ALICE", fmt.Sprintf("trig-%d", i), a)), http.StatusOK)
	}
	// The declare form's submission.
	view := func(title, sev string) []byte {
		return interaction(map[string]any{
			"type": "view_submission", "api_app_id": "A0INCIDENTD", "token": "x", "trigger_id": "trig-v",
			"team": map[string]any{"id": teamID, "domain": "acme"},
			"user": map[string]any{"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": teamID},
			"view": map[string]any{
				"id": "V0FORM1", "team_id": teamID, "type": "modal", "callback_id": declareCallbackID, "private_metadata": channelID,
				"hash": "156772938.1827394",
				"state": map[string]any{"values": map[string]any{
					declareTitle:    map[string]any{declareTitle: map[string]any{"type": "plain_text_input", "value": title}},
					declareSeverity: map[string]any{declareSeverity: map[string]any{"type": "static_select", "selected_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": sev}, "value": sev}}},
				}},
			},
		})
	}
	r := h.slackPost("/slack/interactions", form, view("  ", "SEV2"))
	wantStatus(t, r, http.StatusOK)
	var ve viewErrors
	r.json(t, &ve)
	if ve.ResponseAction != "errors" || ve.Errors[declareTitle] == "" {
		t.Fatalf("empty title: %s", r.body)
	}
	r = h.slackPost("/slack/interactions", form, view("search is slow", "SEV2"))
	wantStatus(t, r, http.StatusOK)
	if len(r.body) != 0 {
		t.Fatalf("submission answer %q, want empty (closes the form)", r.body)
	}
	// Malformed.
	for _, b := range []string{"payload=%7B", "nothing=1"} {
		r := h.slackPost("/slack/interactions", form, []byte(b))
		wantStatus(t, r, http.StatusBadRequest)
		r.problem(t)
	}

	cmds := h.commands(7)
	if len(cmds) != 7 {
		t.Fatalf("%d commands: %+v", len(cmds), cmds)
	}
	wantKinds := []incident.CommandKind{incident.SetSeverity, incident.Assign, incident.Acknowledge, incident.Mitigate, incident.Resolve, incident.Reopen}
	for i, k := range wantKinds {
		if c := cmds[i]; c.Kind != k || c.Incident != id || c.Tenant != "acme" || c.Actor != "U0ALICE" ||
			c.Source != (incident.Source{Kind: incident.FromSlack, Team: teamID, Channel: channelID}) {
			t.Errorf("action %d: %+v", i, c)
		}
	}
	if cmds[0].Severity != "SEV1" || cmds[1].Person != "U0BOB" || cmds[1].Role != incident.Assignee {
		t.Errorf("select values: %+v %+v", cmds[0], cmds[1])
	}
	d := cmds[6]
	if d.Kind != incident.Declare || d.Title != "search is slow" || d.Severity != "SEV2" || d.Source.Channel != channelID ||
		d.Source.ThreadTS != "" || d.ID != incident.CommandIDFor("slack-view", teamID, "V0FORM1") ||
		d.Incident != incident.SlackIncidentID(teamID, channelID, d.ID) {
		t.Fatalf("declare %+v", d)
	}
}

func TestSlackPinReaction(t *testing.T) {
	h := startHarness(t)
	h.runProcessor(0)
	const thread = "1700000400.000100"
	id := incident.SlackIncidentID(teamID, "C1", thread)
	wantStatus(t, h.slackPost("/slack/events", "application/json", mentionEvent("EvP0", "C1", "U1", "<@UBOT> cache stampede", thread, "")), http.StatusOK)
	testenv.Eventually(t, 5*time.Second, "the tracker to know the incident", func() bool {
		tr, ok := h.srv.tracker.incident(id)
		return ok && tr.State.Declared
	})
	h.slack.AddMessage(slackfake.Message{Team: teamID, Channel: "C1", TS: "1700000450.000200", ThreadTS: thread, From: "U0CAROL", Text: "error rate back to 0.1%"})
	reaction := func(eventID, emoji, ts string) []byte {
		return callback(teamID, eventID, map[string]any{
			"type": "reaction_added", "user": "U0ALICE", "reaction": emoji, "item_user": "U0CAROL",
			"item": map[string]any{"type": "message", "channel": "C1", "ts": ts}, "event_ts": "1700000500.000100",
		})
	}
	for _, tc := range []struct{ id, emoji, ts string }{
		{"EvP1", "thumbsup", "1700000450.000200"}, // not the pin emoji
		{"EvP2", "pushpin", "1700000999.000100"},  // a message outside any incident
		{"EvP3", "pushpin", "1700000450.000200"},  // a reply in the thread: pinned with its text
		{"EvP4", "pushpin", "1700000460.000300"},  // unknown to the Slack API and no incident anchor: ignored
	} {
		wantStatus(t, h.slackPost("/slack/events", "application/json", reaction(tc.id, tc.emoji, tc.ts)), http.StatusOK)
	}
	// The anchor message itself, with Slack's lookup failing: pinned with
	// empty text.
	wantStatus(t, h.slackPost("/slack/events", "application/json", reaction("EvP5", "pushpin", thread)), http.StatusOK)

	cmds := h.commands(3)
	if len(cmds) != 3 {
		t.Fatalf("commands %+v", cmds)
	}
	p := cmds[1]
	wantAt := time.Unix(1700000450, 200000).UTC()
	if p.Kind != incident.PinMessage || p.Incident != id || p.ID != incident.CommandIDFor("slack-event", "EvP3") ||
		p.Message != (incident.SlackMessage{Channel: "C1", TS: "1700000450.000200", Author: "U0CAROL", Text: "error rate back to 0.1%", At: wantAt}) {
		t.Fatalf("pin %+v", p)
	}
	if q := cmds[2]; q.Kind != incident.PinMessage || q.Incident != id || q.Message.Text != "" || q.Message.TS != thread {
		t.Fatalf("anchor pin %+v", q)
	}
}

func TestSlackNotConfigured(t *testing.T) {
	h := startHarness(t, withConfig(func(c *Config) { c.SlackSigningSecret = "" }))
	r := h.slackPost("/slack/events", "application/json", []byte(`{"type":"url_verification","challenge":"x"}`))
	wantStatus(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); p.Code != CodeSlackNotConfigured {
		t.Fatalf("problem %+v", p)
	}
}

func TestSlackTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1700000450.000200", time.Unix(1700000450, 200000).UTC(), true},
		{"1700000450", time.Unix(1700000450, 0).UTC(), true},
		{"1700000450.2", time.Unix(1700000450, 200000000).UTC(), true},
		{"", time.Time{}, false},
		{"abc.def", time.Time{}, false},
		{"-5.1", time.Time{}, false},
		{"1.1234567", time.Time{}, false},
		{"1.-1", time.Time{}, false},
	} {
		got, ok := slackTime(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("slackTime(%q) = %v, %v", tc.in, got, ok)
		}
	}
}

// TestSlackAnswersWithin3sWhenSlackHangs points ingress at a Slack Web API
// that never answers: every Slack request is still answered well within
// Slack's 3 s, with a clear reply.
func TestSlackAnswersWithin3sWhenSlackHangs(t *testing.T) {
	hang := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); stuck.Close() })
	h := startHarness(t, withConfig(func(c *Config) { c.SlackAPIURL = stuck.URL + "/api/" }))
	h.runProcessor(0)
	const thread = "1700000800.000100"
	id := incident.SlackIncidentID(teamID, "C1", thread)
	wantStatus(t, h.slackPost("/slack/events", "application/json", mentionEvent("EvS0", "C1", "U1", "<@UBOT> slack is slow", thread, "")), http.StatusOK)
	testenv.Eventually(t, 5*time.Second, "the tracker to know the incident", func() bool {
		tr, ok := h.srv.tracker.incident(id)
		return ok && tr.State.Declared
	})

	timed := func(name string, f func() response) response {
		t.Helper()
		start := time.Now()
		r := f()
		if el := time.Since(start); el > 2500*time.Millisecond {
			t.Fatalf("%s answered after %v", name, el)
		}
		return r
	}
	// The declare form cannot open: an ephemeral explanation instead.
	r := timed("slash command", func() response {
		return h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U1", "/incident", "", "trig-s"))
	})
	wantStatus(t, r, http.StatusOK)
	var reply slackReply
	r.json(t, &reply)
	if !strings.Contains(reply.Text, "could not open the declare form") {
		t.Fatalf("reply %+v", reply)
	}
	// A slash declare needs no Slack call before its answer.
	r = timed("slash declare", func() response {
		return h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U1", "/incident", "declare x", "trig-t"))
	})
	wantStatus(t, r, http.StatusOK)
	r.json(t, &reply)
	if !strings.Contains(reply.Text, "Declaring") {
		t.Fatalf("reply %+v", reply)
	}
	// A pin whose message cannot be looked up is pinned without text.
	r = timed("pin reaction", func() response {
		return h.slackPost("/slack/events", "application/json", callback(teamID, "EvS1", map[string]any{
			"type": "reaction_added", "user": "U1", "reaction": "pushpin", "item_user": "U1",
			"item": map[string]any{"type": "message", "channel": "C1", "ts": thread},
		}))
	})
	wantStatus(t, r, http.StatusOK)
	// Help replies go out after the answer, so they never delay it.
	timed("help", func() response {
		return h.slackPost("/slack/events", "application/json", mentionEvent("EvS2", "C1", "U1", "<@UBOT> help", thread, ""))
	})
	cmds := h.commands(3)
	if len(cmds) != 3 || cmds[1].Kind != incident.Declare || cmds[2].Kind != incident.PinMessage || cmds[2].Message.Text != "" || cmds[2].Incident != id {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestStripMention(t *testing.T) {
	for in, want := range map[string]string{
		"<@UBOT> server down!":            "server down!",
		"<@UBOT|fire>: assign <@U2>":      "assign <@U2>",
		"hey <@UBOT> resolve":             "resolve",
		"  <@UBOT>":                       "",
		"no mention at all":               "no mention at all",
		"<@UBOT> note see <@U3> and <#C>": "note see <@U3> and <#C>",
	} {
		if got := stripMention(in); got != want {
			t.Errorf("stripMention(%q) = %q, want %q", in, got, want)
		}
	}
}
