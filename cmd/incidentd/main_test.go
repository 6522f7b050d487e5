package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsageListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), nil, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range []string{"run", "broker", "topics", "ingress", "processor", "projector", "notifier", "rebuild", "events", "verify"} {
		if !strings.Contains(out.String(), "  "+c+" ") {
			t.Errorf("usage does not list %q:\n%s", c, out.String())
		}
	}
	if code := run(context.Background(), []string{"frobnicate"}, &out, &out); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c := commonFlags(fs)
	if err := fs.Parse([]string{"-kafka.topic-prefix=cli."}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"INCIDENTD_KAFKA_TOPIC_PREFIX": "env.", "INCIDENTD_KAFKA_PARTITIONS": "3"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := applyEnv(fs, lookup); err != nil {
		t.Fatal(err)
	}
	if *c.prefix != "cli." || *c.partitions != 3 {
		t.Fatalf("prefix %q partitions %d: want the command line to win and the environment to fill the rest", *c.prefix, *c.partitions)
	}
	env["INCIDENTD_KAFKA_PARTITIONS"] = "many"
	fs = flag.NewFlagSet("y", flag.ContinueOnError)
	commonFlags(fs)
	if err := applyEnv(fs, lookup); err == nil || !strings.Contains(err.Error(), "INCIDENTD_KAFKA_PARTITIONS") {
		t.Fatalf("bad environment value: got %v, want an error naming the variable", err)
	}
}

