package ingress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/readmodel"
)

// readPoll is how often a read with ?min_version= asks the view again.
const readPoll = 25 * time.Millisecond

// viewsError answers a failed view query: 404 for not found, 400 for a
// query the query layer refuses (the caller's mistake: a retry would not
// help), 503 otherwise.
func (s *Server) viewsError(w http.ResponseWriter, r *http.Request, id string, err error) {
	if s.isNotFound(err) {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no incident "+id)
		return
	}
	if errors.Is(err, readmodel.ErrBadQuery) {
		s.writeRefusal(w, r, badQueryParam(err))
		return
	}
	s.log.Warn("views query", "incident_id", id, "err", err)
	writeUnavailable(w, s.cfg.RetryAfter, CodeViewsUnavailable, "the incident views (ClickHouse) are unavailable; writes still work")
}

func (s *Server) isNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || (s.notFound != nil && s.notFound(err))
}

// viewsReady answers 503 when no views are configured.
func (s *Server) viewsReady(w http.ResponseWriter) bool {
	if s.views == nil {
		writeUnavailable(w, s.cfg.RetryAfter, CodeViewsUnavailable, "the incident views (ClickHouse) are not configured or unreachable; writes still work")
		return false
	}
	return true
}

// apiGet is GET /api/v1/incidents/{id}[?min_version=N].
func (s *Server) apiGet(w http.ResponseWriter, r *http.Request, p principal) {
	id := mux.Vars(r)["id"]
	var minVersion uint64
	if v := r.URL.Query().Get("min_version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, CodeInvalidField, fmt.Sprintf("min_version=%q: want a non-negative integer", v))
			return
		}
		minVersion = n
	}
	if !validIncidentID(id) {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no incident "+id)
		return
	}
	if !s.viewsReady(w) {
		return
	}
	if minVersion > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.MaxReadWait)
		err := s.awaitVersion(ctx, p.Tenant, id, minVersion)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			writeUnavailable(w, s.cfg.RetryAfter, CodeViewBehind,
				fmt.Sprintf("the view does not have version %d of %s yet (waited %v)", minVersion, id, s.cfg.MaxReadWait))
			return
		case err != nil:
			s.viewsError(w, r, id, err)
			return
		}
	}
	tl, err := s.views.Get(r.Context(), p.Tenant, id)
	if err != nil {
		s.viewsError(w, r, id, err)
		return
	}
	if tl.Incident.Tenant != "" && tl.Incident.Tenant != p.Tenant {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no incident "+id)
		return
	}
	out := TimelineJSON{Incident: incidentJSON(tl.Incident), Events: make([]EventJSON, 0, len(tl.Events))}
	for _, e := range tl.Events {
		out.Events = append(out.Events, eventJSON(e))
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%s/%d"`, id, tl.Incident.Version))
	writeJSON(w, http.StatusOK, out)
}

