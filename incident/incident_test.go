package incident_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/incidentd/incidentd/incident"
)

// base is the time of the first command of every script; each command is one
// minute after the previous one unless it says at=+DURATION (from base).
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestSpec runs the specification scripts in testdata/. Directives:
//
//	policy severities=(A, B)  set the policy (default SEV1-SEV4)
//	reset                     forget the incidents and the remembered outcomes
//	forget                    forget the remembered outcomes (the dedup
//	                          window has passed them)
//	run                       one command per line, "kind key=value ...";
//	                          prints each command's events, then the state
//
// The script remembers each command's outcome by tenant and id, as the
// processor's dedup window does, and hands it to Decide when the id comes
// again. Command lines take id (default c<n>), incident (default i1), tenant
// (default t1), actor (default U1), at (+duration from base), fp (the
// request fingerprint) and the payload
// keys title, severity, role, person, note, source, team, channel, thread,
// ts, text, msgat, impact (+duration from base). Values with spaces go in
// parentheses: title=(server down).
func TestSpec(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		policy := incident.DefaultPolicy()
		states := map[string]incident.State{}
		seen := map[string]incident.Outcome{}
		n := 0
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "policy":
				var sev []string
				d.ScanArgs(t, "severities", &sev)
				policy = incident.Policy{Severities: sev}
				if err := policy.Validate(); err != nil {
					return err.Error()
				}
				return "ok"
			case "reset":
				states = map[string]incident.State{}
				seen = map[string]incident.Outcome{}
				return "ok"
			case "forget":
				seen = map[string]incident.Outcome{}
				return "ok"
			case "run":
				var out strings.Builder
				touched := map[string]bool{}
				for _, line := range strings.Split(d.Input, "\n") {
					if strings.TrimSpace(line) == "" {
						continue
					}
					n++
					c, err := parseCommand(line, n)
					if err != nil {
						t.Fatalf("%s: %v", d.Pos, err)
					}
					touched[c.Incident] = true
					s := states[c.Incident]
					var prior *incident.Outcome
					if o, ok := seen[c.Tenant+"/"+c.ID]; ok {
						prior = &o
					}
					dec := incident.Decide(policy, s, c, prior)
					if o, ok := dec.Remember(); ok {
						seen[c.Tenant+"/"+c.ID] = o
					}
					fmt.Fprintf(&out, "> %s\n", strings.TrimSpace(line))
					if dec.Duplicate != nil {
						o := dec.Duplicate
						fmt.Fprintf(&out, "duplicate of %s: %s v%d..v%d at=%s %s\n", o.Command, o.Incident, o.From, o.To, since(o.At), o.Code)
					}
					for _, e := range dec.Events {
						out.WriteString(formatEvent(e) + "\n")
					}
					states[c.Incident] = incident.Fold(s, dec.Events...)
				}
				ids := make([]string, 0, len(touched))
				for id := range touched {
					ids = append(ids, id)
				}
				sort.Strings(ids)
				for _, id := range ids {
					s := states[id]
					s.Incident = id
					out.WriteString(formatState(s) + "\n")
				}
				return out.String()
			}
			t.Fatalf("%s: unknown directive %q", d.Pos, d.Cmd)
			return ""
		})
	})
}

func parseCommand(line string, n int) (incident.Command, error) {
	kind, args, err := datadriven.ParseLine(line)
	if err != nil {
		return incident.Command{}, err
	}
	c := incident.Command{
		ID:       fmt.Sprintf("c%d", n),
		Incident: "i1",
		Tenant:   "t1",
		Actor:    "U1",
		At:       base.Add(time.Duration(n) * time.Minute),
		Kind:     incident.CommandKind(kind),
		Source:   incident.Source{Kind: incident.FromDashboard},
	}
	for _, a := range args {
		v := strings.Join(a.Vals, ", ")
		switch a.Key {
		case "id":
			c.ID = v
		case "incident":
			c.Incident = v
		case "tenant":
			c.Tenant = v
		case "actor":
			c.Actor = v
		case "fp":
			c.Fingerprint = v
		case "at":
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, err
			}
			c.At = base.Add(d)
		case "noat":
			c.At = time.Time{}
		case "title":
			c.Title = v
		case "severity":
			c.Severity = v
		case "role":
			c.Role = incident.Role(v)
		case "person":
			c.Person = v
		case "note":
			c.Note = v
		case "source":
			c.Source.Kind = incident.SourceKind(v)
		case "team":
			c.Source.Team = v
		case "channel":
			c.Source.Channel = v
			c.Message.Channel = v
		case "thread":
			c.Source.ThreadTS = v
		case "ts":
			c.Message.TS = v
		case "text":
			c.Message.Text = v
		case "author":
			c.Message.Author = v
		case "msgat", "impact":
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, err
			}
			if a.Key == "msgat" {
				c.Message.At = base.Add(d)
			} else {
				c.ImpactStarted = base.Add(d)
			}
		default:
			return c, fmt.Errorf("unknown key %q", a.Key)
		}
	}
	return c, nil
}

func since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if d := t.Sub(base); d < 0 {
		return d.String()
	}
	return "+" + t.Sub(base).String()
}

func formatEvent(e incident.Event) string {
	var b strings.Builder
	if e.Notice() {
		fmt.Fprintf(&b, "notice to %s on %s", e.Tenant, e.Incident)
	} else {
		fmt.Fprintf(&b, "%s v%d", e.ID(), e.Version)
	}
	fmt.Fprintf(&b, " %s cmd=%s by=%s at=%s status=%s", e.Kind, e.Command, e.Actor, since(e.At), e.Status)
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%q", k, v)
		}
	}
	add("title", e.Title)
	add("severity", e.Severity)
	if e.Kind == incident.Declared {
		add("source", fmt.Sprintf("%s:%s/%s/%s", e.Source.Kind, e.Source.Team, e.Source.Channel, e.Source.ThreadTS))
	}
	add("role", string(e.Role))
	add("person", e.Person)
	add("note", e.Note)
	if e.Message.TS != "" {
		add("message", fmt.Sprintf("%s/%s by %s at %s: %s", e.Message.Channel, e.Message.TS, e.Message.Author, since(e.Message.At), e.Message.Text))
	}
	if !e.ImpactStarted.IsZero() {
		add("impact", since(e.ImpactStarted))
	}
	if e.Rejection != nil {
		fmt.Fprintf(&b, " asked=%s code=%s reason=%q", e.CommandKind, e.Rejection.Code, e.Rejection.Reason)
	}
	return b.String()
}

func formatState(s incident.State) string {
	if !s.Declared {
		return fmt.Sprintf("state %s v%d: not declared", s.Incident, s.Version)
	}
	return fmt.Sprintf("state %s v%d: tenant=%s %s %s %q reporter=%s commander=%q assignee=%q card=%s/%s declared=%s impact=%s acked=%s mitigated=%s resolved=%s notes=%d pins=%d",
		s.Incident, s.Version, s.Tenant, s.Status, s.Severity, s.Title, s.Reporter, s.Commander, s.Assignee, s.Card.Channel, s.Card.TS,
		since(s.DeclaredAt), since(s.ImpactStartedAt), since(s.AcknowledgedAt), since(s.MitigatedAt), since(s.ResolvedAt), s.Notes, s.Pins)
}
