package readmodel

import (
	"time"

	"github.com/incidentd/incidentd/incident"
)

// This file is the query layer's contract with its callers (ingress's
// dashboard API): what can be asked and what comes back. Every query takes
// the tenant as a mandatory argument; an empty tenant is an error, never
// "all tenants".

// ListQuery filters, sorts and pages the incident list.
type ListQuery struct {
	Status   []incident.Status // any of; empty: all
	Severity []string          // any of; empty: all
	Assignee string            // exact; empty: any
	From, To time.Time         // declared within [From, To); zero: unbounded
	Search   string            // case-insensitive substring of the title
	Sort     Sort              // default SortOpenFirst
	Limit    int               // 1..MaxLimit; 0 means DefaultLimit
	Cursor   string            // from the previous page's NextCursor
}

// Sort orders the incident list.
type Sort string

// The list orders.
const (
	SortOpenFirst    Sort = "open_first"    // unresolved first, then newest declared first
	SortNewest       Sort = "newest"        // newest declared first
	SortOldest       Sort = "oldest"        // oldest declared first
	SortSeverity     Sort = "severity"      // most severe first, then newest
	SortRecentChange Sort = "recent_change" // most recently updated first
)

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ListPage is one page of incidents. Times are in UTC, at millisecond
// precision (what ClickHouse stores).
type ListPage struct {
	Incidents  []incident.State // Recent is not filled in
	NextCursor string           // empty on the last page
}

// Timeline is one incident with every event of its history, oldest first
// (rejections included: they are part of the history). Rejections of
// commands another tenant sent for the same id are not shown (their
// versions are missing from Events).
type Timeline struct {
	Incident incident.State
	Events   []incident.Event
}

// AnalyticsQuery selects the incidents analytics are computed over: those
// declared within [From, To), bucketed by Bucket. From and To are required;
// at most MaxBuckets buckets.
type AnalyticsQuery struct {
	From, To time.Time
	Bucket   time.Duration // default 24h; at least 1 minute
}

// Analytics are computed from the event rows, so they respect back-dated
// corrections (impact started) and can be audited against the timeline.
//
// MTTA: from impact start (or declaration, when impact start is not set) to
// the first acknowledgement. MTTR: from the same start to the latest
// resolution, for incidents resolved now.
type Analytics struct {
	BySeverity        []SeverityStats // in policy order as stored; one per severity seen
	Overall           SeverityStats   // Severity is empty
	Buckets           []Bucket        // one per Bucket-long interval in [From, To)
	OpenNow           int             // unresolved incidents now, whenever declared
	OpenNowBySeverity map[string]int
}

// SeverityStats are the figures of one severity level.
type SeverityStats struct {
	Severity     string
	Declared     int
	Acknowledged int     // incidents with an acknowledgement
	Resolved     int     // incidents resolved now
	MTTASeconds  float64 // 0 when nothing acknowledged
	MTTRSeconds  float64 // 0 when nothing resolved
}

// Bucket counts incidents declared and resolved in one interval
// [Start, Start+Bucket). Buckets start at From; the last one may reach past
// To (it still only counts incidents declared before To).
type Bucket struct {
	Start        time.Time
	Declared     map[string]int // incidents declared in the bucket, by severity
	Acknowledged int            // incidents first acknowledged in the bucket (whenever declared)
	Resolved     int            // incidents resolved now whose latest resolution is in the bucket (whenever declared)
	MTTASeconds  float64        // of incidents declared in the bucket
	MTTRSeconds  float64        // of incidents declared in the bucket and resolved now
}
