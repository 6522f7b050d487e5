package ingress

import "fmt"

// Workspace is one Slack workspace the app is installed in: its team id,
// the tenant its incidents belong to, the bot token for Web API calls and
// the channel incident cards go to. The bot token is a secret: never
// logged. The workspaces file shared with the notifier is read by
// notifier.LoadWorkspaces.
type Workspace struct {
	TeamID           string
	Tenant           string
	BotToken         string
	IncidentsChannel string
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
