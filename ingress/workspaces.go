package ingress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Workspace is one Slack workspace the app is installed in: its team id,
// the tenant its incidents belong to, the bot token for Web API calls and
// the channel incident cards go to. The bot token is a secret: never
// logged.
type Workspace struct {
	TeamID           string `json:"team_id"`
	Tenant           string `json:"tenant"`
	BotToken         string `json:"bot_token"`
	IncidentsChannel string `json:"incidents_channel"`
}

// LoadWorkspaces reads the workspaces file shared with the notifier:
// {"workspaces":[{"team_id":"T1","tenant":"acme","bot_token":"xoxb-...","incidents_channel":"C123"}]}.
func LoadWorkspaces(path string) ([]Workspace, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ingress: load workspaces: %w", err)
	}
	ws, err := ParseWorkspaces(b)
	if err != nil {
		return nil, fmt.Errorf("ingress: load workspaces %s: %w", path, err)
	}
	return ws, nil
}

// ParseWorkspaces parses the workspaces file's JSON.
func ParseWorkspaces(b []byte) ([]Workspace, error) {
	var f struct {
		Workspaces []Workspace `json:"workspaces"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse workspaces: %w", err)
	}
	if err := validateWorkspaces(f.Workspaces); err != nil {
		return nil, err
	}
	return f.Workspaces, nil
}

func validateWorkspaces(ws []Workspace) error {
	seen := map[string]bool{}
	for i, w := range ws {
		if w.TeamID == "" || w.Tenant == "" {
			return fmt.Errorf("ingress: workspace %d: team_id and tenant are required", i)
		}
		if seen[w.TeamID] {
			return fmt.Errorf("ingress: workspace %q listed twice", w.TeamID)
		}
		seen[w.TeamID] = true
	}
	return nil
}
