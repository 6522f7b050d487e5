package slackapp_test

import (
	"strings"
	"testing"

	"github.com/incidentd/incidentd/slackapp"
)

func TestEscapeRoundTrip(t *testing.T) {
	hostile := "<!channel> <!here> <@U999> <http://evil.example|bank> &amp; 1<2>0"
	for _, s := range []string{"", "plain", hostile, "&lt; already escaped", "a&&b<<c>>"} {
		e := slackapp.Escape(s)
		if strings.ContainsAny(strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "").Replace(e), "<>&") {
			t.Errorf("Escape(%q) = %q leaves a markup character", s, e)
		}
		if got := slackapp.Unescape(e); got != s {
			t.Errorf("Unescape(Escape(%q)) = %q", s, got)
		}
	}
}
