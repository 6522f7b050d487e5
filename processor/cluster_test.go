//go:build linux

package processor_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/processor"
)

// binary is incidentd, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "incidentd-processor-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "incidentd")
	build := exec.Command("go", "build", "-o", binary, "github.com/incidentd/incidentd/cmd/incidentd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build incidentd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one "incidentd processor" OS process, restarted as the test
// pleases, always on the same data directory.
type instance struct {
	t       testing.TB
	name    string
	dataDir string
	kc      kafka.Config

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	httpAddr string
	armed    bool // started with the crash failpoint
	logTail  []string
}

var announceRE = regexp.MustCompile(`processor:\s+http://(\S+) `)

// start starts the process; crashAfter > 0 arms the failpoint.
func (in *instance) start(crashAfter int) {
	in.t.Helper()
	cmd := exec.Command(binary, "processor",
		"-kafka.brokers="+in.kc.Brokers[0], "-kafka.topic-prefix="+in.kc.TopicPrefix,
		fmt.Sprintf("-kafka.partitions=%d", in.kc.Partitions), "-data-dir="+in.dataDir,
		"-processor.http-addr=127.0.0.1:0", "-processor.session-timeout=6s", "-processor.transaction-timeout=5s",
		"-log.level=warn")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if crashAfter > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("INCIDENTD_PROCESSOR_CRASH_AFTER_COMMITS=%d", crashAfter))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		in.t.Fatalf("%s: start: %v", in.name, err)
	}
	exited := make(chan struct{})
	in.mu.Lock()
	in.cmd, in.exited, in.exitErr, in.httpAddr, in.armed = cmd, exited, nil, "", crashAfter > 0
	in.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			in.mu.Lock()
			if m := announceRE.FindStringSubmatch(line); m != nil && in.cmd == cmd {
				in.httpAddr = m[1]
			}
			in.logTail = append(in.logTail, in.name+": "+line)
			if len(in.logTail) > 50 {
				in.logTail = in.logTail[1:]
			}
			in.mu.Unlock()
		}
		err := cmd.Wait()
		in.mu.Lock()
		in.exitErr = err
		in.mu.Unlock()
		close(exited)
	}()
}

// running reports whether the current process is alive.
func (in *instance) running() bool {
	in.mu.Lock()
	ch := in.exited
	in.mu.Unlock()
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

// signal sends sig and waits for the process to exit.
func (in *instance) signal(sig syscall.Signal) {
	in.t.Helper()
	in.mu.Lock()
	cmd, ch := in.cmd, in.exited
	in.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		in.t.Fatalf("%s: did not exit within 30s of %v", in.name, sig)
	}
}

