package slackapp_test

import (
	"testing"

	"github.com/incidentd/incidentd/slackapp"
)

// TestMention: what the notifier renders for a user, ingress reads back
// as the same user; what is not a user's mention is not read as one.
func TestMention(t *testing.T) {
	for _, id := range []string{"U0ALICE", "W123ABC"} {
		if !slackapp.IsUserID(id) {
			t.Errorf("IsUserID(%q) = false", id)
		}
		if got, ok := slackapp.ParseMention(slackapp.Mention(id)); !ok || got != id {
			t.Errorf("ParseMention(Mention(%q)) = %q, %v", id, got, ok)
		}
	}
	if got, ok := slackapp.ParseMention("<@U0BOB|bob>"); !ok || got != "U0BOB" {
		t.Errorf("mention with a name: %q, %v", got, ok)
	}
	for _, s := range []string{"", "U", "alice", "u0alice", "B0BOT", "U0-ALICE", "dev"} {
		if slackapp.IsUserID(s) {
			t.Errorf("IsUserID(%q) = true", s)
		}
	}
	for _, s := range []string{"", "U0ALICE", "<@U0ALICE", "<!channel>", "<@u0alice>", "x <@U0ALICE>", "<#C123>"} {
		if got, ok := slackapp.ParseMention(s); ok {
			t.Errorf("ParseMention(%q) = %q, true", s, got)
		}
	}
}
