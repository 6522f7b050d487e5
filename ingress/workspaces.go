package ingress

import (
	"fmt"

	"github.com/incidentd/incidentd/slackapp"
)

// validateWorkspaces checks the workspaces ingress is given: each has a
// team and a tenant, no team twice. A bot token is optional here (the dev
// workspace of "incidentd run" has none: its replies go to the outbox);
// the workspaces file itself is checked by slackapp.LoadWorkspaces.
func validateWorkspaces(ws []slackapp.Workspace) error {
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
