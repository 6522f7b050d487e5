package slackapp_test

import (
	"context"
	"testing"
	"time"

	"github.com/incidentd/incidentd/slackapp"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// TestClients: each workspace's client calls the Web API with its own bot
// token, and is made once.
func TestClients(t *testing.T) {
	fake := slackfake.Start(t, slackfake.WithTeams(
		slackfake.Team{ID: "T1", Name: "acme", Token: "xoxb-acme", BotUserID: "UBOT1"},
		slackfake.Team{ID: "T2", Name: "globex", Token: "xoxb-globex", BotUserID: "UBOT2"}))
	cs := slackapp.NewClients(fake.APIURL(), 5*time.Second)
	acme := slackapp.Workspace{TeamID: "T1", Tenant: "acme", BotToken: "xoxb-acme"}
	globex := slackapp.Workspace{TeamID: "T2", Tenant: "globex", BotToken: "xoxb-globex"}
	for _, w := range []slackapp.Workspace{acme, globex} {
		res, err := cs.For(w).AuthTestContext(context.Background())
		if err != nil || res.TeamID != w.TeamID {
			t.Fatalf("auth.test with %s's client = %+v, %v", w.TeamID, res, err)
		}
	}
	if first, again := cs.For(acme), cs.For(acme); first != again || first == cs.For(globex) {
		t.Fatal("a workspace's client is not made once, or two workspaces share one")
	}
}
