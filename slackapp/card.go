package slackapp

import "strings"

// The incident card's interactive elements: the notifier renders them,
// ingress's interaction receiver turns a press into a command. Every
// element sits in the block whose id is BlockID(incident id), and each
// button's value is the incident id.
const (
	// ActionSeverity is a static_select; option values are the policy's
	// severity names.
	ActionSeverity = "incident_severity"
	// ActionAssign is a users_select; the selected user becomes assignee.
	ActionAssign = "incident_assign"
	// ActionAcknowledge, ActionMitigate, ActionResolve and ActionReopen are
	// buttons whose value is the incident id.
	ActionAcknowledge = "incident_ack"
	ActionMitigate    = "incident_mitigate"
	ActionResolve     = "incident_resolve"
	ActionReopen      = "incident_reopen"

	// BlockIDPrefix starts the block_id of the card's actions block; the
	// incident id follows.
	BlockIDPrefix = "incident:"
)

// BlockID is the block_id of an incident's card actions.
func BlockID(incidentID string) string { return BlockIDPrefix + incidentID }

// IncidentFromBlockID returns the incident id a card's block_id names; ok
// is false for a block that is not a card's.
func IncidentFromBlockID(blockID string) (id string, ok bool) {
	id, ok = strings.CutPrefix(blockID, BlockIDPrefix)
	return id, ok && id != ""
}
