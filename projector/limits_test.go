package projector_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/projector"
)

// TestAnalyticsLimits checks the limits the API shares with the query
// layer: each refusal is a *BadQueryError (an ErrBadQuery) naming the limit.
func TestAnalyticsLimits(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		q    projector.AnalyticsQuery
		want string // "" = accepted
	}{
		{"a month of days", projector.AnalyticsQuery{From: from, To: from.AddDate(0, 1, 0)}, ""},
		{"exactly the limit", projector.AnalyticsQuery{From: from, To: from.Add(projector.MaxBuckets * time.Hour), Bucket: time.Hour}, ""},
		{"a year of hours", projector.AnalyticsQuery{From: from, To: from.AddDate(1, 0, 0), Bucket: time.Hour}, "over the limit of 2000 buckets"},
		{"one bucket over", projector.AnalyticsQuery{From: from, To: from.Add((projector.MaxBuckets+1)*time.Hour - time.Minute), Bucket: time.Hour}, "over the limit of 2000"},
		{"seconds", projector.AnalyticsQuery{From: from, To: from.Add(time.Hour), Bucket: time.Second}, "least bucket of 1m0s"},
		{"backwards", projector.AnalyticsQuery{From: from, To: from.Add(-time.Hour)}, "from before to"},
		{"no from", projector.AnalyticsQuery{To: from}, "from before to"},
	} {
		err := tc.q.Check()
		var bq *projector.BadQueryError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &bq) || !errors.Is(err, projector.ErrBadQuery) || !strings.Contains(bq.Reason, tc.want)):
			t.Errorf("%s: got %v, want a BadQueryError saying %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckCursor(t *testing.T) {
	cur := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	for _, tc := range []struct {
		name, cursor string
		sort         projector.Sort
		want         string
	}{
		{"none", "", projector.SortNewest, ""},
		{"a newest cursor", cur(`{"s":"newest","d":1,"i":"x"}`), projector.SortNewest, ""},
		{"the default order", cur(`{"s":"open_first","i":"x"}`), "", ""},
		{"another order", cur(`{"s":"newest","i":"x"}`), projector.SortOldest, `cursor is for sort "newest", not "oldest"`},
		{"not base64", "!!!", projector.SortNewest, "not one this API returned"},
		{"not JSON", cur("garbage"), projector.SortNewest, "not one this API returned"},
		{"no id", cur(`{"s":"newest"}`), projector.SortNewest, "not one this API returned"},
	} {
		err := projector.CheckCursor(tc.cursor, tc.sort)
		var bq *projector.BadQueryError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &bq) || !strings.Contains(bq.Reason, tc.want)):
			t.Errorf("%s: got %v, want a BadQueryError saying %q", tc.name, err, tc.want)
		}
	}
}
