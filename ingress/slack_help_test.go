package ingress

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/slackapp"
)

// TestSlackUnknownVerbsAnswerHelp: a lone word that is, or nearly is, a
// command word (list, lsit, resolv) answers with what it is not and the
// help, by slash command and by mention, and declares nothing; `declare
// list` and a title of several words still declare. A workspace without a
// bot token gets its replies in the local outbox, shown to its tenant
// only.
func TestSlackUnknownVerbsAnswerHelp(t *testing.T) {
	outbox := filepath.Join(t.TempDir(), "outbox.jsonl")
	h := startHarness(t, withConfig(func(c *Config) {
		c.OutboxPath = outbox
		c.Workspaces = append(c.Workspaces, slackapp.Workspace{TeamID: "T0NOBOT", Tenant: "globex"})
	}))
	for i, text := range []string{"list", "lsit", "LIST", "status", "resolv"} {
		r := h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", text, "trig-h"+text))
		wantStatus(t, r, http.StatusOK)
		var reply slackReply
		r.json(t, &reply)
		if reply.ResponseType != "ephemeral" || !strings.Contains(reply.Text, "`"+text+"` is not a command") ||
			!strings.Contains(reply.Text, "Commands") || strings.Contains(reply.Text, "%!") {
			t.Errorf("/incident %s: reply %+v", text, reply)
		}
		if text == "resolv" && !strings.Contains(reply.Text, "did you mean `resolve`") {
			t.Errorf("/incident resolv: reply %q, want a suggestion", reply.Text)
		}

		ts := "1700000500.00010" + string(rune('0'+i))
		wantStatus(t, h.slackPost("/slack/events", "application/json",
			mentionEvent("EvHelp"+text, "C1", "U0ALICE", "<@UBOT> "+text, ts, "")), http.StatusOK)
		testenv.Eventually(t, 5*time.Second, "help reply to @fire "+text, func() bool {
			for _, m := range h.slack.Messages("C1") {
				if m.Ephemeral && m.ThreadTS == ts && strings.Contains(m.Text, "`"+text+"` is not a command") && strings.Contains(m.Text, "Commands") {
					return true
				}
			}
			return false
		})
	}
	wantStatus(t, h.slackPost("/slack/events", "application/json",
		mentionEvent("EvDeclList", "C1", "U0ALICE", "<@UBOT> declare list", "1700000600.000100", "")), http.StatusOK)
	wantStatus(t, h.slackPost("/slack/events", "application/json",
		mentionEvent("EvDeclDB", "C1", "U0ALICE", "<@UBOT> db down", "1700000601.000100", "")), http.StatusOK)
	cmds := h.commands(2)
	if len(cmds) != 2 || cmds[0].Kind != incident.Declare || cmds[0].Title != "list" || cmds[1].Title != "db down" {
		t.Fatalf("commands %+v", cmds)
	}

	nobot := strings.Replace(string(mentionEvent("EvNoBot", "C9", "U0BOB", "<@UBOT> lsit", "1700000700.000100", "")), teamID, "T0NOBOT", 1)
	wantStatus(t, h.slackPost("/slack/events", "application/json", []byte(nobot)), http.StatusOK)
	var out OutboxJSON
	testenv.Eventually(t, 5*time.Second, "the reply in globex's outbox", func() bool {
		r := h.get("/api/v1/outbox", globexToken)
		wantStatus(t, r, http.StatusOK)
		r.json(t, &out)
		return len(out.Entries) == 1
	})
	if e := out.Entries[0]; e.User != "U0BOB" || e.Channel != "C9" || !strings.Contains(e.Text, "`lsit` is not a command") {
		t.Fatalf("outbox entry %+v", e)
	}
	r := h.get("/api/v1/outbox", acmeToken)
	r.json(t, &out)
	if len(out.Entries) != 0 {
		t.Fatalf("acme sees globex's reply: %s", r.body)
	}
}

// TestNearCommand: mistyped command words answer help; ordinary one-word
// titles declare.
func TestNearCommand(t *testing.T) {
	for _, w := range []string{"list", "lsit", "LIST", "ls", "help", "halp", "resolv", "reslove", "sevrity", "acknowlege", "ststus", "incidnets", "unasign", "mitgate"} {
		if _, ok := nearCommand(w); !ok {
			t.Errorf("%q declares, want help", w)
		}
	}
	for _, w := range []string{"outage", "down", "slow", "latency", "errors", "database", "payments", "login", "deploy",
		"table", "design", "server", "dns", "cpu", "memory", "disk", "real", "billing", "checkout", "timeouts"} {
		if near, ok := nearCommand(w); ok {
			t.Errorf("%q answers help (near %q), want a declare", w, near)
		}
	}
}
