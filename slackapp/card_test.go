package slackapp_test

import (
	"testing"

	"github.com/incidentd/incidentd/slackapp"
)

func TestBlockID(t *testing.T) {
	if id, ok := slackapp.IncidentFromBlockID(slackapp.BlockID("in-1")); !ok || id != "in-1" {
		t.Errorf("IncidentFromBlockID round trip = %q, %v", id, ok)
	}
	for _, b := range []string{"card-header", "", slackapp.BlockIDPrefix} {
		if id, ok := slackapp.IncidentFromBlockID(b); ok {
			t.Errorf("IncidentFromBlockID(%q) = %q, true: not a card's actions block", b, id)
		}
	}
}
