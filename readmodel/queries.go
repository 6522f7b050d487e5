package readmodel

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/incidentd/incidentd/incident"
)

// Errors of the query layer.
var (
	// ErrNotFound: no such incident for this tenant (unknown, not yet
	// projected, or another tenant's: ids reveal nothing).
	ErrNotFound = errors.New("readmodel: incident not found")
	// ErrBadQuery: the query itself is invalid (the caller's fault: a 400).
	ErrBadQuery = errors.New("readmodel: bad query")
	// ErrNotReady: the tables are not there (the projector has not
	// migrated the database yet, or a rebuild is swapping them): worth a
	// retry shortly (a 503).
	ErrNotReady = errors.New("readmodel: tables not ready")
)

// BadQueryError is a query the query layer refuses, with the reason
// written for the caller (it names the limit broken). errors.Is matches it
// with ErrBadQuery.
type BadQueryError struct{ Reason string }

func (e *BadQueryError) Error() string { return "readmodel: bad query: " + e.Reason }

// Is makes a BadQueryError an ErrBadQuery.
func (e *BadQueryError) Is(target error) bool { return target == ErrBadQuery }

func badQuery(format string, args ...any) error {
	return &BadQueryError{Reason: fmt.Sprintf(format, args...)}
}

// notReady marks ClickHouse's "unknown database" and "unknown table"
// errors with ErrNotReady.
func notReady(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && (ex.Code == 60 || ex.Code == 81) {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return err
}

// Limits of an analytics query (AnalyticsQuery.Check).
const (
	// MaxBuckets bounds the buckets one analytics query may ask for.
	MaxBuckets = 2000
	// MinBucket is the narrowest bucket.
	MinBucket = time.Minute
	// DefaultBucket is the bucket of a query that names none.
	DefaultBucket = 24 * time.Hour
)

// Check reports (as a *BadQueryError naming the limit) an analytics query
// Analytics would refuse: From and To missing or out of order, a bucket
// under MinBucket, more than MaxBuckets buckets. A zero Bucket is
// DefaultBucket. The API checks it before querying, with the same limits.
func (aq AnalyticsQuery) Check() error {
	if aq.Bucket == 0 {
		aq.Bucket = DefaultBucket
	}
	switch {
	case aq.From.IsZero() || aq.To.IsZero() || !aq.From.Before(aq.To):
		return badQuery("analytics need from before to")
	case aq.Bucket < MinBucket:
		return badQuery("bucket %s is under the least bucket of %s", aq.Bucket, MinBucket)
	}
	from, to, width := aq.From.UnixMilli(), aq.To.UnixMilli(), aq.Bucket.Milliseconds()
	if nb := (to - from + width - 1) / width; nb > MaxBuckets {
		return badQuery("from..to spans %d buckets of %s, over the limit of %d buckets: widen the bucket or shorten the range", nb, aq.Bucket, MaxBuckets)
	}
	return nil
}

// Queries answers the dashboard's questions from the ClickHouse tables.
// Every method requires a tenant and sees only that tenant's rows. It is
// safe for concurrent use.
type Queries struct {
	conn   driver.Conn
	tables Tables
	policy incident.Policy
}

// QueryOption configures Queries.
type QueryOption func(*Queries)

// WithPolicy sets the severity levels used to sort by severity and to
// order analytics (default incident.DefaultPolicy).
func WithPolicy(p incident.Policy) QueryOption {
	return func(q *Queries) { q.policy = p }
}

// NewQueries returns the queries over the tables of database (as Migrate
// creates them).
func NewQueries(conn driver.Conn, database string, opts ...QueryOption) *Queries {
	q := &Queries{conn: conn, tables: LiveTables(database), policy: incident.DefaultPolicy()}
	for _, o := range opts {
		o(q)
	}
	return q
}

func (q *Queries) check(tenant string) error {
	if tenant == "" {
		return fmt.Errorf("%w: tenant is required", ErrBadQuery)
	}
	if err := ValidIdent(q.tables.Database); err != nil {
		return fmt.Errorf("readmodel: database: %w", err)
	}
	return nil
}

// cursor is a list position: the sort key values of the last row shown.
type cursor struct {
	Sort     Sort   `json:"s"`
	Resolved uint8  `json:"r,omitempty"`
	Rank     int64  `json:"k,omitempty"`
	Declared int64  `json:"d,omitempty"`
	Updated  int64  `json:"u,omitempty"`
	ID       string `json:"i"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return cursor{}, badQuery("cursor is not one this API returned")
	}
	return c, nil
}

// CheckCursor reports (as a *BadQueryError) a list cursor List would
// refuse: not one List returned, or one of another sort order ("" is the
// default order). Callers check it before querying to answer the caller's
// mistake as such.
func CheckCursor(s string, sort Sort) error {
	if s == "" {
		return nil
	}
	if sort == "" {
		sort = SortOpenFirst
	}
	c, err := decodeCursor(s)
	if err != nil {
		return err
	}
	if c.Sort != sort {
		return badQuery("cursor is for sort %q, not %q", c.Sort, sort)
	}
	return nil
}

// order returns the sort keys of a list order, their bound arguments, and
// a function giving a row's key values (for the next cursor).
func (q *Queries) order(s Sort) ([]SortKey, [][]any, func(c cursor) []any, error) {
	sev := q.policy.Severities
	rankArgs := []any{sev, sev}
	switch s {
	case SortOpenFirst:
		return []SortKey{{SQLSortResolved, false}, {SQLSortDeclared, true}, {SQLSortIncident, true}},
			[][]any{nil, nil, nil}, func(c cursor) []any { return []any{c.Resolved, c.Declared, c.ID} }, nil
	case SortNewest:
		return []SortKey{{SQLSortDeclared, true}, {SQLSortIncident, true}},
			[][]any{nil, nil}, func(c cursor) []any { return []any{c.Declared, c.ID} }, nil
	case SortOldest:
		return []SortKey{{SQLSortDeclared, false}, {SQLSortIncident, false}},
			[][]any{nil, nil}, func(c cursor) []any { return []any{c.Declared, c.ID} }, nil
	case SortSeverity:
		return []SortKey{{SQLSortRank, false}, {SQLSortDeclared, true}, {SQLSortIncident, true}},
			[][]any{rankArgs, nil, nil}, func(c cursor) []any { return []any{c.Rank, c.Declared, c.ID} }, nil
	case SortRecentChange:
		return []SortKey{{SQLSortUpdated, true}, {SQLSortIncident, true}},
			[][]any{nil, nil}, func(c cursor) []any { return []any{c.Updated, c.ID} }, nil
	}
	return nil, nil, nil, fmt.Errorf("%w: unknown sort %q", ErrBadQuery, s)
}

// rank is a severity's position in the policy (from 1), as SQLSortRank
// computes it.
func (q *Queries) rank(severity string) int64 {
	if i := slices.Index(q.policy.Severities, severity); i >= 0 {
		return int64(i + 1)
	}
	return 1000000
}

// List returns one page of the tenant's incidents.
func (q *Queries) List(ctx context.Context, tenant string, lq ListQuery) (ListPage, error) {
	if err := q.check(tenant); err != nil {
		return ListPage{}, err
	}
	if lq.Sort == "" {
		lq.Sort = SortOpenFirst
	}
	switch {
	case lq.Limit == 0:
		lq.Limit = DefaultLimit
	case lq.Limit < 0 || lq.Limit > MaxLimit:
		return ListPage{}, fmt.Errorf("%w: limit %d, want 1 to %d", ErrBadQuery, lq.Limit, MaxLimit)
	}
	if !lq.From.IsZero() && !lq.To.IsZero() && !lq.From.Before(lq.To) {
		return ListPage{}, fmt.Errorf("%w: from %s is not before to %s", ErrBadQuery, lq.From, lq.To)
	}
	keys, keyArgs, keyOf, err := q.order(lq.Sort)
	if err != nil {
		return ListPage{}, err
	}
	var after []any
	if lq.Cursor != "" {
		if err := CheckCursor(lq.Cursor, lq.Sort); err != nil {
			return ListPage{}, err
		}
		c, _ := decodeCursor(lq.Cursor)
		after = keyOf(c)
	}
	var filters []ListFilter
	if len(lq.Status) > 0 {
		st := make([]string, len(lq.Status))
		for i, s := range lq.Status {
			st[i] = string(s)
		}
		filters = append(filters, ListFilter{SQLFilterStatus, []any{st}})
	}
	if len(lq.Severity) > 0 {
		filters = append(filters, ListFilter{SQLFilterSeverity, []any{lq.Severity}})
	}
	if lq.Assignee != "" {
		filters = append(filters, ListFilter{SQLFilterAssignee, []any{lq.Assignee}})
	}
	if !lq.From.IsZero() {
		filters = append(filters, ListFilter{SQLFilterFrom, []any{lq.From.UnixMilli()}})
	}
	if !lq.To.IsZero() {
		filters = append(filters, ListFilter{SQLFilterTo, []any{lq.To.UnixMilli()}})
	}
	if lq.Search != "" {
		filters = append(filters, ListFilter{SQLFilterSearch, []any{lq.Search}})
	}
	stmt, args := SQLList(q.tables, tenant, filters, keys, keyArgs, after, lq.Limit+1)
	rows, err := q.conn.Query(ctx, stmt, args...)
	if err != nil {
		return ListPage{}, fmt.Errorf("readmodel: list: %w", notReady(err))
	}
	defer rows.Close()
	var page ListPage
	for rows.Next() {
		var r StateRow
		if err := rows.Scan(r.Dest()...); err != nil {
			return ListPage{}, fmt.Errorf("readmodel: list: %w", notReady(err))
		}
		page.Incidents = append(page.Incidents, r.State())
	}
	if err := rows.Err(); err != nil {
		return ListPage{}, fmt.Errorf("readmodel: list: %w", notReady(err))
	}
	if len(page.Incidents) > lq.Limit {
		page.Incidents = page.Incidents[:lq.Limit]
		last := page.Incidents[lq.Limit-1]
		c := cursor{Sort: lq.Sort, Rank: q.rank(last.Severity), Declared: toMillis(last.DeclaredAt),
			Updated: toMillis(last.UpdatedAt), ID: last.Incident}
		if last.Status == incident.StatusResolved {
			c.Resolved = 1
		}
		page.NextCursor = c.encode()
	}
	return page, nil
}

// Get returns one incident of the tenant with its timeline. An unknown id,
// or another tenant's, gives an error wrapping ErrNotFound.
func (q *Queries) Get(ctx context.Context, tenant, id string) (Timeline, error) {
	if err := q.check(tenant); err != nil {
		return Timeline{}, err
	}
	if id == "" {
		return Timeline{}, fmt.Errorf("%w: incident id is required", ErrBadQuery)
	}
	var r StateRow
	rows, err := q.conn.Query(ctx, SQLGetIncident(q.tables), tenant, id)
	if err != nil {
		return Timeline{}, fmt.Errorf("readmodel: get %s: %w", id, notReady(err))
	}
	found := false
	for rows.Next() {
		if err := rows.Scan(r.Dest()...); err != nil {
			rows.Close()
			return Timeline{}, fmt.Errorf("readmodel: get %s: %w", id, notReady(err))
		}
		found = true
	}
	err = errors.Join(rows.Err(), rows.Close())
	if err != nil {
		return Timeline{}, fmt.Errorf("readmodel: get %s: %w", id, notReady(err))
	}
	if !found {
		return Timeline{}, fmt.Errorf("readmodel: get %s: %w", id, ErrNotFound)
	}
	tl := Timeline{Incident: r.State()}
	rows, err = q.conn.Query(ctx, SQLTimeline(q.tables), tenant, id)
	if err != nil {
		return Timeline{}, fmt.Errorf("readmodel: get %s timeline: %w", id, notReady(err))
	}
	defer rows.Close()
	for rows.Next() {
		var er EventRow
		if err := rows.Scan(er.Dest()...); err != nil {
			return Timeline{}, fmt.Errorf("readmodel: get %s timeline: %w", id, notReady(err))
		}
		tl.Events = append(tl.Events, er.Event())
	}
	if err := rows.Err(); err != nil {
		return Timeline{}, fmt.Errorf("readmodel: get %s timeline: %w", id, notReady(err))
	}
	return tl, nil
}

// Version returns the version of the tenant's incident as projected so
// far: 0 if nothing of it is visible yet (or it is another tenant's). A
// caller that wants to read its own write polls until the version reaches
// the one its command produced.
func (q *Queries) Version(ctx context.Context, tenant, id string) (uint64, error) {
	if err := q.check(tenant); err != nil {
		return 0, err
	}
	var v uint64
	if err := q.conn.QueryRow(ctx, SQLVersion(q.tables), tenant, id).Scan(&v); err != nil {
		return 0, fmt.Errorf("readmodel: version of %s: %w", id, notReady(err))
	}
	return v, nil
}

// facts are what the analytics know of one incident, from its events.
type facts struct {
	incident, severity, status                    string
	declared, impact, acked, resolved, acks, decl int64
}

func (f facts) start() int64 {
	if f.impact != 0 {
		return f.impact
	}
	return f.declared
}

// Analytics computes the tenant's figures over the incidents declared in
// [From, To). Both bounds are required.
func (q *Queries) Analytics(ctx context.Context, tenant string, aq AnalyticsQuery) (Analytics, error) {
	if err := q.check(tenant); err != nil {
		return Analytics{}, err
	}
	if aq.Bucket == 0 {
		aq.Bucket = DefaultBucket
	}
	if err := aq.Check(); err != nil {
		return Analytics{}, err
	}
	from, to, width := aq.From.UnixMilli(), aq.To.UnixMilli(), aq.Bucket.Milliseconds()
	nb := (to - from + width - 1) / width
	rows, err := q.conn.Query(ctx, SQLIncidentFacts(q.tables), tenant, from, to, from, to, from, to)
	if err != nil {
		return Analytics{}, fmt.Errorf("readmodel: analytics: %w", notReady(err))
	}
	defer rows.Close()
	var all []facts
	for rows.Next() {
		var f facts
		var acks, decl uint64
		if err := rows.Scan(&f.incident, &f.severity, &f.declared, &f.impact, &f.acked, &acks, &f.status, &f.resolved, &decl); err != nil {
			return Analytics{}, fmt.Errorf("readmodel: analytics: %w", notReady(err))
		}
		f.acks, f.decl = int64(acks), int64(decl)
		all = append(all, f)
	}
	if err := rows.Err(); err != nil {
		return Analytics{}, fmt.Errorf("readmodel: analytics: %w", notReady(err))
	}
	return q.aggregate(all, from, to, width, int(nb)), nil
}

// mean accumulates durations in milliseconds.
type mean struct {
	n   int
	sum int64
}

func (m *mean) add(ms int64) { m.n++; m.sum += ms }
func (m mean) seconds() float64 {
	if m.n == 0 {
		return 0
	}
	return float64(m.sum) / float64(m.n) / 1000
}

type sevAcc struct {
	stats      SeverityStats
	mtta, mttr mean
}

func (a *sevAcc) add(f facts) {
	a.stats.Declared++
	if f.acks > 0 {
		a.stats.Acknowledged++
		a.mtta.add(f.acked - f.start())
	}
	if f.status == string(incident.StatusResolved) {
		a.stats.Resolved++
		a.mttr.add(f.resolved - f.start())
	}
}

func (a *sevAcc) done() SeverityStats {
	s := a.stats
	s.MTTASeconds, s.MTTRSeconds = a.mtta.seconds(), a.mttr.seconds()
	return s
}

func (q *Queries) aggregate(all []facts, from, to, width int64, nb int) Analytics {
	out := Analytics{OpenNowBySeverity: map[string]int{}}
	bySev := map[string]*sevAcc{}
	var overall sevAcc
	buckets := make([]sevAcc, nb)
	for i := range buckets {
		buckets[i].stats.Severity = ""
	}
	declaredIn := make([]map[string]int, nb)
	resolvedIn := make([]int, nb)
	ackedIn := make([]int, nb)
	for _, f := range all {
		resolved := f.status == string(incident.StatusResolved)
		if !resolved {
			out.OpenNow++
			out.OpenNowBySeverity[f.severity]++
		}
		if resolved && f.resolved >= from && f.resolved < to {
			resolvedIn[(f.resolved-from)/width]++
		}
		if f.acks > 0 && f.acked >= from && f.acked < to {
			ackedIn[(f.acked-from)/width]++
		}
		if f.declared < from || f.declared >= to {
			continue
		}
		a := bySev[f.severity]
		if a == nil {
			a = &sevAcc{stats: SeverityStats{Severity: f.severity}}
			bySev[f.severity] = a
		}
		a.add(f)
		overall.add(f)
		i := (f.declared - from) / width
		buckets[i].add(f)
		if declaredIn[i] == nil {
			declaredIn[i] = map[string]int{}
		}
		declaredIn[i][f.severity]++
	}
	sevs := make([]string, 0, len(bySev))
	for s := range bySev {
		sevs = append(sevs, s)
	}
	sort.Slice(sevs, func(i, j int) bool {
		ri, rj := q.rank(sevs[i]), q.rank(sevs[j])
		if ri != rj {
			return ri < rj
		}
		return sevs[i] < sevs[j]
	})
	for _, s := range sevs {
		out.BySeverity = append(out.BySeverity, bySev[s].done())
	}
	out.Overall = overall.done()
	for i := range buckets {
		b := buckets[i].done()
		d := declaredIn[i]
		if d == nil {
			d = map[string]int{}
		}
		out.Buckets = append(out.Buckets, Bucket{
			Start:        time.UnixMilli(from + int64(i)*width).UTC(),
			Declared:     d,
			Acknowledged: ackedIn[i],
			Resolved:     resolvedIn[i],
			MTTASeconds:  b.MTTASeconds,
			MTTRSeconds:  b.MTTRSeconds,
		})
	}
	return out
}
