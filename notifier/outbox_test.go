package notifier_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/notifier"
)

func TestReadOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n", notifier.OutboxFile)
	if es, err := notifier.ReadOutbox(path, 10); err != nil || len(es) != 0 {
		t.Fatalf("missing outbox = %v, %v", es, err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ob, err := notifier.OpenOutbox(path, func() time.Time { now = now.Add(time.Second); return now })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 5 {
		ts, _, err := ob.Send(context.Background(), notifier.Call{Method: notifier.MethodPostMessage, Channel: "C1", IncidentID: "in-1", Text: fmt.Sprint(i)})
		if err != nil || ts == "" || seen[ts] {
			t.Fatalf("Send = %q, %v (ts must be new)", ts, err)
		}
		seen[ts] = true
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	es, err := notifier.ReadOutbox(path, 3)
	if err != nil || len(es) != 3 || es[0].Text != "4" || es[2].Text != "2" {
		t.Fatalf("ReadOutbox(3) = %+v, %v; want the newest three, newest first", es, err)
	}
	// A torn last line (a crash in the middle of a write) is skipped.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"time":"2026-01-01T00:00:09Z","meth`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if es, err := notifier.ReadOutbox(path, 100); err != nil || len(es) != 5 || es[0].Text != "4" {
		t.Fatalf("with a torn line: %d entries, %v", len(es), err)
	}
	// A malformed line in the middle is an error naming it.
	if err := os.WriteFile(path, []byte("{}\nnot json\n{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := notifier.ReadOutbox(path, 100); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("malformed line: %v", err)
	}
	for _, limit := range []int{0, -1, 1 << 20} {
		if _, err := notifier.ReadOutbox(path, limit); err == nil {
			t.Errorf("limit %d accepted", limit)
		}
	}
}
