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
	status    int
	code      string
	command   string
	key       string
	body      string
	keyed     bool // the client gave the key
	partition int  // of the command's incident
	phase     int32
}

// The phases of TestAnswersWhenBrokerKilledInFlight, as a write saw them
// when it began.
const (
	phaseUp        int32 = iota // the broker runs
	phaseKilled                 // stopped; the client may not know yet
	phaseKnownDown              // stopped, and every connection to it is known dead
)

// TestAnswersWhenBrokerKilledInFlight kills the broker while declares are
// in flight, then keeps writing during the outage, with a client
// Idempotency-Key and without, and checks that every answer was true once
// the broker is back: each 202 is in the log, no 503 log_unavailable is
// (nor ever lands: the producer is drained first), and each 504
// outcome_unknown, retried with the key its answer gave, ends as exactly
// one incident.
//
// Both claims are exercised for keyed and unkeyed writes: the outage lasts
// until each of the four (keyed, answer) pairs has been seen. Until the
// broker is known down only partitions 0 and 1 are written (keyed writes),
// so on kfake partition 2 never had a record sent and a write there during
// the outage is log_unavailable; in partition 0 or 1 a record sent and
// never answered (in flight at the kill, or the first write after it, made
// on a connection the broker had closed) stays with the producer until the
// broker is back, so the writes behind it are outcome_unknown. A write's
// partition is uniform over the three, so each pair comes within a few
// writes. (On Apache Kafka, which answers LEADER_NOT_AVAILABLE while it
// shuts down, the producer may still hold a partition 2 record it sent; the
// pairs then come from whichever partitions are clean.)
func TestAnswersWhenBrokerKilledInFlight(t *testing.T) {
	const clean = 2 // the partition nothing is written to until the broker is known down
	h := startHarnessOn(t, testenv.StartKafka(t, testenv.WithDataDir(t.TempDir())),
		withConfig(func(c *Config) { c.ProduceTimeout = 200 * time.Millisecond }))
	partition := func(key string) int {
		return h.srv.sends.part.Partition(&kgo.Record{Key: []byte(incident.APIIncidentID("acme", key))}, int(h.kcfg.Partitions))
	}

	var (
		mu      sync.Mutex
		answers []answer
		phase   atomic.Int32
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	write := func(w, i int) {
		body := fmt.Sprintf(`{"title":"writer %d declare %d"}`, w, i)
		var hdr []string
		keyed := w%2 == 0
		ph := phase.Load()
		if keyed {
			key := fmt.Sprintf("k-%d-%d", w, i)
			if ph != phaseKnownDown && partition(key) == clean {
				return
			}
			hdr = []string{"Idempotency-Key", key}
		} else if ph != phaseKnownDown {
			return
		}
		r := h.post("/api/v1/incidents", acmeToken, body, hdr...)
		a := answer{status: r.StatusCode, key: r.Header.Get("Idempotency-Key"), body: body, keyed: keyed, phase: ph}
		a.partition = partition(a.key)
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
	// count returns how many answers went to writes begun in phase ph, and
	// how many of those were of each (keyed, code).
	count := func(ph int32) (int, map[[2]any]int) {
		mu.Lock()
		defer mu.Unlock()
		n, seen := 0, map[[2]any]int{}
		for _, a := range answers {
			if a.phase == ph {
				n++
				seen[[2]any{a.keyed, a.code}]++
			}
		}
		return n, seen
	}
	testenv.Eventually(t, 60*time.Second, "writes before the kill", func() bool { n, _ := count(phaseUp); return n >= 200 })
	h.kafka.Stop()
	phase.Store(phaseKilled)
	// A write begun after the kill and answered without an ack was given
	// to the client, which wrote it on its connection (finding it closed)
	// or failed to dial: from then on no connection to the broker is open
	// and nothing can be sent.
	testenv.Eventually(t, 60*time.Second, "answers after the kill", func() bool { n, _ := count(phaseKilled); return n >= 8 })
	phase.Store(phaseKnownDown)
	claims := func() bool {
		n, seen := count(phaseKnownDown)
		for _, keyed := range []bool{true, false} {
			for _, code := range []string{CodeLogUnavailable, CodeOutcomeUnknown} {
				if seen[[2]any{keyed, code}] == 0 {
					return false
				}
			}
		}
		return n >= 64
	}
	testenv.Eventually(t, 90*time.Second, "each answer to keyed and unkeyed writes during the outage", claims)
	close(stop)
	wg.Wait()
	h.kafka.Restart(t)

	acked, notInLog, unknown := map[string]bool{}, map[string]bool{}, []answer{}
	seen := map[string]int{} // "phase keyed partition code" -> answers
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
		seen[fmt.Sprintf("phase%d keyed=%v p%d %s", a.phase, a.keyed, a.partition, a.code)]++
	}
	t.Logf("%d answers: %d accepted, %d log_unavailable, %d outcome_unknown; by phase, keyed, partition, code: %v",
		len(answers), len(acked), len(notInLog), len(unknown), seen)
	// Whatever the producer still holds is delivered or failed before
	// the log is read.
	testenv.Eventually(t, 60*time.Second, "the producer drained", func() bool { return h.srv.producer.BufferedProduceRecords() == 0 })
	for _, a := range unknown {
		var r response
		testenv.Eventually(t, 60*time.Second, "retry of "+a.command, func() bool {
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
