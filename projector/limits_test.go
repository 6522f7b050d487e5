package projector_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/readmodel"
)

// TestAnalyticsLimits checks the limits the API shares with the query
// layer: each refusal is a *BadQueryError (an ErrBadQuery) naming the limit.
func TestAnalyticsLimits(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		q    readmodel.AnalyticsQuery
		want string // "" = accepted
	}{
		{"a month of days", readmodel.AnalyticsQuery{From: from, To: from.AddDate(0, 1, 0)}, ""},
		{"exactly the limit", readmodel.AnalyticsQuery{From: from, To: from.Add(readmodel.MaxBuckets * time.Hour), Bucket: time.Hour}, ""},
		{"a year of hours", readmodel.AnalyticsQuery{From: from, To: from.AddDate(1, 0, 0), Bucket: time.Hour}, "over the limit of 2000 buckets"},
		{"one bucket over", readmodel.AnalyticsQuery{From: from, To: from.Add((readmodel.MaxBuckets+1)*time.Hour - time.Minute), Bucket: time.Hour}, "over the limit of 2000"},
		{"seconds", readmodel.AnalyticsQuery{From: from, To: from.Add(time.Hour), Bucket: time.Second}, "least bucket of 1m0s"},
		{"backwards", readmodel.AnalyticsQuery{From: from, To: from.Add(-time.Hour)}, "from before to"},
		{"no from", readmodel.AnalyticsQuery{To: from}, "from before to"},
	} {
		err := tc.q.Check()
		var bq *readmodel.BadQueryError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &bq) || !errors.Is(err, readmodel.ErrBadQuery) || !strings.Contains(bq.Reason, tc.want)):
			t.Errorf("%s: got %v, want a BadQueryError saying %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckCursor(t *testing.T) {
	cur := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	for _, tc := range []struct {
		name, cursor string
		sort         readmodel.Sort
		want         string
	}{
		{"none", "", readmodel.SortNewest, ""},
		{"a newest cursor", cur(`{"s":"newest","d":1,"i":"x"}`), readmodel.SortNewest, ""},
		{"the default order", cur(`{"s":"open_first","i":"x"}`), "", ""},
		{"another order", cur(`{"s":"newest","i":"x"}`), readmodel.SortOldest, `cursor is for sort "newest", not "oldest"`},
		{"not base64", "!!!", readmodel.SortNewest, "not one this API returned"},
		{"not JSON", cur("garbage"), readmodel.SortNewest, "not one this API returned"},
		{"no id", cur(`{"s":"newest"}`), readmodel.SortNewest, "not one this API returned"},
	} {
		err := readmodel.CheckCursor(tc.cursor, tc.sort)
		var bq *readmodel.BadQueryError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &bq) || !strings.Contains(bq.Reason, tc.want)):
			t.Errorf("%s: got %v, want a BadQueryError saying %q", tc.name, err, tc.want)
		}
	}
}
