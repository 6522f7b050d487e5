package slackapp_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/incidentd/incidentd/slackapp"
)

func TestLoadWorkspaces(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "ws.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ws, err := slackapp.LoadWorkspaces(write(`{"workspaces":[{"team_id":"T1","tenant":"acme","bot_token":"xoxb-secret-1","incidents_channel":"C123"}]}`))
	if err != nil || len(ws) != 1 || ws[0].TeamID != "T1" || ws[0].Tenant != "acme" || ws[0].IncidentsChannel != "C123" {
		t.Fatalf("LoadWorkspaces = %+v, %v", ws, err)
	}
	if s := ws[0].String(); strings.Contains(s, "secret") {
		t.Errorf("String() shows the token: %s", s)
	}
	for _, tc := range []struct{ name, json, want string }{
		{"not json", `{`, "decode"},
		{"unknown field", `{"workspaces":[{"team":"T1"}]}`, `unknown field "team"`},
		{"empty", `{"workspaces":[]}`, "no workspaces"},
		{"missing", `{"workspaces":[{"team_id":"T1","tenant":"a"}]}`, "missing bot_token, incidents_channel"},
		{"user token", `{"workspaces":[{"team_id":"T1","tenant":"a","bot_token":"xoxp-secret","incidents_channel":"C"}]}`, "not a bot token"},
		{"dup team", `{"workspaces":[{"team_id":"T1","tenant":"a","bot_token":"xoxb-secret","incidents_channel":"C"},{"team_id":"T1","tenant":"b","bot_token":"xoxb-secret","incidents_channel":"C"}]}`, `team_id "T1" already used`},
		{"dup tenant", `{"workspaces":[{"team_id":"T1","tenant":"a","bot_token":"xoxb-secret","incidents_channel":"C"},{"team_id":"T2","tenant":"a","bot_token":"xoxb-secret","incidents_channel":"C"}]}`, `tenant "a" already used`},
		{"trailing", `{"workspaces":[{"team_id":"T1","tenant":"a","bot_token":"xoxb-secret","incidents_channel":"C"}]} {}`, "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := slackapp.LoadWorkspaces(write(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error shows the token: %v", err)
			}
		})
	}
	if _, err := slackapp.LoadWorkspaces(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "slackapp: load workspaces") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestCheckWorkspaces: what a service is given may lack a bot token and a
// channel (ingress's dev workspace), nothing else the file requires.
func TestCheckWorkspaces(t *testing.T) {
	if err := slackapp.CheckWorkspaces([]slackapp.Workspace{{TeamID: "TDEV", Tenant: "dev"}}); err != nil {
		t.Fatalf("a workspace with a team and a tenant only: %v", err)
	}
	for _, tc := range []struct {
		name string
		ws   []slackapp.Workspace
		want string
	}{
		{"no tenant", []slackapp.Workspace{{TeamID: "T1"}}, "team_id and tenant are required"},
		{"no team", []slackapp.Workspace{{Tenant: "a"}}, "team_id and tenant are required"},
		{"user token", []slackapp.Workspace{{TeamID: "T1", Tenant: "a", BotToken: "xoxp-secret"}}, "not a bot token"},
		{"dup team", []slackapp.Workspace{{TeamID: "T1", Tenant: "a"}, {TeamID: "T1", Tenant: "b"}}, `team_id "T1" already used`},
		{"dup tenant", []slackapp.Workspace{{TeamID: "T1", Tenant: "a"}, {TeamID: "T2", Tenant: "a"}}, `tenant "a" already used`},
	} {
		err := slackapp.CheckWorkspaces(tc.ws)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %v, want %q without the token", tc.name, err, tc.want)
		}
	}
}

func FuzzParseWorkspaces(f *testing.F) {
	f.Add(`{"workspaces":[{"team_id":"T1","tenant":"acme","bot_token":"xoxb-1","incidents_channel":"C123"}]}`)
	f.Add(`{"workspaces":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := slackapp.ParseWorkspaces(strings.NewReader(s))
		if err == nil && len(ws) == 0 {
			t.Fatal("no error and no workspaces")
		}
	})
}
