package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/internal/testenv"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantArgs []string
		wantDB   string
	}{
		{[]string{"clickhouse", "-projector.database=x"}, []string{"clickhouse"}, "x"},
		{[]string{"-projector.database=x", "clickhouse"}, []string{"clickhouse"}, "x"},
		{[]string{"a", "-projector.database", "y", "b"}, []string{"a", "b"}, "y"},
		{[]string{"a", "--", "-projector.database=z"}, []string{"a", "-projector.database=z"}, "incidentd"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		db := fs.String("projector.database", "incidentd", "")
		got, err := parseInterspersed(fs, tc.args)
		if err != nil || !slices.Equal(got, tc.wantArgs) || *db != tc.wantDB {
			t.Errorf("%q: args %q, database %q, err %v; want %q, %q", tc.args, got, *db, err, tc.wantArgs, tc.wantDB)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseInterspersed(fs, []string{"clickhouse", "-nope=1"}); err == nil {
		t.Error("an unknown flag after the argument was accepted")
	}
}

// TestRebuildTakesFlagsAfterItsArgument runs "incidentd rebuild clickhouse
// -flags..." against a real broker and ClickHouse: the flags after the
// view's name are the ones used.
func TestRebuildTakesFlagsAfterItsArgument(t *testing.T) {
	k := testenv.StartKafka(t)
	ch := testenv.StartClickHouse(t)
	var out, errOut syncBuffer
	if code := run(context.Background(), []string{"topics", "-kafka.brokers=" + k.Addr()}, &out, &errOut); code != 0 {
		t.Fatalf("topics: exit %d: %s", code, errOut.String())
	}
	args := []string{"rebuild", "clickhouse", "-kafka.brokers=" + k.Addr(),
		"-projector.clickhouse-addr=" + ch.Addr(), "-projector.database=rebuilt_here"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("rebuild clickhouse with flags after it: exit %d:\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "rebuilt_here at "+ch.Addr()) || !strings.Contains(out.String(), "done:") {
		t.Fatalf("rebuild did not use the flags after its argument:\n%s", out.String())
	}
	var n uint64
	if err := ch.Open(t).QueryRow(context.Background(), "SELECT count() FROM system.databases WHERE name = 'rebuilt_here'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("database rebuilt_here: count %d, err %v; want it created", n, err)
	}
}

// TestServicesObservableAlone runs the projector and the notifier as
// "incidentd projector" and "incidentd notifier": each serves /healthz,
// /readyz (ready once it works) and /metrics with its own metrics.
func TestServicesObservableAlone(t *testing.T) {
	k := testenv.StartKafka(t)
	ch := testenv.StartClickHouse(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	for _, svc := range []struct{ name, metric, flag string }{
		{"projector", "incidentd_projector_", "-projector.clickhouse-addr=" + ch.Addr()},
		{"notifier", "incidentd_notifier_", "-notifier.skip-history"},
	} {
		t.Run(svc.name, func(t *testing.T) {
			var out, errOut syncBuffer
			done := make(chan int, 1)
			args := []string{svc.name, "-kafka.brokers=" + k.Addr(), "-data-dir=" + dir,
				svc.flag, "-" + svc.name + ".http-addr=127.0.0.1:0"}
			sctx, stop := context.WithCancel(ctx)
			go func() { done <- run(sctx, args, &out, &errOut) }()
			addrRE := regexp.MustCompile(`incidentd ` + svc.name + `:\s+http://([0-9.:]+) \(/healthz /readyz /metrics\)`)
			var base string
			poll(t, 30*time.Second, svc.name+"'s listener", func() bool {
				select {
				case code := <-done:
					t.Fatalf("%s exited %d:\n%s\n%s", svc.name, code, out.String(), errOut.String())
				default:
				}
				if m := addrRE.FindStringSubmatch(out.String()); m != nil {
					base = "http://" + m[1]
					return true
				}
				return false
			})
			if code, _ := httpGet(t, base+"/healthz"); code != http.StatusOK {
				t.Fatalf("/healthz: %d", code)
			}
			poll(t, 30*time.Second, svc.name+" ready", func() bool {
				code, _ := httpGet(t, base+"/readyz")
				return code == http.StatusOK
			})
			if code, body := httpGet(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, svc.metric) {
				t.Fatalf("/metrics: %d, no %s metric:\n%.500s", code, svc.metric, body)
			}
			// Its Kafka clients' metrics, once they have connected.
			kafkaMetric := regexp.MustCompile(`(?m)^incidentd_kafka_connects_total\{[^}]*service="` + svc.name + `"`)
			poll(t, 30*time.Second, svc.name+"'s Kafka client metrics", func() bool {
				_, body := httpGet(t, base+"/metrics")
				return kafkaMetric.MatchString(body)
			})
			stop()
			if code := <-done; code != 0 {
				t.Fatalf("%s: exit %d after stop:\n%s", svc.name, code, errOut.String())
			}
		})
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
