package ingress

import (
	"encoding/hex"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/slackapp"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var c Config
	c.Kafka = kafka.Config{Brokers: []string{"127.0.0.1:9092"}}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.Addr != DefaultAddr || c.ProduceTimeout != time.Second || c.WriteTimeout <= c.MaxWait || c.PinEmoji != "pushpin" || c.SlashCommand != "/incident" {
		t.Fatalf("defaults %+v", c)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"addr", func(c *Config) { c.Addr = "nope" }, "ingress: addr"},
		{"brokers", func(c *Config) { c.Kafka.Brokers = nil }, "no brokers"},
		{"slash", func(c *Config) { c.SlashCommand = "incident" }, "must start with '/'"},
		{"emoji", func(c *Config) { c.PinEmoji = ":pushpin:" }, "without colons"},
		{"body", func(c *Config) { c.MaxBodyBytes = 10 }, "max body bytes"},
		{"write timeout", func(c *Config) { c.WriteTimeout = c.MaxWait }, "must exceed max wait"},
		{"negative", func(c *Config) { c.ProduceTimeout = -1 }, "produce timeout"},
		{"token", func(c *Config) { c.Tokens = []Token{{Name: "a"}} }, "name and tenant are required"},
		{"token twice", func(c *Config) {
			c.Tokens = []Token{{Name: "a", Tenant: "t", SHA256: HashToken("x")}, {Name: "a", Tenant: "u", SHA256: HashToken("y")}}
		}, "listed twice"},
		{"workspace", func(c *Config) { c.Workspaces = []slackapp.Workspace{{TeamID: "T1"}} }, "team_id and tenant"},
		{"policy", func(c *Config) { c.Policy = incident.Policy{Severities: []string{"A", "A"}} }, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := c
			tc.edit(&cc)
			if err := cc.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseTokens(t *testing.T) {
	sum := HashToken("s3cret")
	toks, err := ParseTokens([]byte(`{"tokens":[{"name":"ci-bot","tenant":"acme","sha256":"` + hex.EncodeToString(sum[:]) + `"}]}`))
	if err != nil || len(toks) != 1 || toks[0] != (Token{Name: "ci-bot", Tenant: "acme", SHA256: sum}) {
		t.Fatalf("ParseTokens = %+v, %v", toks, err)
	}
	for _, bad := range []string{
		`{"tokens":[{"name":"a","tenant":"t","sha256":"xyz"}]}`,
		`{"tokens":[{"name":"a","tenant":"t","sha256":"abcd"}]}`,
		`{"tokens":[{"name":"","tenant":"t","sha256":"` + hex.EncodeToString(sum[:]) + `"}]}`,
		`{"tokens":[{"name":"a","tenant":"t","token":"plain"}]}`,
		`{`,
	} {
		if _, err := ParseTokens([]byte(bad)); err == nil {
			t.Errorf("ParseTokens(%s) accepted", bad)
		} else if strings.Contains(err.Error(), "plain") {
			t.Errorf("error repeats a secret: %v", err)
		}
	}
	// The secret authenticates; others and other schemes do not.
	for _, tc := range []struct {
		header string
		ok     bool
	}{{"Bearer s3cret", true}, {"bearer s3cret", true}, {"Bearer s3cre", false}, {"Bearer s3cret2", false}, {"s3cret", false}, {"", false}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", tc.header)
		p, ok := authenticate(toks, r)
		if ok != tc.ok || (ok && (p.Name != "ci-bot" || p.Tenant != "acme")) {
			t.Errorf("%q: %+v %v", tc.header, p, ok)
		}
	}
}

func TestTrackerBoundedOutcomes(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(quietLogger(t), m, 3, 2)
	at := time.Unix(1700000000, 0).UTC()
	ev := func(id string, v uint64, cmd string, k incident.EventKind) incident.Event {
		e := incident.Event{Incident: id, Version: v, Command: cmd, Tenant: "acme", At: at, Kind: k, Title: "t", Severity: "SEV1"}
		if k == incident.Rejected {
			e.Rejection = &incident.Rejection{Code: incident.CodeNoChange, Reason: "same"}
		}
		return e
	}
	tr.apply([]incident.Event{
		ev("a", 1, "c1", incident.Declared),
		ev("a", 2, "c2", incident.Acknowledged), ev("a", 3, "c2", incident.SeverityChanged),
		ev("a", 4, "c3", incident.Rejected),
	})
	if o, ok := tr.outcome("c2"); !ok || o.From != 2 || o.To != 3 || o.Rejection != nil {
		t.Fatalf("c2 outcome %+v %v", o, ok)
	}
	if o, ok := tr.outcome("c3"); !ok || o.Rejection == nil || o.Rejection.Code != incident.CodeNoChange {
		t.Fatalf("c3 outcome %+v %v", o, ok)
	}
	if s, ok := tr.incident("a"); !ok || !s.Complete || s.State.Version != 4 || s.State.Status != incident.StatusAcknowledged {
		t.Fatalf("incident a %+v", s)
	}
	// An incident first seen mid-history is tracked but not complete.
	tr.apply([]incident.Event{ev("b", 5, "c4", incident.Resolved)})
	if s, ok := tr.incident("b"); !ok || s.Complete {
		t.Fatalf("incident b %+v", s)
	}
	// Bounds: 3 outcomes, 2 incidents, the oldest forgotten.
	tr.apply([]incident.Event{ev("c", 1, "c5", incident.Declared)})
	if _, ok := tr.outcome("c1"); ok {
		t.Fatal("c1 not forgotten")
	}
	if _, ok := tr.incident("a"); ok {
		t.Fatal("incident a not forgotten")
	}
	if tr.outcomes.len() != 3 || tr.incidents.len() != 2 {
		t.Fatalf("sizes %d %d", tr.outcomes.len(), tr.incidents.len())
	}
}
