package ingress

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
)

// answer is what one write was told, with what is needed to retry it.
type answer struct {
	status  int
	code    string
	command string
	key     string
	body    string
	keyed   bool // the client gave the key
}

// TestAnswersWhenBrokerKilledInFlight kills the broker while declares are
// in flight, then keeps writing during the outage, with a client
// Idempotency-Key and without, and checks that every answer was true once
// the broker is back: each 202 is in the log, no 503 log_unavailable is
// (nor ever lands: the producer is drained first), and each 504
// outcome_unknown, retried with the key its answer gave, ends as exactly
// one incident. Until the kill only partitions 0 and 1 are written, so
// during the outage partition 2 has nothing in flight: its writes are
// known never sent (log_unavailable), those of 0 and 1 are behind records
// that may be on the broker (outcome_unknown).
func TestAnswersWhenBrokerKilledInFlight(t *testing.T) {
	h := startHarnessOn(t, testenv.StartKafka(t, testenv.WithDataDir(t.TempDir())),
		withConfig(func(c *Config) { c.ProduceTimeout = 200 * time.Millisecond }))
	partition := func(key string) int {
		return h.srv.sends.part.Partition(&kgo.Record{Key: []byte(incident.APIIncidentID("acme", key))}, int(h.kcfg.Partitions))
	}

	var (
		mu      sync.Mutex
		answers []answer
		killed  atomic.Bool
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	write := func(w, i int) {
		body := fmt.Sprintf(`{"title":"writer %d declare %d"}`, w, i)
		var hdr []string
		keyed := w%2 == 0
		if keyed {
			key := fmt.Sprintf("k-%d-%d", w, i)
			if !killed.Load() && partition(key) == 2 {
				return
			}
			hdr = []string{"Idempotency-Key", key}
		} else if !killed.Load() {
			return
		}
		r := h.post("/api/v1/incidents", acmeToken, body, hdr...)
		a := answer{status: r.StatusCode, key: r.Header.Get("Idempotency-Key"), body: body, keyed: keyed}
		switch r.StatusCode {
		case http.StatusAccepted:
			var res WriteResult
			r.json(t, &res)
			a.command = res.CommandID
		default:
			p := r.problem(t)
			a.code, a.command = p.Code, p.CommandID
			if r.Header.Get("Retry-After") == "" || p.IdempotencyKey != a.key || p.CommandID == "" {
				t.Errorf("%d %s without Retry-After, command id or key: %s", r.StatusCode, p.Code, r.body)
			}
		}
		if !keyed && !strings.HasPrefix(a.key, generatedKeyPrefix) {
			t.Errorf("write without a key answered with Idempotency-Key %q, want a generated one", a.key)
		}
		mu.Lock()
		answers = append(answers, a)
		mu.Unlock()
	}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				write(w, i)
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(answers) }
	testenv.Eventually(t, 10*time.Second, "writes before the kill", func() bool { return count() >= 200 })
	h.kafka.Stop()
	killed.Store(true)
	before := count()
	testenv.Eventually(t, 20*time.Second, "answers during the outage", func() bool { return count() >= before+64 })
	close(stop)
	wg.Wait()
	h.kafka.Restart(t)

	acked, notInLog, unknown := map[string]bool{}, map[string]bool{}, []answer{}
	seen := map[[2]any]int{} // (keyed, code) -> answers
	for _, a := range answers {
		switch {
		case a.status == http.StatusAccepted:
			acked[a.command] = true
		case a.status == http.StatusServiceUnavailable && a.code == CodeLogUnavailable:
			notInLog[a.command] = true
		case a.status == http.StatusGatewayTimeout && a.code == CodeOutcomeUnknown:
			unknown = append(unknown, a)
		default:
			t.Fatalf("answer %d %s", a.status, a.code)
		}
		seen[[2]any{a.keyed, a.code}]++
	}
	t.Logf("%d answers: %d accepted, %d log_unavailable, %d outcome_unknown; by (keyed, code): %v",
		len(answers), len(acked), len(notInLog), len(unknown), seen)
	for _, keyed := range []bool{true, false} {
		for _, code := range []string{CodeLogUnavailable, CodeOutcomeUnknown} {
			if seen[[2]any{keyed, code}] == 0 {
				t.Fatalf("no %s answer to a write with a client key %v: the claim is untested", code, keyed)
			}
		}
	}
	// Whatever the producer still holds is delivered or failed before
	// the log is read.
	testenv.Eventually(t, 20*time.Second, "the producer drained", func() bool { return h.srv.producer.BufferedProduceRecords() == 0 })
	for _, a := range unknown {
		var r response
		testenv.Eventually(t, 20*time.Second, "retry of "+a.command, func() bool {
			r = h.post("/api/v1/incidents", acmeToken, a.body, "Idempotency-Key", a.key)
			return r.StatusCode == http.StatusAccepted
		})
		var res WriteResult
		r.json(t, &res)
		if res.CommandID != a.command {
			t.Fatalf("retry with key %s: command %s, want %s", a.key, res.CommandID, a.command)
		}
	}

	inLog := map[string]int{}
	for _, c := range h.commands(len(acked) + len(unknown)) {
		inLog[c.ID]++
	}
	for id := range notInLog {
		if inLog[id] > 0 {
			t.Errorf("command %s was answered log_unavailable and is in the log", id)
		}
	}
	for id := range acked {
		if inLog[id] == 0 {
			t.Errorf("command %s was answered 202 and is not in the log", id)
		}
	}

	// Applied exactly once: one declared event per unknown command.
	h.runProcessor(0)
	evs := testenv.ReadTopicN(t, h.kcfg, h.kcfg.Topics().Events, len(acked)+len(unknown))
	declared := map[string]int{}
	for _, r := range evs {
		e, err := wire.DecodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == incident.Declared {
			declared[e.Command]++
		}
	}
	for _, a := range unknown {
		if declared[a.command] != 1 {
			t.Errorf("outcome_unknown command %s retried with key %s: declared %d times, want once", a.command, a.key, declared[a.command])
		}
	}
}

// TestSendLedgerPartitions: the ledger computes the partition the producer
// puts each command in (twenty declares, none elsewhere), and notices a
// topic whose partition count is not the configured one.
func TestSendLedgerPartitions(t *testing.T) {
	for _, tc := range []struct {
		partitions int32
		differ     bool
	}{{3, false}, {7, true}} {
		h := startHarness(t, withConfig(func(c *Config) { c.Kafka.Partitions = tc.partitions }))
		for i := range 20 {
			wantStatus(t, h.post("/api/v1/incidents", acmeToken, fmt.Sprintf(`{"title":"ledger %d"}`, i)), http.StatusAccepted)
		}
		if got := h.srv.sends.partitionsDiffer.Load(); got != tc.differ {
			t.Errorf("configured %d partitions (the topic has 3): partitionsDiffer %v, want %v", tc.partitions, got, tc.differ)
		}
	}
}
