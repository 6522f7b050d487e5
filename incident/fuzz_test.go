package incident_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
)

// commandsFrom turns fuzz bytes into a command sequence over two incidents
// and two tenants, reusing command ids so duplicates happen.
func commandsFrom(data []byte) []incident.Command {
	texts := []string{"", " ", "server down", "x\xffy", string(make([]byte, incident.MaxTitle+1)), "SEV1", "SEV4", "P0",
		strings.Repeat("障", incident.MaxTitle), "a\u202Eb", "a\nb"}
	pick := func(i int, b byte) string { return texts[(int(b)+i)%len(texts)] }
	var cmds []incident.Command
	for i := 0; i+3 < len(data); i += 4 {
		op, a, b, c := data[i], data[i+1], data[i+2], data[i+3]
		cmd := incident.Command{
			ID:       "c" + string(rune('a'+a%20)),
			Incident: []string{"i1", "i2"}[b%2],
			Tenant:   []string{"t1", "t2"}[c%2],
			Actor:    "U1",
			At:       base.Add(time.Duration(i) * time.Minute),
			Kind:     incident.CommandKinds[int(op)%len(incident.CommandKinds)],
			Title:    pick(0, a),
			Severity: pick(1, b),
			Source:   incident.Source{Kind: []incident.SourceKind{incident.FromDashboard, incident.FromSlack, "x"}[c%3], Team: "T", Channel: "C", ThreadTS: pick(2, c)},
			Role:     []incident.Role{incident.Commander, incident.Assignee, ""}[a%3],
			Person:   pick(3, c),
			Note:     pick(4, b),
			Message:  incident.SlackMessage{Channel: pick(5, a), TS: pick(6, b), At: base.Add(time.Duration(c) * time.Second)},
		}
		if op&0x80 != 0 {
			cmd.ImpactStarted = base.Add(time.Duration(int(a)-128) * time.Minute)
		}
		if op&0x40 != 0 {
			cmd.At = time.Time{}
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// FuzzDecide checks the model's laws on arbitrary command sequences: no
// panic; versions run from 1 without gaps; folding the events reproduces the
// state; the same inputs always give the same outputs; a duplicate command id
// produces no events; a command produces events or exactly one rejection; a
// notice (a rejection outside the history) changes no state.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 4, 2, 0, 0, 4, 2, 0, 0, 6, 3, 0, 0, 7, 3, 0, 0})
	f.Add([]byte{0, 0, 0, 1, 1, 1, 0, 1, 0x8b, 200, 0, 1, 0x4a, 3, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := incident.DefaultPolicy()
		run := func() (map[string]incident.State, []incident.Event) {
			states := map[string]incident.State{}
			seen := map[string]incident.Outcome{}
			var all []incident.Event
			for _, c := range commandsFrom(data) {
				s := states[c.Incident]
				var prior *incident.Outcome
				if o, ok := seen[c.Tenant+"/"+c.ID]; ok {
					prior = &o
				}
				d := incident.Decide(p, s, c, prior)
				if o, ok := d.Remember(); ok {
					seen[c.Tenant+"/"+c.ID] = o
				}
				if d.Duplicate != nil && len(d.Events) > 0 {
					t.Fatalf("duplicate with events: %+v", d)
				}
				if d.Duplicate == nil && len(d.Events) == 0 {
					t.Fatalf("command %+v decided nothing", c)
				}
				for i, e := range d.Events {
					if e.Notice() {
						if e.Kind != incident.Rejected || len(d.Events) != 1 || e.Status != "" {
							t.Fatalf("notice not a lone rejection, or showing the incident's status: %+v", d.Events)
						}
						if s.Declared && s.Tenant == c.Tenant && e.Rejection.Code != incident.CodeKeyReused {
							t.Fatalf("rejection on the tenant's own incident is a notice: %+v", e)
						}
						continue
					}
					if s.Tenant != "" && e.Tenant != s.Tenant {
						t.Fatalf("tenant %s's command entered tenant %s's history: %+v", e.Tenant, s.Tenant, e)
					}
					if e.Version != s.Version+uint64(i)+1 {
						t.Fatalf("event version %d after state version %d", e.Version, s.Version)
					}
					if e.Kind == incident.Rejected && (len(d.Events) != 1 || e.Rejection == nil) {
						t.Fatalf("rejection not alone or without reason: %+v", d.Events)
					}
				}
				if len(d.Events) > 0 && !d.Events[0].Notice() {
					states[c.Incident] = incident.Fold(s, d.Events...)
				}
				all = append(all, d.Events...)
			}
			return states, all
		}
		s1, ev1 := run()
		s2, ev2 := run()
		if !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(ev1, ev2) {
			t.Fatal("same inputs gave different outputs")
		}
		refold := map[string]incident.State{}
		for _, e := range ev1 {
			if e.Notice() {
				continue
			}
			if o := incident.Sequence(refold[e.Incident].Version, e); o != incident.InOrder {
				t.Fatalf("event %s out of sequence: %v", e.ID(), o)
			}
			refold[e.Incident] = incident.Evolve(refold[e.Incident], e)
		}
		if !reflect.DeepEqual(refold, s1) {
			t.Fatalf("fold of events differs from state:\n%+v\n%+v", refold, s1)
		}
	})
}

func TestIDs(t *testing.T) {
	a := incident.SlackIncidentID("T1", "C1", "1700000000.000100")
	if a != incident.SlackIncidentID("T1", "C1", "1700000000.000100") {
		t.Fatal("slack incident id is not deterministic")
	}
	for _, other := range []string{
		incident.SlackIncidentID("T1", "C1", "1700000000.000101"),
		incident.SlackIncidentID("T1", "C11", "700000000.000100"), // no ambiguity from concatenation
		incident.SlackIncidentID("T2", "C1", "1700000000.000100"),
	} {
		if other == a {
			t.Fatalf("different threads share id %s", a)
		}
	}
	if incident.APIIncidentID("t1", "k") == incident.APIIncidentID("t2", "k") {
		t.Fatal("idempotency keys of two tenants give the same incident")
	}
	if a, b := incident.CommandIDFor("slack", "Ev1"), incident.CommandIDFor("slack", "Ev1"); a != b {
		t.Fatal("command id is not deterministic")
	}
}
