package testenv_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
)

// fatalTB records the message of Fatalf and ends the goroutine, as
// testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// eventuallyFails runs Eventually on a fatalTB and returns its failure
// message ("" when it returned).
func eventuallyFails[C testenv.Condition](t *testing.T, cond C) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		testenv.Eventually(f, 50*time.Millisecond, "the thing", cond)
	}()
	<-done
	return f.msg
}

// TestEventually: a condition that comes true passes, in each of its three
// shapes; one that never does fails the test once the deadline passed,
// naming what was awaited and the condition's last reason.
func TestEventually(t *testing.T) {
	n := 0
	if msg := eventuallyFails(t, func() bool { n++; return n == 3 }); msg != "" || n != 3 {
		t.Errorf("bool condition true on the third poll: failed %q after %d polls", msg, n)
	}
	if msg := eventuallyFails(t, func() error { return nil }); msg != "" {
		t.Errorf("error condition nil: failed %q", msg)
	}
	start := time.Now()
	msg := eventuallyFails(t, func() error { return errors.New("2 of 3 records") })
	if !strings.Contains(msg, "waiting for the thing: 2 of 3 records") {
		t.Errorf("failure message %q does not name what and why", msg)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("failed after %s, before its deadline", d)
	}
	if msg := eventuallyFails(t, func() string { return "card missing" }); !strings.Contains(msg, "card missing") {
		t.Errorf("failure message %q does not carry the string condition's reason", msg)
	}
	if msg := eventuallyFails(t, func() bool { return false }); !strings.Contains(msg, "the thing") {
		t.Errorf("failure message %q does not name what was awaited", msg)
	}
}

// TestStandInProcessor: commands produced to the commands topic are decided
// with the real model; their events are on the events topic, keyed by
// incident, and the stand-in reports each command decided.
func TestStandInProcessor(t *testing.T) {
	k := testenv.StartKafka(t)
	cfg := testenv.CreateTopics(t, kafka.Config{Brokers: []string{k.Addr()}, TopicPrefix: "kit.", Partitions: 2})
	var got []incident.Event
	batches := make(chan []incident.Event, 16)
	p := testenv.StartStandInProcessor(t, cfg, func(evs []incident.Event) { batches <- evs })
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cmds := []incident.Command{
		{ID: "c1", Incident: "in-1", Tenant: "t1", Actor: "U1", At: at, Kind: incident.Declare, Title: "db down", Source: incident.Source{Kind: incident.FromDashboard}},
		{ID: "c2", Incident: "in-1", Tenant: "t1", Actor: "U1", At: at, Kind: incident.Acknowledge},
		{ID: "c3", Incident: "in-2", Tenant: "t1", Actor: "U1", At: at, Kind: incident.Resolve}, // never declared: rejected
	}
	cl := testenv.NewClient(t, cfg)
	for _, c := range cmds {
		testenv.Produce(t, cl, testenv.CommandRecord(t, cfg.Topics().Commands, c))
	}
	testenv.Eventually(t, 10*time.Second, "every command decided", func() string {
		for _, c := range cmds {
			if !p.Decided(c) {
				return c.ID + " not decided"
			}
		}
		return ""
	})
	recs := testenv.ReadTopicN(t, cfg, cfg.Topics().Events, 3)
	if len(recs) != 3 {
		t.Fatalf("%d events on the topic, want 3", len(recs))
	}
	kinds := map[string][]incident.EventKind{}
	for _, r := range recs {
		e, err := wire.DecodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != e.Incident {
			t.Errorf("event %s keyed %q", e.ID(), r.Key)
		}
		kinds[e.Incident] = append(kinds[e.Incident], e.Kind)
	}
	if fmt.Sprint(kinds["in-1"]) != fmt.Sprint([]incident.EventKind{incident.Declared, incident.Acknowledged}) ||
		fmt.Sprint(kinds["in-2"]) != fmt.Sprint([]incident.EventKind{incident.Rejected}) {
		t.Errorf("events by incident: %v", kinds)
	}
	states, _, err := p.Snapshot()
	if err != nil || states["in-1"].Status != incident.StatusAcknowledged {
		t.Errorf("snapshot: in-1 %+v, err %v", states["in-1"], err)
	}
	testenv.Eventually(t, 10*time.Second, "onEvents called with every event", func() bool {
		for {
			select {
			case b := <-batches:
				got = append(got, b...)
			default:
				return len(got) == 3
			}
		}
	})
}