// TestTopicsRefusesWrongPartitionCount checks that a topic with the wrong
// partition count is a clear start-up error, not silent corruption.
func TestTopicsRefusesWrongPartitionCount(t *testing.T) {
	k := testenv.StartKafka(t)
	var out, errOut syncBuffer
	args := []string{"topics", "-kafka.brokers=" + k.Addr(), "-kafka.partitions=4"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("first topics run: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "incidentd.commands") {
		t.Fatalf("topics output does not name the topics: %s", out.String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), "incidentd.events")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["incidentd.events"].Partitions); n != 4 {
		t.Fatalf("events topic has %d partitions, want 4", n)
	}
	args = []string{"topics", "-kafka.brokers=" + k.Addr(), "-kafka.partitions=6"}
	if code := run(context.Background(), args, &out, &errOut); code != 1 {
		t.Fatalf("wrong partition count: exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "partitions") {
		t.Fatalf("error does not explain the partition mismatch: %s", errOut.String())
	}
}

// TestRunStartsEverything starts "incidentd run" on the embedded broker,
// every listener on a free port, and checks that each part reports where it
// is (the projector says ClickHouse is unreachable: none runs here), then
// stops it.
func TestRunStartsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	args := []string{"run", "-data-dir=" + dir, "-broker.addr=127.0.0.1:0", "-ingress.addr=127.0.0.1:0",
		"-processor.http-addr=127.0.0.1:0", "-projector.clickhouse-addr=127.0.0.1:1", "-ingress.clickhouse-addr=127.0.0.1:1"}
	go func() { done <- run(ctx, args, &out, &errOut) }()
	parts := []string{"broker:", "ingress:", "processor:", "projector:", "notifier:", "all parts started"}
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := ""
		for _, p := range parts {
			if !strings.Contains(out.String(), p) {
				missing = p
				break
			}
		}
		if missing == "" {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("run exited %d early:\n%s\n%s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not report %q within 60s:\n%s\n%s", missing, out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the output, bounded by the deadline
	}
	if strings.Contains(out.String(), "not built yet") {
		t.Errorf("a part is still a stub:\n%s", out.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exit %d after cancel:\n%s", code, errOut.String())
		}
		// The services stop before the broker they talk to: none of
		// them is left dialling a broker that is gone.
		if strings.Contains(errOut.String(), "unable to open connection to broker") {
			t.Fatalf("a client outlived the embedded broker:\n%s", errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s of cancel")
	}
}

// TestSlackMentionDeclares is the README's local Slack loop: "incidentd run"
// with the dev workspace, then "incidentd slack-mention" sends a signed
// "@fire server down!"; the incident is declared and the notifier's card for
// it lands in the outbox the dashboard shows.
func TestSlackMentionDeclares(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	args := []string{"run", "-data-dir=" + dir, "-broker.addr=127.0.0.1:0", "-ingress.addr=127.0.0.1:0",
		"-processor.http-addr=127.0.0.1:0", "-projector.clickhouse-addr=127.0.0.1:1", "-ingress.clickhouse-addr=127.0.0.1:1"}
	go func() { done <- run(ctx, args, &out, &errOut) }()
	addrRE := regexp.MustCompile(`incidentd ingress:\s+http://([0-9.:]+)/ \(dashboard\)`)
	var addr string
	poll(t, 60*time.Second, "ingress to listen", func() bool {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "slack-mention") {
			addr = m[1]
			return true
		}
		select {
		case code := <-done:
			t.Fatalf("run exited %d:\n%s\n%s", code, out.String(), errOut.String())
		default:
		}
		return false
	})

	var sent syncBuffer
	if code := run(ctx, []string{"slack-mention", "-data-dir=" + dir, "-slack-mention.url=http://" + addr, "server down!"}, &sent, &sent); code != 0 {
		t.Fatalf("slack-mention: exit %d: %s", code, sent.String())
	}
	ts := regexp.MustCompile(`thread ([0-9.]+)`).FindStringSubmatch(sent.String())
	if ts == nil {
		t.Fatalf("slack-mention did not report its thread: %s", sent.String())
	}
	want := incident.SlackIncidentID(devSlackTeam, devSlackChannel, ts[1])
	var cardBlocks string

	token, err := os.ReadFile(filepath.Join(dir, "ingress", "dev-token"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("run output:\n%s\n%s", out.String(), errOut.String())
		}
	}()
	poll(t, 30*time.Second, "the incident's card in the outbox", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/outbox", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var ob struct {
			Entries []struct {
				IncidentID string          `json:"incident_id"`
				Text       string          `json:"text"`
				Blocks     json.RawMessage `json:"blocks"`
			} `json:"entries"`
		}
		if json.NewDecoder(resp.Body).Decode(&ob) != nil {
			return false
		}
		for _, en := range ob.Entries {
			if en.IncidentID == want && strings.Contains(en.Text, "server down!") {
				// The outbox writes <, > and & as JSON escapes.
				cardBlocks = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(en.Blocks))
				return true
			}
		}
		return false
	})

	// The card's "Open incident" link is on the ingress run serves (the
	// port the kernel gave it), and opens the incident's dashboard page.
	link := "http://" + addr + "/incidents/" + want
	if !strings.Contains(cardBlocks, "<"+link+"|Open incident") {
		t.Fatalf("the card does not link to %s:\n%s", link, cardBlocks)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Fragment != "/incidents/"+want {
		t.Fatalf("GET %s: status %d at %s, want 200 at the dashboard's #/incidents/%s", link, resp.StatusCode, resp.Request.URL, want)
	}

	// One registry, served once: ingress's /metrics has every part's
	// metrics, the processor's listener has none.
	if code, body := httpGet(t, "http://"+addr+"/metrics"); code != http.StatusOK ||
		!strings.Contains(body, "incidentd_processor_") || !strings.Contains(body, "incidentd_notifier_") || !strings.Contains(body, "incidentd_ingress_") {
		t.Fatalf("ingress /metrics: %d, lacks a part's metrics:\n%.500s", code, body)
	}
	// Every service's Kafka clients, side by side on the one registry
	// (the projector's start only once ClickHouse answers, and this run
	// has none; TestServicesObservableAlone shows the projector's).
	for _, svc := range []string{"ingress", "processor", "notifier"} {
		kafkaMetric := regexp.MustCompile(`(?m)^incidentd_kafka_connects_total\{[^}]*service="` + svc + `"`)
		poll(t, 30*time.Second, svc+"'s Kafka client metrics on ingress's /metrics under run", func() bool {
			_, body := httpGet(t, "http://"+addr+"/metrics")
			return kafkaMetric.MatchString(body)
		})
	}
	procRE := regexp.MustCompile(`incidentd processor:\s+http://([0-9.:]+) \(/healthz /readyz\)`)
	m := procRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the processor does not say it serves /healthz /readyz only:\n%s", out.String())
	}
	if code, _ := httpGet(t, "http://"+m[1]+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("the processor's listener serves /metrics under run (%d): scraping both counts twice", code)
	}
	if code, _ := httpGet(t, "http://"+m[1]+"/healthz"); code != http.StatusOK {
		t.Fatalf("processor /healthz under run: %d", code)
	}

	// A forged mention (wrong secret) is refused.
	if err := os.WriteFile(filepath.Join(dir, devSlackSecretRel), []byte("not-the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run(ctx, []string{"slack-mention", "-data-dir=" + dir, "-slack-mention.url=http://" + addr, "forged"}, &sent, &sent); code == 0 {
		t.Fatalf("a mention signed with the wrong secret was accepted: %s", sent.String())
	}
	cancel()
	<-done
}

// poll calls ok until it returns true or the deadline passes.
func poll(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
	}
}
