package ingress

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
)

// benchRate is the offered load of the acknowledgement benchmarks.
const (
	benchRate   = 2000 // requests per second
	benchPhase  = time.Second
	benchWarmup = 300
)

// paced runs n calls of fn at benchRate, open loop (each call in its own
// goroutine at its scheduled time), and returns their latencies.
func paced(n int, fn func(i int) (time.Duration, error)) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	interval := time.Second / benchRate
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d) // pacing the offered load, not synchronisation
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := fn(i)
			if err != nil {
				errs <- err
			}
			lat[i] = d
		}()
	}
	wg.Wait()
	close(errs)
	return lat, <-errs
}

func percentile(lat []time.Duration, p float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkAckLatency measures the acknowledgement latency of API writes
// over HTTP on loopback at 2,000 req/s against a kfake broker with its
// data directory on, and, in the same run, a bare franz-go produce→ack
// with the same producer settings. Targets: HTTP p50 ≤ 1 ms, p99 ≤ 3 ms,
// HTTP p99 ≤ 5× bare p99.
func BenchmarkAckLatency(b *testing.B) {
	k := testenv.StartKafka(b, testenv.WithDataDir(b.TempDir()))
	h := startHarnessOn(b, k)
	n := int(benchPhase.Seconds() * benchRate)

	// Bare produce→ack, same settings as ingress's producer.
	bare, err := kafka.NewClient(h.kcfg, nil, kgo.DefaultProduceTopic(h.kcfg.Topics().Commands),
		kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	val, _ := wire.EncodeCommand(incident.Command{ID: "c-bench", Incident: "in-bench", Tenant: "acme", At: time.Now(), Kind: incident.Resolve})
	produce := func(i int) (time.Duration, error) {
		start := time.Now()
		err := bare.ProduceSync(context.Background(), &kgo.Record{Key: []byte(fmt.Sprintf("in-bench-%d", i%64)), Value: val}).FirstErr()
		return time.Since(start), err
	}

	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := []byte(`{"note":"benchmark note"}`)
	post := func(i int) (time.Duration, error) {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/incidents/in-bench%016x/notes", h.base, i%64), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != http.StatusAccepted {
			return d, fmt.Errorf("status %d", resp.StatusCode)
		}
		return d, nil
	}

	// Warm both paths: connections, metadata, producer ids.
	if _, err := paced(benchWarmup, produce); err != nil {
		b.Fatal(err)
	}
	if _, err := paced(benchWarmup, post); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var bareLat, httpLat []time.Duration
	// The two paths alternate in short slices, so both see the same
	// machine: a noisy neighbour hits both, not one.
	const slice = benchRate / 4
	for range b.N {
		for done := 0; done < n; done += slice {
			l, err := paced(slice, produce)
			if err != nil {
				b.Fatal(err)
			}
			bareLat = append(bareLat, l...)
			l, err = paced(slice, post)
			if err != nil {
				b.Fatal(err)
			}
			httpLat = append(httpLat, l...)
		}
	}
	b.StopTimer()
	bp50, bp99 := percentile(bareLat, .5), percentile(bareLat, .99)
	hp50, hp99 := percentile(httpLat, .5), percentile(httpLat, .99)
	b.ReportMetric(ms(hp50), "http-p50-ms")
	b.ReportMetric(ms(hp99), "http-p99-ms")
	b.ReportMetric(ms(bp50), "bare-p50-ms")
	b.ReportMetric(ms(bp99), "bare-p99-ms")
	b.ReportMetric(float64(hp99)/float64(bp99), "p99-ratio")
	b.ReportMetric(0, "ns/op")
}