// awaitVersion polls the view until it holds version want of the
// incident. Not found counts as "not yet": a just-declared incident is on
// its way.
func (s *Server) awaitVersion(ctx context.Context, tenant, id string, want uint64) error {
	t := time.NewTicker(readPoll)
	defer t.Stop()
	for {
		v, err := s.views.Version(ctx, tenant, id)
		switch {
		case err == nil && v >= want:
			return nil
		case err != nil && !s.isNotFound(err) && ctx.Err() == nil:
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// apiList is GET /api/v1/incidents.
func (s *Server) apiList(w http.ResponseWriter, r *http.Request, p principal) {
	q, err := parseListQuery(r.URL.Query(), s.cfg.Policy)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	if !s.viewsReady(w) {
		return
	}
	page, err := s.views.List(r.Context(), p.Tenant, q)
	if err != nil {
		s.viewsError(w, r, "", err)
		return
	}
	out := ListJSON{Incidents: make([]IncidentJSON, 0, len(page.Incidents)), NextCursor: page.NextCursor}
	for _, st := range page.Incidents {
		if st.Tenant != "" && st.Tenant != p.Tenant {
			continue // never another tenant's, whatever the view returns
		}
		out.Incidents = append(out.Incidents, incidentJSON(st))
	}
	writeJSON(w, http.StatusOK, out)
}

var sorts = []readmodel.Sort{readmodel.SortOpenFirst, readmodel.SortNewest, readmodel.SortOldest, readmodel.SortSeverity, readmodel.SortRecentChange}

// listValues returns a parameter given as repeated values or comma-separated.
func listValues(v url.Values, name string) []string {
	var out []string
	for _, x := range v[name] {
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// parseListQuery parses and checks the list's query parameters.
func parseListQuery(v url.Values, pol incident.Policy) (readmodel.ListQuery, error) {
	var q readmodel.ListQuery
	for _, st := range listValues(v, "status") {
		switch incident.Status(st) {
		case incident.StatusOpen, incident.StatusAcknowledged, incident.StatusMitigated, incident.StatusResolved:
			q.Status = append(q.Status, incident.Status(st))
		default:
			return q, badParam("status=%q: want open, acknowledged, mitigated or resolved", st)
		}
	}
	for _, sev := range listValues(v, "severity") {
		ok := false
		for _, l := range pol.Severities {
			ok = ok || l == sev
		}
		if !ok {
			return q, badParam("severity=%q: want one of %s", sev, strings.Join(pol.Severities, ", "))
		}
		q.Severity = append(q.Severity, sev)
	}
	q.Assignee = v.Get("assignee")
	if err := incident.CheckLine(q.Assignee, incident.MaxPerson); err != nil {
		return q, badParam("assignee %s", err)
	}
	var err error
	if q.From, err = parseTimeParam(v, "from"); err != nil {
		return q, err
	}
	if q.To, err = parseTimeParam(v, "to"); err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, badParam("from must be before to")
	}
	q.Search = v.Get("q")
	if err := incident.CheckLine(q.Search, incident.MaxTitle); err != nil {
		return q, badParam("q %s", err)
	}
	if sv := v.Get("sort"); sv != "" {
		ok := false
		for _, s := range sorts {
			ok = ok || string(s) == sv
		}
		if !ok {
			return q, badParam("sort=%q: want one of open_first, newest, oldest, severity, recent_change", sv)
		}
		q.Sort = readmodel.Sort(sv)
	}
	if lv := v.Get("limit"); lv != "" {
		n, err := strconv.Atoi(lv)
		if err != nil || n < 1 || n > readmodel.MaxLimit {
			return q, badParam("limit=%q: want 1 to %d", lv, readmodel.MaxLimit)
		}
		q.Limit = n
	}
	q.Cursor = v.Get("cursor")
	if len(q.Cursor) > 1024 {
		return q, badParam("cursor is not one this API returned")
	}
	if err := readmodel.CheckCursor(q.Cursor, q.Sort); err != nil {
		return q, badQueryParam(err)
	}
	return q, nil
}

// badQueryParam is the 400 of a query the query layer refuses, with its
// reason (which names the limit broken).
func badQueryParam(err error) error {
	var bq *readmodel.BadQueryError
	if errors.As(err, &bq) {
		return &bodyError{http.StatusBadRequest, CodeInvalidField, bq.Reason}
	}
	return refusal(http.StatusBadRequest, CodeInvalidField, "the query is not valid", err)
}

func badParam(format string, args ...any) error {
	return &bodyError{http.StatusBadRequest, CodeInvalidField, fmt.Sprintf(format, args...)}
}

func parseTimeParam(v url.Values, name string) (time.Time, error) {
	s := v.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := parseRFC3339(s)
	if err != nil {
		return time.Time{}, badParam("%s=%q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name, s)
	}
	return t, nil
}

// rfc3339 is the shape of RFC 3339's date-time (section 5.6), the
// OpenAPI document's format date-time: two digits to each field and an
// offset under 24 hours, which time.Parse does not insist on (it takes
// "T0:00:00Z" and "+24:00").
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`)

// parseRFC3339 parses an RFC 3339 date-time of year 1 or later: year 0 is
// no time of an incident, and the analytics range that ends there (30 days
// back by default) would start before what an answer's JSON can hold.
func parseRFC3339(s string) (time.Time, error) {
	if !rfc3339.MatchString(s) {
		return time.Time{}, errors.New("not an RFC 3339 date-time")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil && t.UTC().Year() < 1 {
		return time.Time{}, errors.New("a time before year 1")
	}
	return t, err
}

// parseBucket accepts Go durations ("1h", "15m") and days ("1d", "7d").
func parseBucket(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 366 {
			return 0, badParam("bucket=%q: want a duration such as 1h or 1d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	b, err := time.ParseDuration(s)
	if err != nil || b < readmodel.MinBucket {
		return 0, badParam("bucket=%q: want a duration of at least %v, such as 1h or 1d", s, readmodel.MinBucket)
	}
	return b, nil
}

// apiAnalytics is GET /api/v1/analytics?from=&to=&bucket=.
func (s *Server) apiAnalytics(w http.ResponseWriter, r *http.Request, p principal) {
	v := r.URL.Query()
	q := readmodel.AnalyticsQuery{Bucket: readmodel.DefaultBucket}
	var err error
	if q.From, err = parseTimeParam(v, "from"); err != nil {
		writeBodyError(w, err)
		return
	}
	if q.To, err = parseTimeParam(v, "to"); err != nil {
		writeBodyError(w, err)
		return
	}
	if q.To.IsZero() {
		q.To = s.cfg.Now().UTC()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-30 * 24 * time.Hour)
	}
	if b := v.Get("bucket"); b != "" {
		if q.Bucket, err = parseBucket(b); err != nil {
			writeBodyError(w, err)
			return
		}
	}
	if !q.From.Before(q.To) {
		writeProblem(w, http.StatusBadRequest, CodeInvalidField, "from must be before to")
		return
	}
	// The query layer's own limits, checked here so that a query it
	// would refuse is the caller's 400, not a 503.
	if err := q.Check(); err != nil {
		s.writeRefusal(w, r, badQueryParam(err))
		return
	}
	if !s.viewsReady(w) {
		return
	}
	a, err := s.views.Analytics(r.Context(), p.Tenant, q)
	if err != nil {
		s.viewsError(w, r, "", err)
		return
	}
	out := AnalyticsJSON{
		From: q.From, To: q.To, BucketSeconds: q.Bucket.Seconds(),
		BySeverity: make([]SeverityStatsJSON, 0, len(a.BySeverity)), Overall: severityStatsJSON(a.Overall),
		Buckets: make([]BucketJSON, 0, len(a.Buckets)), OpenNow: a.OpenNow, OpenNowBySeverity: a.OpenNowBySeverity,
	}
	if out.OpenNowBySeverity == nil {
		out.OpenNowBySeverity = map[string]int{}
	}
	for _, st := range a.BySeverity {
		out.BySeverity = append(out.BySeverity, severityStatsJSON(st))
	}
	for _, b := range a.Buckets {
		d := b.Declared
		if d == nil {
			d = map[string]int{}
		}
		out.Buckets = append(out.Buckets, BucketJSON{Start: b.Start, Declared: d, Resolved: b.Resolved, MTTASeconds: b.MTTASeconds, MTTRSeconds: b.MTTRSeconds})
	}
	writeJSON(w, http.StatusOK, out)
}
