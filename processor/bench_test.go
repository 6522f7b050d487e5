//go:build linux

package processor_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/processor"
)

// uniqueCommands returns n commands of a workload, without re-sent ones:
// each yields exactly one event.
func uniqueCommands(t testing.TB, topic string, seed uint64, incidents, n int) ([]*kgo.Record, []string) {
	w := newWorkload(seed, incidents)
	rs := make([]*kgo.Record, 0, n)
	ids := make([]string, 0, n)
	for len(rs) < n {
		c, dup := w.Next()
		if dup {
			continue
		}
		rs = append(rs, testenv.CommandRecord(t, topic, c))
		ids = append(ids, c.ID)
	}
	return rs, ids
}

// watchEvents consumes the events topic (read committed) from the start
// and calls fn with each event and when it was seen, until ctx is done.
func watchEvents(ctx context.Context, t testing.TB, kc kafka.Config, fn func(incident.Event, time.Time)) {
	cl, err := kafka.NewClient(kc, nil, kgo.ConsumeTopics(kc.Topics().Events), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			e, err := wire.DecodeEvent(r.Value)
			if err != nil {
				t.Errorf("event: %v", err)
				return
			}
			fn(e, now)
		})
	}
}

// BenchmarkThroughput applies b.N commands (over 1,000 incidents) that
// are already in the log: Pebble on disk, the broker with a data dir.
func BenchmarkThroughput(b *testing.B) {
	_, kc := startKafka(b, 6, testenv.WithDataDir(b.TempDir()))
	rs, _ := uniqueCommands(b, kc.Topics().Commands, 1, 1000, b.N)
	produce(b, kc, rs...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan struct{})
	n := 0
	go watchEvents(ctx, b, kc, func(incident.Event, time.Time) {
		if n++; n == b.N {
			close(seen)
		}
	})
	b.ResetTimer()
	start := time.Now()
	_, stop := runProcessor(b, processor.Config{Kafka: kc, Dir: b.TempDir(), InstanceID: "bench"})
	select {
	case <-seen:
	case <-time.After(5 * time.Minute):
		b.Fatal("events not seen within 5 minutes")
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commands/s")
}

// BenchmarkLatency sends commands at 2,000/s and measures, per command,
// the time from handing it to the producer to its event being visible to
// a read-committed consumer.
func BenchmarkLatency(b *testing.B) {
	const rate = 2000
	_, kc := startKafka(b, 6, testenv.WithDataDir(b.TempDir()))
	n := max(b.N, rate) // at least a second of traffic
	rs, ids := uniqueCommands(b, kc.Topics().Commands, 2, 1000, n)
	index := make(map[string]int, n)
	for i, id := range ids {
		index[id] = i
	}
	p, _ := runProcessor(b, processor.Config{Kafka: kc, Dir: b.TempDir(), InstanceID: "bench"})
	testenv.Eventually(b, 30*time.Second, "the processor to be ready", func() bool { return p.Ready() && len(p.Owned()) == 6 })

	sentAt := make([]time.Time, n)
	latencies := make(chan time.Duration, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchEvents(ctx, b, kc, func(e incident.Event, at time.Time) {
		if i, ok := index[e.Command]; ok {
			latencies <- at.Sub(sentAt[i])
		}
	})
	cl, err := kafka.NewClient(kc, nil, kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	b.ResetTimer()
	start := time.Now()
	for i, r := range rs {
		// Pace the stream at rate (a schedule, not synchronisation).
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		sentAt[i] = time.Now()
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	all := make([]time.Duration, 0, n)
	timeout := time.After(time.Minute)
	for len(all) < n {
		select {
		case l := <-latencies:
			all = append(all, l)
		case <-timeout:
			b.Fatalf("%d of %d events seen within a minute", len(all), n)
		}
	}
	b.StopTimer()
	slices.Sort(all)
	pct := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max_ms")
}

// BenchmarkRestore restores 100,000 incidents from the changelog into an
// empty store: the time from start until the processor is ready.
func BenchmarkRestore(b *testing.B) {
	const incidents = 100_000
	_, kc := startKafka(b, 6, testenv.WithDataDir(b.TempDir()))
	for i := 0; i < incidents; i += 10_000 {
		writeChangelog(b, kc, syntheticStates(i, 10_000, 1), true)
	}
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		start := time.Now()
		p, stop := runProcessor(b, processor.Config{Kafka: kc, Dir: b.TempDir(), InstanceID: "bench"})
		testenv.Eventually(b, 2*time.Minute, "the restore", func() bool { return p.Ready() && len(p.Owned()) == 6 })
		total += time.Since(start)
		b.StopTimer()
		stop()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "restore_s")
	b.ReportMetric(float64(incidents)*float64(b.N)/total.Seconds(), "incidents/s")
}

// BenchmarkMemory runs the processor as its own process over a store of
// 1,000,000 incidents (restored from the changelog), applies commands to
// random incidents, and reports the process's peak RSS.
func BenchmarkMemory(b *testing.B) {
	const incidents = 1_000_000
	_, kc := startKafka(b, 6)
	for i := 0; i < incidents; i += 50_000 {
		writeChangelog(b, kc, syntheticStates(i, 50_000, 1), true)
	}
	dir := b.TempDir()
	b.ResetTimer()
	cmd := exec.Command(binary, "processor", "-kafka.brokers="+kc.Brokers[0], "-kafka.topic-prefix="+kc.TopicPrefix,
		"-kafka.partitions=6", "-data-dir="+dir, "-processor.http-addr=127.0.0.1:0", "-log.level=warn")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("BENCH_GCTRACE") != "" {
		cmd.Env = append(cmd.Env, "GODEBUG=gctrace=1")
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := announceRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	in := &instance{t: b, httpAddr: <-addr}
	testenv.Eventually(b, 3*time.Minute, "the restore of 1M incidents", in.ready)
	if rss, err := peakRSS(cmd.Process.Pid); err == nil {
		b.Logf("peak RSS after the restore: %d MiB", rss>>20)
	}

	// Commands on random incidents, declared in the changelog.
	const commands = 20_000
	var rs []*kgo.Record
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := range commands {
		id := fmt.Sprintf("in-%06d", (i*7919)%incidents)
		rs = append(rs, testenv.CommandRecord(b, kc.Topics().Commands, incident.Command{
			ID: fmt.Sprintf("m-%d", i), Incident: id, Tenant: "t1", Actor: "U1", At: at, Kind: incident.AddNote, Note: "note",
		}))
	}
	produce(b, kc, rs...)
	testenv.Eventually(b, 3*time.Minute, "the commands to be applied", func() bool { return caughtUp(b, kc, processor.DefaultGroup) })
	b.StopTimer()
	rss, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MiB")
	b.ReportMetric(float64(incidents), "incidents")
}

// peakRSS reads a process's peak resident set size (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
