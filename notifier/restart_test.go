package notifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp"
)

// childEnv carries a child notifier's config: the test binary re-executed
// runs a notifier (TestMain) until it is killed.
const childEnv = "INCIDENTD_NOTIFIER_TEST_CHILD"

type childConfig struct {
	Kafka       kafka.Config
	Dir         string
	APIURL      string
	Workspaces  []slackapp.Workspace
	Concurrency int
}

func runChild() int {
	var cc childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cc); err != nil {
		fmt.Fprintln(os.Stderr, "child config:", err)
		return 2
	}
	n, err := notifier.New(notifier.Config{Kafka: cc.Kafka, Dir: cc.Dir, Workspaces: cc.Workspaces, SlackAPIURL: cc.APIURL,
		Concurrency: cc.Concurrency, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := n.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild runs a notifier in a separate OS process.
func startChild(t *testing.T, cc childConfig) *exec.Cmd {
	t.Helper()
	b, err := json.Marshal(cc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestKillRestart: a notifier process is killed with SIGKILL in the middle
// of a storm and started again on the same data directory. Nothing is lost,
// and the only duplicates allowed are the calls in flight at the kill (the
// documented window: Slack has answered, the ledger is not yet synced).
func TestKillRestart(t *testing.T) {
	t.Parallel()
	r := newRig(t, time.Second)
	const concurrency = 4
	cc := childConfig{Kafka: r.kc, Dir: t.TempDir(), APIURL: r.fake.APIURL(), Workspaces: r.ws, Concurrency: concurrency}
	child := startChild(t, cc)
	r.send(storm(20, 10, "a")...)
	testenv.Eventually(t, 20*time.Second, "convergence", func() string {
		ok := 0
		for _, c := range r.fake.Calls() {
			if c.OK() {
				ok++
			}
		}
		if ok < 25 {
			return fmt.Sprintf("%d calls before the kill, want 25", ok)
		}
		return ""
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	before := len(r.fake.Calls())

	r.send(storm(10, 10, "b")...)
	startChild(t, cc)
	var dups int
	testenv.Eventually(t, 40*time.Second, "convergence", func() string {
		var p string
		dups, p = check(r, 30)
		return p
	})
	if dups > concurrency {
		t.Fatalf("%d duplicate messages after one kill, want at most %d (calls in flight)", dups, concurrency)
	}
	t.Logf("%d calls before the kill, %d in all, %d duplicates", before, len(r.fake.Calls()), dups)
}
