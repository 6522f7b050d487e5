package ingress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	runtimemetrics "runtime/metrics"
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

// processCost is what a phase cost the whole process: heap bytes
// allocated and GC cycles completed.
type processCost struct{ bytes, gcs uint64 }

var costMetrics = []string{"/gc/heap/allocs:bytes", "/gc/cycles/total:gc-cycles"}

// readProcessCost reads the process's totals so far (runtime/metrics,
// which does not stop the world).
func readProcessCost() processCost {
	s := make([]runtimemetrics.Sample, len(costMetrics))
	for i, name := range costMetrics {
		s[i].Name = name
	}
	runtimemetrics.Read(s)
	return processCost{bytes: s[0].Value.Uint64(), gcs: s[1].Value.Uint64()}
}

func (c *processCost) add(from, to processCost) {
	c.bytes += to.bytes - from.bytes
	c.gcs += to.gcs - from.gcs
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
// with the same producer settings and the same keys. Targets: HTTP p50 ≤
// 1 ms, p99 ≤ 3 ms, HTTP p99 ≤ 5× bare p99. Both sides run in this one
// process (broker, server and callers), so it also reports what each side
// makes the process allocate per request and how many GC cycles per 1,000
// requests ran during it: GC is where the HTTP tail came from.
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
	keys := make([][]byte, 64)
	for j := range keys {
		keys[j] = fmt.Appendf(nil, "in-bench%016x", j)
	}
	produce := func(i int) (time.Duration, error) {
		start := time.Now()
		err := bare.ProduceSync(context.Background(), &kgo.Record{Key: keys[i%64], Value: val}).FirstErr()
		return time.Since(start), err
	}

	// The HTTP caller is a lean HTTP/1.1 client (see httpLoad), so what
	// the HTTP side measures, and makes this process collect, is the
	// server's work rather than the load generator's.
	load := newHTTPLoad(h.base[len("http://"):])
	defer load.close()
	posts := make([][]byte, 64)
	for j := range posts {
		body := `{"note":"benchmark note"}`
		posts[j] = fmt.Appendf(nil, "POST /api/v1/incidents/in-bench%016x/notes HTTP/1.1\r\nHost: %s\r\n"+
			"Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			j, load.addr, acmeToken, len(body), body)
	}
	post := func(i int) (time.Duration, error) {
		start := time.Now()
		status, err := load.do(posts[i%64])
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if status != http.StatusAccepted {
			return d, fmt.Errorf("status %d", status)
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
	var bareCost, httpCost processCost
	// The two paths alternate in short slices, so both see the same
	// machine: a noisy neighbour hits both, not one.
	const slice = benchRate / 4
	for range b.N {
		for done := 0; done < n; done += slice {
			c := readProcessCost()
			l, err := paced(slice, produce)
			if err != nil {
				b.Fatal(err)
			}
			bareCost.add(c, readProcessCost())
			bareLat = append(bareLat, l...)
			c = readProcessCost()
			l, err = paced(slice, post)
			if err != nil {
				b.Fatal(err)
			}
			httpCost.add(c, readProcessCost())
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
	// What each side makes this process (broker included) allocate and
	// collect: the tail of both comes mostly from GC cycles.
	b.ReportMetric(float64(httpCost.bytes)/float64(len(httpLat)), "http-B/req")
	b.ReportMetric(float64(bareCost.bytes)/float64(len(bareLat)), "bare-B/req")
	b.ReportMetric(float64(httpCost.gcs)*1000/float64(len(httpLat)), "http-gc/1k")
	b.ReportMetric(float64(bareCost.gcs)*1000/float64(len(bareLat)), "bare-gc/1k")
	b.ReportMetric(0, "ns/op")
}

// httpLoad is the benchmark's HTTP/1.1 client, in the manner of wrk: each
// request is prepared bytes written to an idle keep-alive connection (a new
// one if none is idle: no pipelining), and the answer is read up to the end
// of its Content-Length body. It runs in the server's process, so its own
// garbage is collected while the server answers; net/http's client costs
// about 70 allocations (6 KB) and two goroutine hand-offs per request, all
// charged to the HTTP side and none to the bare produce. A caller of the
// real service runs elsewhere.
type httpLoad struct {
	addr string
	idle chan *loadConn
}

type loadConn struct {
	c net.Conn
	r *bufio.Reader
}

func newHTTPLoad(addr string) *httpLoad {
	return &httpLoad{addr: addr, idle: make(chan *loadConn, 1024)}
}

// do sends one prepared request and returns the answer's status code once
// its whole body is read.
func (l *httpLoad) do(req []byte) (int, error) {
	var c *loadConn
	select {
	case c = <-l.idle:
	default:
		nc, err := net.Dial("tcp", l.addr)
		if err != nil {
			return 0, err
		}
		c = &loadConn{c: nc, r: bufio.NewReaderSize(nc, 4096)}
	}
	status, keep, err := c.roundTrip(req)
	if err != nil || !keep {
		c.c.Close()
		return status, err
	}
	select {
	case l.idle <- c:
	default:
		c.c.Close()
	}
	return status, nil
}

func (c *loadConn) roundTrip(req []byte) (status int, keep bool, err error) {
	if _, err := c.c.Write(req); err != nil {
		return 0, false, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 202 Accepted\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	if status = atoi(line[9:12]); status < 0 {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, keep := -1, true
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length = atoi(value); length < 0 {
				return status, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return status, false, fmt.Errorf("unexpected Transfer-Encoding %q", value)
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keep = false
		}
	}
	if length < 0 {
		return status, false, errors.New("answer without Content-Length")
	}
	if _, err := c.r.Discard(length); err != nil {
		return status, false, err
	}
	return status, keep, nil
}

func (l *httpLoad) close() {
	for {
		select {
		case c := <-l.idle:
			c.c.Close()
		default:
			return
		}
	}
}

// atoi parses a decimal number without allocating; -1 if b is not one.
func atoi(b []byte) int {
	if len(b) == 0 || len(b) > 9 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
