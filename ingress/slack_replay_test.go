package ingress

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
)

// declareView is a submission of the declare form.
func declareView(viewID, title string) []byte {
	return interaction(map[string]any{
		"type": "view_submission", "api_app_id": "A0INCIDENTD", "token": "x", "trigger_id": "trig-" + viewID,
		"team": map[string]any{"id": teamID, "domain": "acme"},
		"user": map[string]any{"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": teamID},
		"view": map[string]any{
			"id": viewID, "team_id": teamID, "type": "modal", "callback_id": declareCallbackID, "private_metadata": channelID,
			"state": map[string]any{"values": map[string]any{
				declareTitle: map[string]any{declareTitle: map[string]any{"type": "plain_text_input", "value": title}},
			}},
		},
	})
}

// TestSlackDeclareReplayedIsOneIncident delivers a signed slash declare
// and a declare form submission three times each, byte for byte (a Slack
// retry, or a replay inside the 5-minute window): each is one command on
// one incident, declared once, and ingress posts nothing in Slack (the
// notifier's card is the one announcement, after the log has the
// command). With the broker down, a declare posts nothing either. A
// mention in the thread the card starts changes that incident.
func TestSlackDeclareReplayedIsOneIncident(t *testing.T) {
	h := startHarness(t, withConfig(func(c *Config) { c.ProduceTimeout = 2 * time.Second }))
	h.runProcessor(0)
	replay := func(path string, body []byte) {
		t.Helper()
		stamp, sig := slackSign(signingSecret, time.Now(), body)
		for i := range 3 {
			hdr := []string{"Content-Type", form, "X-Slack-Request-Timestamp", stamp, "X-Slack-Signature", sig}
			if i > 0 {
				hdr = append(hdr, "X-Slack-Retry-Num", "1", "X-Slack-Retry-Reason", "http_timeout")
			}
			wantStatus(t, h.do(http.MethodPost, path, "", body, hdr...), http.StatusOK)
		}
	}
	replay("/slack/commands", slashForm(teamID, channelID, "U0ALICE", "/incident", "declare checkout down", "trig-replay"))
	replay("/slack/interactions", declareView("V0REPLAY", "search down"))

	slashCmd := incident.CommandIDFor("slack-command", teamID, "trig-replay")
	slashID := incident.SlackIncidentID(teamID, channelID, slashCmd)
	formCmd := incident.CommandIDFor("slack-view", teamID, "V0REPLAY")
	formID := incident.SlackIncidentID(teamID, channelID, formCmd)
	cmds := h.commands(6)
	for _, c := range cmds {
		if !(c.ID == slashCmd && c.Incident == slashID) && !(c.ID == formCmd && c.Incident == formID) {
			t.Fatalf("command %+v is not one of the two declares", c)
		}
	}
	if len(cmds) != 6 {
		t.Fatalf("%d commands, want 6 (3 deliveries of 2 declares)", len(cmds))
	}
	testenv.Eventually(t, 30*time.Second, "both incidents declared", func() bool {
		a, okA := h.srv.tracker.incident(slashID)
		b, okB := h.srv.tracker.incident(formID)
		return okA && okB && a.State.Declared && b.State.Declared
	})
	declared := 0
	for _, r := range testenv.ReadTopicN(t, h.kcfg, h.kcfg.Topics().Events, 2) {
		e, err := wire.DecodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == incident.Declared {
			declared++
		}
	}
	if declared != 2 {
		t.Fatalf("%d declared events, want 2", declared)
	}
	if posts := h.slack.CallsTo("chat.postMessage"); len(posts) != 0 {
		t.Fatalf("ingress posted in Slack: %+v", posts)
	}

	// The notifier records the card it posted; a mention in the card's
	// thread is about that incident.
	const cardTS = "1700000900.000100"
	rec, _ := wire.EncodeCommand(incident.Command{ID: "c-card", Incident: slashID, Tenant: "acme", Actor: "notifier",
		At: time.Now().UTC(), Kind: incident.RecordSlackMessage, Message: incident.SlackMessage{Channel: channelID, TS: cardTS}})
	if err := h.srv.producer.ProduceSync(t.Context(), &kgo.Record{Key: []byte(slashID), Value: rec}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the card recorded", func() bool {
		_, ok := h.srv.tracker.cardIncident(channelID, cardTS)
		return ok
	})
	wantStatus(t, h.slackPost("/slack/events", "application/json",
		mentionEvent("EvCardThread", channelID, "U0ALICE", "<@UBOT> resolve", "1700000901.000100", cardTS)), http.StatusOK)
	cmds = h.commands(8)
	if last := cmds[len(cmds)-1]; last.Kind != incident.Resolve || last.Incident != slashID {
		t.Fatalf("mention in the card's thread: %+v", last)
	}

	h.kafka.Stop()
	r := h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", "declare during outage", "trig-down"))
	wantStatus(t, r, http.StatusOK)
	var reply slackReply
	r.json(t, &reply)
	if r.Header.Get("Retry-After") == "" ||
		!strings.Contains(reply.Text, "Nothing was done") && !strings.Contains(reply.Text, "may still apply") {
		t.Fatalf("declare with the broker down: %+v", reply)
	}
	if posts := h.slack.CallsTo("chat.postMessage"); len(posts) != 0 {
		t.Fatalf("ingress posted in Slack with the broker down: %+v", posts)
	}
}
