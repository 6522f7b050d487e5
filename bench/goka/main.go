// Command goka-bench measures incidentd's processor against goka (v1.1.14,
// its own defaults) doing the same stateful work on the same broker in the
// same run, and against a bare transactional consume→produce→commit
// passthrough, the ceiling for any exactly-once processor on that broker.
//
// Each contender reads the same commands (N commands over K incidents, made
// with the incident model), keeps per-incident state on disk (goka: its
// group table in LevelDB; incidentd: Pebble), decides and emits one event per
// command. The figure is commands/s from the first command produced to the
// last output visible to a read-committed consumer.
//
// It is a separate module so goka and sarama stay out of incidentd's go.mod.
// "make bench" runs it; alone: cd bench/goka && go run . -n 20000
// (-only processor runs the contenders whose name has that word,
// -cpuprofile FILE profiles the whole run).
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
)

func main() {
	n := flag.Int("n", 20000, "commands per contender")
	k := flag.Int("k", 500, "incidents")
	parts := flag.Int("partitions", 6, "partitions")
	runs := flag.Int("runs", 3, "runs per contender; the median is reported")
	only := flag.String("only", "", "run only the contenders whose name contains this (the table then lacks the missing ratios)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goka-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := bench(*n, *k, int32(*parts), *runs, *only); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "goka-bench:", err)
		os.Exit(1)
	}
}

type contender struct {
	name string
	// run processes the commands topic into out and returns when ctx ends.
	// Its input is cfg's commands topic, its output cfg's events topic.
	run func(ctx context.Context, cfg kafka.Config, dir string, ready chan<- struct{}) error
}

func bench(n, k int, parts int32, runs int, only string) error {
	dir, err := os.MkdirTemp("", "goka-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(dir, "broker")))
	if err != nil {
		return err
	}
	defer c.Close()
	brokers := c.ListenAddrs()

	contenders := []contender{
		{"passthrough (kgo txn)", runPassthrough},
		{"goka v1.1.14", runGoka},
	}
	contenders = append(contenders, incidentdContenders()...)
	results := map[string][]float64{}
	for r := 0; r < runs; r++ {
		for i, ct := range contenders {
			if !strings.Contains(ct.name, only) {
				continue
			}
			tag := fmt.Sprintf("r%dc%d", r, i)
			rate, err := measure(brokers, ct, n, k, parts, filepath.Join(dir, tag), tag)
			if err != nil {
				return fmt.Errorf("%s: %w", ct.name, err)
			}
			results[ct.name] = append(results[ct.name], rate)
			fmt.Fprintf(os.Stderr, "run %d %-24s %8.0f commands/s\n", r+1, ct.name, rate)
		}
	}
	median := func(xs []float64) float64 {
		if len(xs) == 0 {
			return math.NaN()
		}
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	pass, goka := median(results[contenders[0].name]), median(results[contenders[1].name])
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "contender\tcommands/s (median of %d)\tvs goka\tvs passthrough\t\n", runs)
	for _, ct := range contenders {
		if len(results[ct.name]) == 0 {
			continue
		}
		m := median(results[ct.name])
		fmt.Fprintf(w, "%s\t%.0f\t%.2fx\t%.0f%%\t\n", ct.name, m, m/goka, 100*m/pass)
	}
	return w.Flush()
}

// measure creates fresh topics, starts the contender, produces the workload
// and waits until n outputs are visible to a read-committed consumer.
func measure(brokers []string, ct contender, n, k int, parts int32, dir, tag string) (float64, error) {
	kc := kafka.Config{Brokers: brokers, TopicPrefix: "bench-" + tag + ".", Partitions: parts}
	topics := kafka.NewTopics(kc.TopicPrefix)
	in, out := topics.Commands, topics.Events
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, adm, kc); err != nil {
		return 0, err
	}

	runCtx, stop := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- ct.run(runCtx, kc, dir, ready) }()
	select {
	case <-ready:
	case err := <-done:
		stop()
		return 0, fmt.Errorf("stopped before ready: %w", err)
	case <-ctx.Done():
		stop()
		return 0, ctx.Err()
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(out),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		stop()
		return 0, err
	}
	defer consumer.Close()

	start := time.Now()
	if err := produce(ctx, cl, in, workload(n, k)); err != nil {
		stop()
		return 0, err
	}
	seen := 0
	for seen < n {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			stop()
			return 0, fmt.Errorf("consume outputs after %d of %d: %w", seen, n, err)
		}
		seen += fs.NumRecords()
	}
	elapsed := time.Since(start)
	stop()
	if err := <-done; err != nil && runCtx.Err() == nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// workload makes n commands over k incidents: each incident is declared,
// then worked (acknowledge, severity, notes, assignment, resolve, reopen).
func workload(n, k int) []incident.Command {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []func(c *incident.Command, i int){
		func(c *incident.Command, i int) {
			c.Kind, c.Title, c.Severity = incident.Declare, "bench incident", "SEV3"
		},
		func(c *incident.Command, i int) { c.Kind = incident.Acknowledge },
		func(c *incident.Command, i int) { c.Kind, c.Severity = incident.SetSeverity, "SEV2" },
		func(c *incident.Command, i int) { c.Kind, c.Role, c.Person = incident.Assign, incident.Commander, "U2" },
		func(c *incident.Command, i int) { c.Kind, c.Note = incident.AddNote, "looking at it" },
		func(c *incident.Command, i int) { c.Kind = incident.Resolve },
		func(c *incident.Command, i int) { c.Kind = incident.Reopen },
	}
	cmds := make([]incident.Command, 0, n)
	for i := 0; i < n; i++ {
		inc, step := i%k, i/k
		c := incident.Command{
			ID: fmt.Sprintf("cmd-%d", i), Incident: fmt.Sprintf("inc-%d", inc), Tenant: "bench",
			Actor: "U1", At: at.Add(time.Duration(i) * time.Millisecond),
			Source: incident.Source{Kind: incident.FromDashboard},
		}
		if step == 0 {
			steps[0](&c, i)
		} else {
			steps[1+(step-1)%(len(steps)-1)](&c, i)
		}
		c.Fingerprint = incident.Fingerprint(c) // as ingress sets it
		cmds = append(cmds, c)
	}
	return cmds
}

func produce(ctx context.Context, cl *kgo.Client, topic string, cmds []incident.Command) error {
	rs := make([]*kgo.Record, 0, len(cmds))
	for _, c := range cmds {
		v, err := wire.EncodeCommand(c)
		if err != nil {
			return err
		}
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(c.Incident), Value: v})
	}
	return cl.ProduceSync(ctx, rs...).FirstErr()
}

// decide is the stateful work every contender does per command. It keeps
// no dedup window (the commands' ids are unique); the processor keeps its
// own, in Pebble.
func decide(prev []byte, cmdBytes []byte) (events [][]byte, state []byte, err error) {
	var s incident.State
	if prev != nil {
		if s, err = wire.DecodeState(prev); err != nil {
			return nil, nil, err
		}
	}
	c, err := wire.DecodeCommand(cmdBytes)
	if err != nil {
		return nil, nil, err
	}
	d := incident.Decide(incident.DefaultPolicy(), s, c, nil)
	for _, e := range d.Events {
		b, err := wire.EncodeEvent(e)
		if err != nil {
			return nil, nil, err
		}
		events = append(events, b)
	}
	s = incident.Fold(s, d.Events...)
	state, err = wire.EncodeState(s)
	return events, state, err
}
