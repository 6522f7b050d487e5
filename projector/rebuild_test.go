package projector_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/projector"
	"github.com/incidentd/incidentd/readmodel"
)

// produceTxn writes events in one transaction, committed or aborted, as
// the processor does.
func (h *harness) produceTxn(t testing.TB, commit bool, events ...incident.Event) {
	t.Helper()
	cl, err := kafka.NewClient(h.kcfg, nil, kgo.TransactionalID("test-txn"), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		v, err := wire.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: h.kcfg.Topics().Events, Key: []byte(e.Incident), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

// snapshot is everything the query layer says about the tenants.
type snapshot struct {
	Lists     map[string][]incident.State
	Timelines map[string]readmodel.Timeline
	Analytics map[string]readmodel.Analytics
}

func takeSnapshot(t testing.TB, q *readmodel.Queries, w *world) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{Lists: map[string][]incident.State{}, Timelines: map[string]readmodel.Timeline{}, Analytics: map[string]readmodel.Analytics{}}
	for _, tenant := range w.tenants {
		lq := readmodel.ListQuery{Limit: readmodel.MaxLimit}
		for {
			p, err := q.List(ctx, tenant, lq)
			if err != nil {
				t.Fatal(err)
			}
			s.Lists[tenant] = append(s.Lists[tenant], p.Incidents...)
			if p.NextCursor == "" {
				break
			}
			lq.Cursor = p.NextCursor
		}
		a, err := q.Analytics(ctx, tenant, readmodel.AnalyticsQuery{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: w.now().Add(time.Millisecond), Bucket: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		s.Analytics[tenant] = a
		for _, id := range w.ids {
			if w.states[id].Tenant != tenant {
				continue // others' are ErrNotFound, checked by checkProjection
			}
			tl, err := q.Get(ctx, tenant, id)
			if errors.Is(err, readmodel.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			s.Timelines[tenant+"/"+id] = tl
		}
	}
	return s
}

// TestRebuildEqualsLive: a rebuild, run while the live projector keeps
// going, replays the topic (transactions committed and aborted) into fresh
// tables and swaps them in; every answer of the query layer is the same
// before and after, and the live projector goes on writing the new tables.
func TestRebuildEqualsLive(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	w := newWorld(4, "acme", "globex", "initech")
	h.run(t, nil)
	h.produce(t, w.run(700)...)
	h.produceTxn(t, true, w.run(200)...)
	// An aborted transaction: a declaration nobody may ever see.
	ghost := incident.Event{Incident: "in-aborted", Version: 1, Command: "c-aborted", Tenant: "acme",
		At: w.now(), Kind: incident.Declared, Title: "aborted", Severity: "SEV1", Status: incident.StatusOpen,
		Source: incident.Source{Kind: incident.FromDashboard}}
	h.produceTxn(t, false, ghost)
	h.produce(t, w.run(100)...)
	q := readmodel.NewQueries(h.conn, h.db)
	waitProjected(t, q, w, 30*time.Second)
	before := takeSnapshot(t, q, w)

	var phases []projector.Progress
	p, err := projector.Rebuild(context.Background(), projector.RebuildConfig{
		Kafka: h.kcfg, Database: h.db, MaxBatchRows: 250,
		Progress: func(p projector.Progress) { phases = append(phases, p) },
	}, h.conn, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Phase != "done" || p.Events < int64(w.projected()) || p.Dead != 0 {
		t.Fatalf("rebuild ended with %+v, want done with at least %d events", p, w.projected())
	}
	sawReplay := false
	for _, ph := range phases {
		if ph.Phase == "replay" && ph.Records == ph.Total && ph.Total > int64(len(w.events)) {
			sawReplay = true
		}
	}
	if !sawReplay {
		t.Errorf("no complete replay progress reported: %+v", phases)
	}
	after := takeSnapshot(t, q, w)
	if !reflect.DeepEqual(before, after) {
		for k := range before.Timelines {
			if !reflect.DeepEqual(before.Timelines[k], after.Timelines[k]) {
				t.Errorf("%s differs after rebuild", k)
			}
		}
		t.Fatalf("rebuilt tables answer differently (lists equal: %v, analytics equal: %v)",
			reflect.DeepEqual(before.Lists, after.Lists), reflect.DeepEqual(before.Analytics, after.Analytics))
	}
	if _, err := q.Get(context.Background(), "acme", "in-aborted"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Fatalf("aborted declaration visible: %v", err)
	}
	// The live projector goes on, into the rebuilt tables.
	h.produce(t, w.run(200)...)
	waitProjected(t, q, w, 30*time.Second)
	checkProjection(t, q, w)
	h.waitVerified(t, h.db, 10*time.Second)
	var retired uint8
	if err := h.conn.QueryRow(context.Background(), "EXISTS TABLE "+h.db+".events_retired").Scan(&retired); err != nil || retired != 0 {
		t.Fatalf("retired tables left behind: %d, %v", retired, err)
	}
	// The swap stopped merges around the rename; they run again (a table
	// without merges would pile up parts until inserts fail).
	for _, table := range []string{"events", "incidents"} {
		if err := h.conn.Exec(context.Background(), "OPTIMIZE TABLE "+h.db+"."+table+" FINAL"); err != nil {
			t.Errorf("merging %s after the rebuild: %v", table, err)
		}
	}
}
