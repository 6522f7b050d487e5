package slackapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Workspace is one Slack workspace incidentd is installed in: the team,
// the tenant its incidents belong to, the bot token of its Web API calls
// and the channel dashboard-declared incidents get their card in. The
// workspaces file (-notifier.workspaces, -ingress.workspaces) lists them;
// ingress, the notifier and cmd/incidentd pass this one type around. The
// bot token is a secret: never logged. Ingress's dev workspace (under
// "incidentd run" without a file) has only a team and a tenant.
type Workspace struct {
	TeamID           string `json:"team_id"`           // Slack team id, T...
	Tenant           string `json:"tenant"`            // incidentd tenant of the workspace's incidents
	BotToken         string `json:"bot_token"`         // xoxb-...; never logged
	IncidentsChannel string `json:"incidents_channel"` // where dashboard-declared incidents get their card
}

// String hides the token, so a Workspace can be logged or printed.
func (w Workspace) String() string {
	return fmt.Sprintf("workspace(team=%s tenant=%s channel=%s)", w.TeamID, w.Tenant, w.IncidentsChannel)
}

// workspacesFile is the file's shape.
type workspacesFile struct {
	Workspaces []Workspace `json:"workspaces"`
}

// LoadWorkspaces reads and checks a workspaces file:
//
//	{"workspaces":[{"team_id":"T1","tenant":"acme","bot_token":"xoxb-...","incidents_channel":"C123"}]}
func LoadWorkspaces(path string) ([]Workspace, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("slackapp: load workspaces: %w", err)
	}
	ws, err := ParseWorkspaces(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("slackapp: load workspaces %s: %w", path, err)
	}
	return ws, nil
}

// ParseWorkspaces decodes and checks workspaces from JSON. Unknown fields,
// a missing field (every one is required in the file) and what
// CheckWorkspaces refuses are errors; errors never contain the token.
func ParseWorkspaces(r io.Reader) ([]Workspace, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f workspacesFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode: trailing data after the JSON object")
	}
	if len(f.Workspaces) == 0 {
		return nil, errors.New(`no workspaces (want {"workspaces":[{"team_id":...}]})`)
	}
	for i, w := range f.Workspaces {
		var missing []string
		for _, kv := range [][2]string{{"team_id", w.TeamID}, {"tenant", w.Tenant}, {"bot_token", w.BotToken}, {"incidents_channel", w.IncidentsChannel}} {
			if strings.TrimSpace(kv[1]) == "" {
				missing = append(missing, kv[0])
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("workspace %d (team %q): missing %s", i, w.TeamID, strings.Join(missing, ", "))
		}
	}
	if err := CheckWorkspaces(f.Workspaces); err != nil {
		return nil, err
	}
	return f.Workspaces, nil
}

// CheckWorkspaces checks workspaces as a service is given them: each names
// a team and a tenant, a bot token when there is one is a bot token
// (xoxb-), and no team id or tenant is listed twice. A workspace without a
// bot token or incidents channel passes: ingress's dev workspace only
// receives. Errors never contain the token.
func CheckWorkspaces(ws []Workspace) error {
	teams, tenants := map[string]int{}, map[string]int{}
	for i, w := range ws {
		if strings.TrimSpace(w.TeamID) == "" || strings.TrimSpace(w.Tenant) == "" {
			return fmt.Errorf("workspace %d (team %q): team_id and tenant are required", i, w.TeamID)
		}
		if w.BotToken != "" && !strings.HasPrefix(w.BotToken, "xoxb-") {
			return fmt.Errorf("workspace %d (team %q): bot_token is not a bot token (want xoxb-...)", i, w.TeamID)
		}
		if j, dup := teams[w.TeamID]; dup {
			return fmt.Errorf("workspace %d: team_id %q already used by workspace %d", i, w.TeamID, j)
		}
		if j, dup := tenants[w.Tenant]; dup {
			return fmt.Errorf("workspace %d: tenant %q already used by workspace %d", i, w.Tenant, j)
		}
		teams[w.TeamID], tenants[w.Tenant] = i, i
	}
	return nil
}
