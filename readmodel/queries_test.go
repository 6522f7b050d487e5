package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/projector"
	"github.com/incidentd/incidentd/readmodel"
)

// scenario builds incidents from commands with the model and remembers
// their events in log order.
type scenario struct {
	t      *testing.T
	policy incident.Policy
	states map[string]incident.State
	events []incident.Event
	n      int
}

func (s *scenario) do(tenant, id string, at time.Time, kind incident.CommandKind, edit func(*incident.Command)) {
	s.t.Helper()
	s.n++
	c := incident.Command{ID: fmt.Sprintf("c%d", s.n), Incident: id, Tenant: tenant,
		Actor: "U1", At: at, Kind: kind, Source: incident.Source{Kind: incident.FromDashboard}}
	if edit != nil {
		edit(&c)
	}
	d := incident.Decide(s.policy, s.states[id], c, nil) // ids are unique
	if len(d.Events) == 0 {
		s.t.Fatalf("%s %s: no events", id, kind)
	}
	if d.Events[0].Notice() {
		return // in no history: the projector stores nothing of it
	}
	s.states[id] = incident.Fold(s.states[id], d.Events...)
	s.events = append(s.events, d.Events...)
}

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// analyticsScenario: five incidents of acme (A..E) and one of globex (F),
// with the figures worked out by hand in TestAnalytics.
func analyticsScenario(t *testing.T) *scenario {
	s := &scenario{t: t, policy: incident.DefaultPolicy(), states: map[string]incident.State{}}
	sev := func(x string, title string) func(*incident.Command) {
		return func(c *incident.Command) { c.Severity = x; c.Title = title }
	}
	h, m := time.Hour, time.Minute
	s.do("acme", "A", at(1*h), incident.Declare, sev("SEV1", "Checkout down"))
	s.do("globex", "F", at(1*h), incident.Declare, sev("SEV1", "globex checkout"))
	s.do("acme", "A", at(1*h+5*m), incident.Acknowledge, nil)
	s.do("acme", "A", at(2*h), incident.Resolve, nil)
	s.do("acme", "B", at(3*h), incident.Declare, sev("SEV1", "Payments latency"))
	s.do("acme", "B", at(3*h+1*m), incident.SetImpactStarted, func(c *incident.Command) { c.ImpactStarted = at(2 * h) })
	s.do("acme", "B", at(3*h+10*m), incident.Acknowledge, nil)
	s.do("acme", "F", at(3*h+11*m), incident.Acknowledge, nil) // acme poking globex's incident: rejected
	s.do("acme", "B", at(5*h), incident.Resolve, nil)
	s.do("acme", "B", at(6*h), incident.Reopen, nil)
	s.do("acme", "B", at(7*h), incident.Resolve, nil)
	s.do("acme", "E", at(-24*h), incident.Declare, sev("SEV2", "DNS flapping"))
	s.do("acme", "C", at(25*h), incident.Declare, sev("SEV2", "login errors"))
	s.do("acme", "D", at(26*h), incident.Declare, sev("SEV1", "queue backlog"))
	s.do("acme", "D", at(26*h+1*m), incident.Acknowledge, nil)
	s.do("acme", "D", at(26*h+2*m), incident.Assign, func(c *incident.Command) { c.Role = incident.Assignee; c.Person = "alice" })
	s.do("acme", "D", at(27*h), incident.SetSeverity, func(c *incident.Command) { c.Severity = "SEV3" })
	s.do("acme", "E", at(29*h), incident.Acknowledge, nil) // counted in bucket 1, not in E's (out-of-range) MTTA
	s.do("acme", "E", at(30*h), incident.Resolve, nil)
	return s
}

// load writes the scenario's rows through the real sink, twice over, plus a
// stale state row, as re-delivery would.
func (s *scenario) load(t *testing.T, sink *projector.ClickHouseSink) {
	ctx := context.Background()
	var latest []incident.State
	var stale []incident.State
	for id, st := range s.states {
		if !st.Declared {
			continue
		}
		latest = append(latest, st)
		var first incident.State
		for _, e := range s.events {
			if e.Incident == id {
				first = incident.Evolve(first, e)
				break
			}
		}
		stale = append(stale, first)
	}
	for _, pass := range [][]incident.State{stale, latest, stale} {
		if err := sink.Insert(ctx, s.events, pass); err != nil {
			t.Fatal(err)
		}
	}
}

