package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/incidentd/incidentd/ingress/web"
	"github.com/incidentd/incidentd/notifier"
)

// TestIncidentLinkOpensTheIncident follows the link an incident's Slack
// card carries (notifier.DashboardLink) to the application's route for
// that incident.
func TestIncidentLinkOpensTheIncident(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	link := notifier.DashboardLink(srv.URL, "web-0a1b2c")
	resp, err := srv.Client().Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<script") {
		t.Fatalf("GET %s: status %d, want 200 and the dashboard page:\n%.300s", link, resp.StatusCode, body)
	}
	// The redirect names the incident's route; the client kept it for
	// the browser (the fragment never reaches the server).
	if got := resp.Request.URL.String(); got != srv.URL+"/#/incidents/web-0a1b2c" {
		t.Fatalf("GET %s ended at %s, want %s/#/incidents/web-0a1b2c", link, got, srv.URL)
	}
}
