package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ClickHouseBinary is the server StartClickHouse runs: Debian's
// clickhouse-server package (18.16).
const ClickHouseBinary = "/usr/sbin/clickhouse-server"

// clickHouseConfig is the packaged configuration; everything that would touch
// shared paths or ports is overridden on the command line.
const clickHouseConfig = "/etc/clickhouse-server/config.xml"

// clickHouseStartTimeout bounds how long a start may take before the test
// fails. The server normally answers in well under a second.
const clickHouseStartTimeout = 30 * time.Second

// ClickHouse is a clickhouse-server child process owned by one test, with its
// own data directory and loopback ports. Kill and Start let a test crash and
// restart it on the same ports and data.
type ClickHouse struct {
	dir                          string
	tcpPort, httpPort, interPort int

	mu   sync.Mutex
	proc *chProcess // nil while not running
}

// chProcess is one run of the server.
type chProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait returned
	err  error         // cmd.Wait's result, set before done is closed
}

// StartClickHouse starts clickhouse-server on free 127.0.0.1 ports with a
// temporary data directory and waits until it answers a query over the
// native protocol. The server is killed when the test ends.
func StartClickHouse(t testing.TB) *ClickHouse {
	t.Helper()
	if _, err := os.Stat(ClickHouseBinary); err != nil {
		t.Fatalf("clickhouse-server not found: install it with 'apt-get install clickhouse-server' (.ci/run does)")
	}
	ch := &ClickHouse{dir: t.TempDir()}
	// Registered after TempDir's cleanup, so it runs before the directory
	// is removed.
	t.Cleanup(func() { ch.kill() })

	// A free port can be taken by someone else before the server binds
	// it; only then is a fresh set of ports worth another try.
	var err error
	for range 3 {
		ports := freePorts(t, 3)
		ch.tcpPort, ch.httpPort, ch.interPort = ports[0], ports[1], ports[2]
		if err = ch.start(); err == nil {
			return ch
		}
		if !bytes.Contains(ch.errLog(), []byte("Address already in use")) {
			break
		}
	}
	t.Fatalf("testenv: start clickhouse-server: %v\n%s", err, ch.errLogTail())
	return nil
}

// Addr returns host:port of the native protocol (the only protocol
// clickhouse-go/v2 can use with 18.16).
func (ch *ClickHouse) Addr() string {
	return "127.0.0.1:" + strconv.Itoa(ch.tcpPort)
}

// Dir returns the server's data directory, which holds its logs
// (log, err) too.
func (ch *ClickHouse) Dir() string { return ch.dir }

// Open returns a native-protocol connection to database "default", closed
// when the test ends.
func (ch *ClickHouse) Open(t testing.TB) driver.Conn {
	t.Helper()
	conn, err := ch.open()
	if err != nil {
		t.Fatalf("testenv: open clickhouse %s: %v", ch.Addr(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Kill sends SIGKILL to the server and waits for it to exit, as a crash
// would. It is a no-op if the server is not running.
func (ch *ClickHouse) Kill(t testing.TB) {
	t.Helper()
	ch.kill()
}

// Start starts a killed server again on the same ports and data directory
// and waits until it answers. It fails the test if the server is running.
func (ch *ClickHouse) Start(t testing.TB) {
	t.Helper()
	if err := ch.start(); err != nil {
		t.Fatalf("testenv: restart clickhouse-server: %v\n%s", err, ch.errLogTail())
	}
}

func (ch *ClickHouse) open() (driver.Conn, error) {
	return clickhouse.Open(&clickhouse.Options{
		Addr:        []string{ch.Addr()},
		Auth:        clickhouse.Auth{Database: "default"},
		DialTimeout: 2 * time.Second,
	})
}

func (ch *ClickHouse) start() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.proc != nil {
		return errors.New("already running")
	}
	d := ch.dir
	cmd := exec.Command(ClickHouseBinary,
		"--config-file="+clickHouseConfig,
		"--",
		"--path="+d+"/",
		"--tmp_path="+filepath.Join(d, "tmp")+"/",
		"--user_files_path="+filepath.Join(d, "uf")+"/",
		"--format_schema_path="+filepath.Join(d, "fs")+"/",
		"--logger.log="+filepath.Join(d, "log"),
		"--logger.errorlog="+filepath.Join(d, "err"),
		"--tcp_port="+strconv.Itoa(ch.tcpPort),
		"--http_port="+strconv.Itoa(ch.httpPort),
		"--interserver_http_port="+strconv.Itoa(ch.interPort),
		"--listen_host=127.0.0.1",
	)
	cmd.Dir = d
	out, err := os.OpenFile(filepath.Join(d, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the child keeps its own copy
	cmd.Stdout, cmd.Stderr = out, out
	setDeathSignal(cmd)
	// A fresh error log per run, so a failure shows this run's errors.
	_ = os.Remove(filepath.Join(d, "err"))
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &chProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	ch.proc = p

	if err := ch.waitReady(p); err != nil {
		ch.killLocked()
		return err
	}
	return nil
}

// waitReady polls the native port until a query succeeds, the process
// exits, or the start timeout passes.
func (ch *ClickHouse) waitReady(p *chProcess) error {
	ctx, cancel := context.WithTimeout(context.Background(), clickHouseStartTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ch.ping(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("clickhouse-server exited: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("clickhouse-server on %s not ready after %v: %v", ch.Addr(), clickHouseStartTimeout, last)
		case <-tick.C:
		}
	}
}

func (ch *ClickHouse) ping(ctx context.Context) error {
	conn, err := ch.open()
	if err != nil {
		return err
	}
	defer conn.Close()
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var one uint8
	return conn.QueryRow(qctx, "SELECT 1").Scan(&one)
}

func (ch *ClickHouse) kill() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.killLocked()
}

func (ch *ClickHouse) killLocked() {
	p := ch.proc
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	ch.proc = nil
}

func (ch *ClickHouse) errLog() []byte {
	b, _ := os.ReadFile(filepath.Join(ch.dir, "err"))
	return b
}

// errLogTail returns the last lines of the server's error log and stdout,
// for failure messages.
func (ch *ClickHouse) errLogTail() string {
	out, _ := os.ReadFile(filepath.Join(ch.dir, "stdout"))
	return "--- " + filepath.Join(ch.dir, "err") + " (tail):\n" + tail(ch.errLog(), 30) +
		"--- stdout/stderr (tail):\n" + tail(out, 10)
}

func tail(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n"))) + "\n"
}
