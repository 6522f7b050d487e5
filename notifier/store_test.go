package notifier

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
)

func TestStoreRoundTripAndPrune(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	rec := &record{
		State:    incident.State{Incident: "in-1", Tenant: "t", Version: 4, Declared: true, Title: "x", Severity: "SEV1", Status: incident.StatusOpen},
		Card:     incident.SlackMessage{Channel: "C1", TS: "1.2"},
		CardWant: 4, CardShown: 2, CardCmd: true,
		Timeline:   []timelineLine{{Event: "in-1/3", Text: "• a (v3)"}},
		Ephemerals: []ephemeral{{Event: "in-1/4", User: "U1", Text: "no"}},
	}
	b := st.batch()
	must(t, b.putRecord("in-1", rec))
	must(t, b.putOffset(2, 17))
	must(t, b.putLedger("in-1/1", ledgerEntry{Method: MethodPostMessage, Channel: "C1", TS: "1.2", At: now.Add(-10 * 24 * time.Hour)}))
	must(t, b.putLedger("in-1/2", ledgerEntry{Method: MethodUpdate, Channel: "C1", TS: "1.2", At: now}))
	must(t, b.commit())
	must(t, st.close())

	// Reopen: everything is where it was.
	st, err = openStore(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	got, err := st.record("in-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Version != 4 || got.Card != rec.Card || got.CardWant != 4 || got.CardShown != 2 || !got.CardCmd ||
		len(got.Timeline) != 1 || got.Timeline[0] != rec.Timeline[0] || len(got.Ephemerals) != 1 || got.Ephemerals[0] != rec.Ephemerals[0] {
		t.Fatalf("record after reopen = %+v", got)
	}
	if offs, err := st.offsets(); err != nil || offs[2] != 17 || len(offs) != 1 {
		t.Fatalf("offsets = %v, %v", offs, err)
	}
	if ids, err := st.pending(); err != nil || len(ids) != 1 || ids[0] != "in-1" {
		t.Fatalf("pending = %v, %v", ids, err)
	}
	if fresh, err := st.record("in-2"); err != nil || fresh.State.Declared {
		t.Fatalf("unknown incident = %+v, %v", fresh, err)
	}

	n, err := st.pruneLedger(now.Add(-7 * 24 * time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if _, ok, _ := st.ledger("in-1/1"); ok {
		t.Error("old ledger entry survived the prune")
	}
	if e, ok, err := st.ledger("in-1/2"); !ok || err != nil || e.Method != MethodUpdate {
		t.Errorf("recent ledger entry = %+v, %v, %v", e, ok, err)
	}

	// No work left: the pending marker goes with it.
	rec.CardShown, rec.CardCmd, rec.Timeline, rec.Ephemerals = 4, false, nil, nil
	b = st.batch()
	must(t, b.putRecord("in-1", rec))
	must(t, b.commit())
	if ids, err := st.pending(); err != nil || len(ids) != 0 {
		t.Fatalf("pending after the work is done = %v, %v", ids, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A record stored before wire version 2 holds its state as a JSON object;
// it still reads.
func TestStoreReadsRecordsWithVersion1State(t *testing.T) {
	old := `{"state":{"v":1,"type":"state","data":{"incident":"in-1","tenant":"t","version":3,"declared":true,"title":"x","status":"open"}},"card_channel":"C1","card_ts":"1.2","card_shown":3,"card_want":3}`
	rec, err := decodeRecord([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if rec.State.Incident != "in-1" || rec.State.Version != 3 || rec.State.Title != "x" || rec.Card.TS != "1.2" || rec.CardShown != 3 {
		t.Fatalf("old record = %+v", rec)
	}
	again, err := encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := decodeRecord(again); err != nil || !reflect.DeepEqual(back.State, rec.State) {
		t.Fatalf("re-encoded: %+v, %v", back, err)
	}
}
