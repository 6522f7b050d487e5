package testenv_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
)

// TestWorkload checks what the suites built on the workload rely on: the
// same seed gives the same commands; a command id names one command (a
// retry repeats an earlier command unchanged, in its tenant); time never
// goes back and is whole milliseconds; and the model applies some commands, rejects others for the
// reasons asked for, and answers retries as duplicates.
func TestWorkload(t *testing.T) {
	cfg := testenv.WorkloadConfig{Seed: 3, Tenants: []string{"acme", "globex"}, Rejects: true, RetryOneIn: 20,
		MaxStep: 10 * time.Minute}
	a, b := testenv.NewWorkload(cfg), testenv.NewWorkload(cfg)
	other := testenv.NewWorkload(testenv.WorkloadConfig{Seed: 4, Tenants: cfg.Tenants})
	seen := map[string]incident.Command{}
	for range 200 {
		c, _ := other.Next()
		seen[c.ID] = c
	}
	policy, mem, states := incident.DefaultPolicy(), incident.Memory{}, map[string]incident.State{}
	var last incident.Command
	count := map[string]int{}
	for i := range 3000 {
		c, retry := a.Next()
		if c2, _ := b.Next(); !reflect.DeepEqual(c, c2) {
			t.Fatalf("command %d differs between two workloads of one seed: %+v and %+v", i, c, c2)
		}
		if prev, ok := seen[c.ID]; ok != retry || (ok && !reflect.DeepEqual(prev, c)) {
			t.Fatalf("command %d: id %s seen before %v, retry %v: %+v then %+v", i, c.ID, ok, retry, prev, c)
		}
		seen[c.ID] = c
		if !retry && c.At.Before(last.At) {
			t.Fatalf("command %d at %v, before the one before it (%v)", i, c.At, last.At)
		}
		if !c.At.Equal(c.At.Truncate(time.Millisecond)) {
			t.Fatalf("command %d at %v, not a whole millisecond (the wire keeps milliseconds)", i, c.At)
		}
		if !retry {
			last = c
		}
		d := mem.Decide(policy, states[c.Incident], c)
		states[c.Incident] = incident.Fold(states[c.Incident], d.Events...)
		switch r := d.Rejection(); {
		case d.Duplicate != nil:
			count["duplicate"]++
		case r != nil:
			count[string(r.Code)]++
		case len(d.Events) > 0:
			count["applied"]++
		}
	}
	for _, want := range []string{"applied", "duplicate", string(incident.CodeUnknownIncident), string(incident.CodeAlreadyDeclared),
		string(incident.CodeInvalidTitle), string(incident.CodeInvalidTransition)} {
		if count[want] < 10 {
			t.Errorf("%d outcomes %s in 3000 commands, want at least 10 (all: %v)", count[want], want, count)
		}
	}
	tenants := map[string]bool{}
	for _, s := range states {
		tenants[s.Tenant] = true
	}
	if !tenants["acme"] || !tenants["globex"] {
		t.Errorf("incidents declared in tenants %v, want both", tenants)
	}
}

// TestWorkloadFixedIncidents checks the fixed set: commands go only to the
// given number of incidents, and most of them are declared.
func TestWorkloadFixedIncidents(t *testing.T) {
	w := testenv.NewWorkload(testenv.WorkloadConfig{Seed: 1, Incidents: 10})
	declared := map[string]bool{}
	for range 500 {
		c, _ := w.Next()
		if c.Tenant != "t1" {
			t.Fatalf("command in tenant %q, want the default t1", c.Tenant)
		}
		if c.Kind == incident.Declare && c.Title != "" {
			declared[c.Incident] = true
		}
	}
	if n := len(w.Incidents()); n != 10 {
		t.Errorf("commands went to %d incidents, want 10", n)
	}
	if len(declared) < 8 {
		t.Errorf("%d of 10 incidents declared, want most", len(declared))
	}
}