func (in *instance) ready() bool {
	in.mu.Lock()
	addr := in.httpAddr
	in.mu.Unlock()
	if addr == "" {
		return false
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// get fetches path from the instance's HTTP server and fails the test
// unless it answers 200.
func (in *instance) get(path string) string {
	in.t.Helper()
	in.mu.Lock()
	addr := in.httpAddr
	in.mu.Unlock()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		in.t.Fatalf("%s: GET %s: %v", in.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		in.t.Fatalf("%s: GET %s: %d %v", in.name, path, resp.StatusCode, err)
	}
	return string(b)
}

func (in *instance) id() string {
	b, err := os.ReadFile(filepath.Join(in.dataDir, "processor", "instance-id"))
	if err != nil {
		in.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestClusterKillsAndRebalances runs three processor processes while
// commands stream in, kills them with SIGKILL at random points (some right
// after a transaction commit and before the Pebble write, through the
// failpoint), restarts them and lets them rebalance; then checks the
// invariants: every command has exactly one outcome, every incident's
// versions run without duplicate or gap, every store equals the fold of
// the events, and rebuild agrees.
func TestClusterKillsAndRebalances(t *testing.T) {
	const (
		partitions = 6
		commands   = 3000
		incidents  = 200
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	_, kc := startKafka(t, partitions)

	ins := make([]*instance, 3)
	for i := range ins {
		ins[i] = &instance{t: t, name: fmt.Sprintf("p%d", i), dataDir: t.TempDir(), kc: kc}
	}
	defer func() {
		for _, in := range ins {
			if in.running() {
				in.signal(syscall.SIGKILL)
			}
		}
		if t.Failed() {
			for _, in := range ins {
				in.mu.Lock()
				t.Log(strings.Join(in.logTail, "\n"))
				in.mu.Unlock()
			}
		}
	}()
	ins[0].start(0)
	ins[1].start(0)

	// The stream: commands at about 400/s, as ingress would produce them.
	sent := map[string]incident.Command{}
	produced := make(chan error, 1)
	go func() {
		cl, err := kafka.NewClient(kc, nil, kgo.ProducerLinger(0))
		if err != nil {
			produced <- err
			return
		}
		defer cl.Close()
		w := newWorkload(seed, incidents)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		var perr error
		var mu sync.Mutex
		for n := 0; n < commands; {
			<-tick.C
			for range 10 {
				c, _ := w.Next()
				n++
				sent[c.ID] = c
				cl.Produce(context.Background(), testenv.CommandRecord(t, kc.Topics().Commands, c), func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						perr = err
						mu.Unlock()
					}
				})
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.Flush(ctx); err != nil {
			produced <- err
			return
		}
		mu.Lock()
		defer mu.Unlock()
		produced <- perr
	}()

	// Chaos until the stream ends: a third instance joins late, then
	// instances are killed (-9) and restarted, some with the failpoint.
	var kills, failpoints, crashes, removed int
	chaos := time.NewTicker(700 * time.Millisecond)
	joined := false
	var perr error
loop:
	for {
		select {
		case perr = <-produced:
			break loop
		case <-chaos.C:
		}
		if !joined {
			ins[2].start(0)
			joined = true
			continue
		}
		for _, in := range ins {
			in.mu.Lock()
			armed, code := in.armed, in.exitErr
			in.mu.Unlock()
			if !in.running() {
				if armed && code != nil && strings.Contains(code.Error(), "exit status 3") {
					crashes++
				} else {
					t.Errorf("%s exited unexpectedly: %v", in.name, code)
				}
				in.start(0)
			}
		}
		in := ins[rng.IntN(len(ins))]
		if kills%4 == 3 {
			// A forced rebalance: the member is removed from the group
			// (its partitions are lost to it) and rejoins.
			removed++
			cl, err := kafka.NewClient(kc, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := kadm.NewClient(cl).LeaveGroup(ctx, kadm.LeaveGroup(processor.DefaultGroup).InstanceIDs(in.id()))
			cancel()
			cl.Close()
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Logf("remove %s from the group: %v", in.name, err)
			}
			kills++
			continue
		}
		if kills%3 == 1 {
			// A graceful stop: the step in progress ends, the process
			// exits cleanly (and, a static member, keeps its partitions).
			// Its signal handler is installed once it has announced.
			testenv.Eventually(t, 30*time.Second, in.name+" to start", func() bool {
				in.mu.Lock()
				announced := in.httpAddr != ""
				in.mu.Unlock()
				return announced || !in.running()
			})
			in.signal(syscall.SIGTERM)
			in.mu.Lock()
			err := in.exitErr
			in.mu.Unlock()
			if err != nil && !strings.Contains(err.Error(), "exit status 3") {
				t.Errorf("%s: graceful stop: %v", in.name, err)
			}
		} else {
			in.signal(syscall.SIGKILL)
		}
		kills++
		if kills%2 == 0 { // every other restart crashes right after a commit
			failpoints++
			in.start(1 + rng.IntN(2))
		} else {
			in.start(0)
		}
	}
	chaos.Stop()
	if perr != nil {
		t.Fatalf("producing commands: %v", perr)
	}
	// Disarm: every instance runs without the failpoint from here on.
	for _, in := range ins {
		in.mu.Lock()
		armed := in.armed
		in.mu.Unlock()
		if !in.running() || armed {
			if in.running() {
				in.signal(syscall.SIGKILL)
			} else {
				crashes++
			}
			in.start(0)
		}
	}
	t.Logf("%d disruptions: %d members removed from the group, the others killed (some with SIGTERM); %d restarts with the failpoint armed, %d failpoint exits",
		kills, removed, failpoints, crashes)
	if kills < 5 || crashes < 1 {
		t.Fatalf("chaos too mild to prove anything: %d kills, %d failpoint exits", kills, crashes)
	}

	testenv.Eventually(t, 60*time.Second, "the processors to apply every command", func() bool {
		return caughtUp(t, kc, processor.DefaultGroup) && ins[0].ready() && ins[1].ready() && ins[2].ready()
	})

	for _, path := range []string{"/healthz", "/metrics"} {
		body := ins[0].get(path)
		if path == "/metrics" && !strings.Contains(body, "incidentd_processor_commands_total") {
			t.Errorf("/metrics has no incidentd_processor_commands_total:\n%.500s", body)
		}
	}

	// Who owns what now: those partitions must be exactly the fold.
	owners := map[string]map[int32]bool{}
	cl, err := kafka.NewClient(kc, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	groups, err := kadm.NewClient(cl).DescribeGroups(ctx, processor.DefaultGroup)
	cancel()
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range groups[processor.DefaultGroup].Members {
		if m.InstanceID == nil {
			t.Fatalf("member %s has no instance id", m.MemberID)
		}
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			t.Fatalf("member %s: assignment is not a consumer assignment", m.MemberID)
		}
		owners[*m.InstanceID] = map[int32]bool{}
		for _, tp := range ca.Topics {
			for _, p := range tp.Partitions {
				owners[*m.InstanceID][p] = true
			}
		}
	}
	for _, in := range ins {
		in.signal(syscall.SIGTERM)
		if err := in.exitErr; err != nil {
			t.Errorf("%s: graceful stop: %v", in.name, err)
		}
	}

	le := readEvents(t, kc)
	le.check(t, sent)
	covered := 0
	for _, in := range ins {
		own := owners[in.id()]
		covered += len(own)
		t.Logf("%s owns partitions %v", in.name, sortedKeys(own))
		le.checkStore(t, in.name, storeStates(t, filepath.Join(in.dataDir, "processor")), own)
	}
	if covered != partitions {
		t.Errorf("instances own %d partitions in all, want %d", covered, partitions)
	}

	// Rebuild from the log, through the command line, for every instance.
	for _, in := range ins {
		out, err := exec.Command(binary, "rebuild", "-kafka.brokers="+kc.Brokers[0],
			"-kafka.topic-prefix="+kc.TopicPrefix, fmt.Sprintf("-kafka.partitions=%d", partitions),
			"-data-dir="+in.dataDir, "-log.level=warn", "processor").CombinedOutput()
		if err != nil || !strings.Contains(string(out), " 0 mismatched; 0 duplicate events, 0 gaps, 0 undecodable") {
			t.Errorf("%s: rebuild: %v\n%s", in.name, err, out)
		} else {
			t.Logf("%s: %s", in.name, lastLine(string(out)))
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "mismatched") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}