func startQueries(t *testing.T) (*readmodel.Queries, *projector.ClickHouseSink) {
	ch := testenv.StartClickHouse(t)
	conn := ch.Open(t)
	ctx := context.Background()
	if err := projector.Migrate(ctx, conn, "incidentd"); err != nil {
		t.Fatal(err)
	}
	if err := projector.Migrate(ctx, conn, "incidentd"); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	return readmodel.NewQueries(conn, "incidentd"), projector.NewClickHouseSink(conn, "incidentd")
}

func ids(states []incident.State) []string {
	var out []string
	for _, s := range states {
		out = append(out, s.Incident)
	}
	return out
}

func TestList(t *testing.T) {
	q, sink := startQueries(t)
	s := analyticsScenario(t)
	s.load(t, sink)
	ctx := context.Background()

	list := func(lq readmodel.ListQuery) []string {
		t.Helper()
		p, err := q.List(ctx, "acme", lq)
		if err != nil {
			t.Fatalf("List(%+v): %v", lq, err)
		}
		return ids(p.Incidents)
	}
	for _, tc := range []struct {
		name string
		q    readmodel.ListQuery
		want []string
	}{
		{"default: open first, newest first", readmodel.ListQuery{}, []string{"D", "C", "B", "A", "E"}},
		{"resolved", readmodel.ListQuery{Status: []incident.Status{incident.StatusResolved}}, []string{"B", "A", "E"}},
		{"open or acknowledged", readmodel.ListQuery{Status: []incident.Status{incident.StatusOpen, incident.StatusAcknowledged}}, []string{"D", "C"}},
		{"severity now, not at declaration", readmodel.ListQuery{Severity: []string{"SEV1"}}, []string{"B", "A"}},
		{"assignee", readmodel.ListQuery{Assignee: "alice"}, []string{"D"}},
		{"declared in a range", readmodel.ListQuery{From: at(0), To: at(24 * time.Hour)}, []string{"B", "A"}},
		{"search ignores case", readmodel.ListQuery{Search: "cHeCkOuT"}, []string{"A"}},
		{"search nothing", readmodel.ListQuery{Search: "%"}, nil},
		{"search quotes and backslashes", readmodel.ListQuery{Search: `it's \ "x" ?`}, nil},
		{"assignee with a quote", readmodel.ListQuery{Assignee: "o'brien"}, nil},
		{"by severity", readmodel.ListQuery{Sort: readmodel.SortSeverity}, []string{"B", "A", "C", "E", "D"}},
		{"oldest", readmodel.ListQuery{Sort: readmodel.SortOldest}, []string{"E", "A", "B", "C", "D"}},
		{"newest", readmodel.ListQuery{Sort: readmodel.SortNewest}, []string{"D", "C", "B", "A", "E"}},
		{"recent change", readmodel.ListQuery{Sort: readmodel.SortRecentChange}, []string{"E", "D", "C", "B", "A"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.q); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	// Pages of two follow the same order, for every sort.
	for _, sort := range []readmodel.Sort{readmodel.SortOpenFirst, readmodel.SortNewest, readmodel.SortOldest, readmodel.SortSeverity, readmodel.SortRecentChange} {
		all := list(readmodel.ListQuery{Sort: sort})
		var paged []string
		lq := readmodel.ListQuery{Sort: sort, Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("%s: pagination does not end", sort)
			}
			p, err := q.List(ctx, "acme", lq)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, ids(p.Incidents)...)
			if p.NextCursor == "" {
				break
			}
			lq.Cursor = p.NextCursor
		}
		if !reflect.DeepEqual(paged, all) {
			t.Errorf("%s: pages %v, want %v", sort, paged, all)
		}
	}

	// The listed state is the latest, complete one.
	p, err := q.List(ctx, "acme", readmodel.ListQuery{Assignee: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	want := s.states["D"]
	if !reflect.DeepEqual(p.Incidents[0], want) {
		t.Fatalf("listed D = %+v\nwant %+v", p.Incidents[0], want)
	}

	// Tenants see only their own.
	p, err = q.List(ctx, "globex", readmodel.ListQuery{})
	if err != nil || !reflect.DeepEqual(ids(p.Incidents), []string{"F"}) {
		t.Fatalf("globex list = %v, %v; want [F]", ids(p.Incidents), err)
	}

	for _, tc := range []struct {
		name   string
		tenant string
		q      readmodel.ListQuery
	}{
		{"no tenant", "", readmodel.ListQuery{}},
		{"bad cursor", "acme", readmodel.ListQuery{Cursor: "!!"}},
		{"cursor of another sort", "acme", readmodel.ListQuery{Cursor: mustCursor(t, q), Sort: readmodel.SortOldest}},
		{"limit", "acme", readmodel.ListQuery{Limit: readmodel.MaxLimit + 1}},
		{"sort", "acme", readmodel.ListQuery{Sort: "random"}},
		{"range", "acme", readmodel.ListQuery{From: at(time.Hour), To: at(0)}},
	} {
		if _, err := q.List(ctx, tc.tenant, tc.q); !errors.Is(err, readmodel.ErrBadQuery) {
			t.Errorf("%s: err = %v, want ErrBadQuery", tc.name, err)
		}
	}
}

func mustCursor(t *testing.T, q *readmodel.Queries) string {
	p, err := q.List(context.Background(), "acme", readmodel.ListQuery{Limit: 1})
	if err != nil || p.NextCursor == "" {
		t.Fatalf("first page: %v", err)
	}
	return p.NextCursor
}

func TestGetAndVersion(t *testing.T) {
	q, sink := startQueries(t)
	s := analyticsScenario(t)
	s.load(t, sink)
	ctx := context.Background()

	tl, err := q.Get(ctx, "globex", "F")
	if err != nil {
		t.Fatal(err)
	}
	// acme's rejected acknowledge of F is a notice to acme: not in F's
	// history, which stays at version 1.
	if len(tl.Events) != 1 || tl.Events[0].Kind != incident.Declared || tl.Incident.Version != 1 {
		t.Fatalf("F timeline = %s (version %d), want only its declaration at version 1", summary(tl.Events), tl.Incident.Version)
	}
	if _, err := q.Get(ctx, "acme", "F"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Fatalf("acme reading globex's F: %v, want ErrNotFound", err)
	}
	if _, err := q.Get(ctx, "acme", "nope"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}
	tl, err = q.Get(ctx, "acme", "B")
	if err != nil {
		t.Fatal(err)
	}
	var want []incident.Event
	for _, e := range s.events {
		if e.Incident == "B" {
			want = append(want, e)
		}
	}
	if !reflect.DeepEqual(tl.Events, want) {
		t.Fatalf("B timeline = %s, want %s", summary(tl.Events), summary(want))
	}
	for _, tc := range []struct {
		tenant, id string
		want       uint64
	}{{"acme", "B", 6}, {"globex", "F", 1}, {"acme", "F", 0}, {"acme", "nope", 0}} {
		v, err := q.Version(ctx, tc.tenant, tc.id)
		if err != nil || v != tc.want {
			t.Errorf("Version(%s, %s) = %d, %v; want %d", tc.tenant, tc.id, v, err, tc.want)
		}
	}
	if _, err := q.Version(ctx, "", "B"); !errors.Is(err, readmodel.ErrBadQuery) {
		t.Errorf("Version without tenant: %v, want ErrBadQuery", err)
	}
}

func TestAnalytics(t *testing.T) {
	q, sink := startQueries(t)
	s := analyticsScenario(t)
	s.load(t, sink)
	ctx := context.Background()

	got, err := q.Analytics(ctx, "acme", readmodel.AnalyticsQuery{From: at(0), To: at(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// Worked out by hand (see analyticsScenario): MTTA and MTTR start at
	// B's back-dated impact start, and B's MTTR runs to its latest
	// resolution; D counts under its severity now, SEV3.
	want := readmodel.Analytics{
		BySeverity: []readmodel.SeverityStats{
			{Severity: "SEV1", Declared: 2, Acknowledged: 2, Resolved: 2, MTTASeconds: (300 + 4200) / 2, MTTRSeconds: (3600 + 18000) / 2},
			{Severity: "SEV2", Declared: 1},
			{Severity: "SEV3", Declared: 1, Acknowledged: 1, MTTASeconds: 60},
		},
		Overall: readmodel.SeverityStats{Declared: 4, Acknowledged: 3, Resolved: 2, MTTASeconds: (300 + 4200 + 60) / 3.0, MTTRSeconds: 10800},
		Buckets: []readmodel.Bucket{
			{Start: at(0), Declared: map[string]int{"SEV1": 2}, Acknowledged: 2, Resolved: 2, MTTASeconds: 2250, MTTRSeconds: 10800},
			{Start: at(24 * time.Hour), Declared: map[string]int{"SEV2": 1, "SEV3": 1}, Acknowledged: 2, Resolved: 1, MTTASeconds: 60},
		},
		OpenNow:           2,
		OpenNowBySeverity: map[string]int{"SEV2": 1, "SEV3": 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("analytics:\n got %+v\nwant %+v", got, want)
	}

	g, err := q.Analytics(ctx, "globex", readmodel.AnalyticsQuery{From: at(0), To: at(time.Hour * 2), Bucket: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if g.Overall.Declared != 1 || g.OpenNow != 1 || len(g.Buckets) != 2 || g.Buckets[1].Declared["SEV1"] != 1 {
		t.Fatalf("globex analytics = %+v, want F alone", g)
	}
	for _, bad := range []readmodel.AnalyticsQuery{
		{}, {From: at(time.Hour), To: at(0)}, {From: at(0), To: at(time.Hour), Bucket: time.Second},
		{From: at(0), To: at(10000 * time.Hour), Bucket: time.Minute},
	} {
		if _, err := q.Analytics(ctx, "acme", bad); !errors.Is(err, readmodel.ErrBadQuery) {
			t.Errorf("Analytics(%+v): %v, want ErrBadQuery", bad, err)
		}
	}
	if _, err := q.Analytics(ctx, "", readmodel.AnalyticsQuery{From: at(0), To: at(time.Hour)}); !errors.Is(err, readmodel.ErrBadQuery) {
		t.Errorf("Analytics without tenant: %v, want ErrBadQuery", err)
	}
}

func TestNotReady(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	q := readmodel.NewQueries(ch.Open(t), "incidentd")
	ctx := context.Background()
	_, err := q.List(ctx, "acme", readmodel.ListQuery{})
	if !errors.Is(err, readmodel.ErrNotReady) {
		t.Errorf("List before migration: %v, want ErrNotReady", err)
	}
	if _, err := q.Version(ctx, "acme", "A"); !errors.Is(err, readmodel.ErrNotReady) {
		t.Errorf("Version before migration: %v, want ErrNotReady", err)
	}
	if _, err := q.Get(ctx, "acme", "A"); !errors.Is(err, readmodel.ErrNotReady) {
		t.Errorf("Get before migration: %v, want ErrNotReady", err)
	}
}

// TestListReadsOnlyTheLatestRow: an incident whose state rows are not
// merged yet (two inserts, two parts) is listed by its latest row only:
// filters that its older row matches and its latest does not leave it out.
func TestListReadsOnlyTheLatestRow(t *testing.T) {
	t.Parallel() // owns its ClickHouse server
	ch := testenv.StartClickHouse(t)
	conn, err := projector.OpenClickHouse(ch.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	const db = "incidentd"
	if err := projector.Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	insert := func(id string, version int, title, severity, status, assignee string) {
		t.Helper()
		err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.incidents (incident, tenant, version, title, severity, status, assignee, declared_ms, updated_ms)
			SELECT '%s', 'acme', %d, '%s', '%s', '%s', '%s', %d, %d`, db, id, version, title, severity, status, assignee,
			t0.UnixMilli(), t0.UnixMilli()+int64(version)))
		if err != nil {
			t.Fatal(err)
		}
	}
	insert("X", 1, "disk full", "SEV1", "open", "U1")
	insert("Y", 1, "disk slow", "SEV1", "open", "U1")
	insert("X", 2, "renamed", "SEV3", "resolved", "U2") // a part of its own
	q := readmodel.NewQueries(conn, db)
	for name, tc := range map[string]struct {
		lq   readmodel.ListQuery
		want []string
	}{
		"all":       {readmodel.ListQuery{Sort: readmodel.SortNewest}, []string{"Y", "X"}},
		"open only": {readmodel.ListQuery{Status: []incident.Status{incident.StatusOpen}}, []string{"Y"}},
		"SEV1":      {readmodel.ListQuery{Severity: []string{"SEV1"}}, []string{"Y"}},
		"assignee":  {readmodel.ListQuery{Assignee: "U1"}, []string{"Y"}},
		"search":    {readmodel.ListQuery{Search: "disk"}, []string{"Y"}},
	} {
		page, err := q.List(ctx, "acme", tc.lq)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range page.Incidents {
			got = append(got, s.Incident)
			if s.Incident == "X" && (s.Version != 2 || s.Status != incident.StatusResolved) {
				t.Errorf("%s: X listed as version %d, %s; want its latest row, version 2, resolved", name, s.Version, s.Status)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: listed %v, want %v", name, got, tc.want)
		}
	}
}

// summary lists events as version:kind/tenant, for failure messages.
func summary(evs []incident.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%d:%s/%s ", e.Version, e.Kind, e.Tenant)
	}
	return b.String()
}
