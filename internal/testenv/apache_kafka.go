package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BrokerEnv names the environment variable that chooses the broker
// StartKafka starts: "kfake" (the default) or "kafka" (Apache Kafka).
const BrokerEnv = "INCIDENTD_TEST_BROKER"

// KafkaLibsEnv names the environment variable that points at the Apache
// Kafka jars ("make kafka-fetch" puts them in .cache/kafka/libs, the default).
const KafkaLibsEnv = "INCIDENTD_KAFKA_LIBS"

// KafkaBroker returns the broker StartKafka starts, from BrokerEnv:
// "kfake" or "kafka". Any other value makes StartKafka fail the test.
func KafkaBroker() string {
	if b := os.Getenv(BrokerEnv); b != "" {
		return b
	}
	return "kfake"
}

// Apache Kafka in tests.
//
// Starting a JVM takes seconds, so a test binary keeps a pool of brokers:
// StartKafka leases one for the test, and the test's cleanup empties it
// (deletes every topic and consumer group) and returns it to the pool, so
// every test starts on an empty broker, as with kfake, and tests running in
// parallel get brokers of their own. A broker that cannot be emptied (a
// group with live members, a transaction still open, a broker the test
// stopped) is shut down instead, and the next lease starts a fresh one.
// The brokers die with the test binary (parent-death signal); their
// directories, named after the binary's pid, are removed by the next binary
// that finds the pid gone.
//
// Each broker is a single KRaft node (broker and controller in one JVM) on
// two loopback ports, with the settings a single node needs for groups and
// transactions (replication factor and min ISR 1 for the internal topics),
// no rebalance delay, and Kafka 4.x's defaults otherwise: the KIP-848
// consumer group protocol and transaction version 2 (KIP-890) are on.
//
// Differences from kfake that tests see, found by running the suites on
// both (README.md, "Tested servers", keeps the same list):
//   - A topic is listed by the broker 10-40 ms after CreateTopics is
//     acknowledged (UNKNOWN_TOPIC_OR_PARTITION until then); kfake lists it
//     at once. Code that creates topics and then describes them must wait.
//   - A broker restarted after a crash (SIGKILL) waits for its old
//     registration to expire (broker.session.timeout.ms, 9 s:
//     DUPLICATE_BROKER_REGISTRATION); Stop and Restart shut it down cleanly.
//   - A real broker persists everything: Restart keeps records with or
//     without WithDataDir (kfake without a data directory loses them).
//   - Kafka's broker default partition count is 1; this broker is set to 10
//     to match kfake (CreateTopic with -1 partitions).
//   - KIP-848 heartbeats default to 5 s on Kafka; set to 250 ms here
//     (kfake uses 100 ms inside test binaries) so group changes settle
//     about as fast as on kfake.
//   - Kafka's auto.create.topics.enable defaults to true; it is off here, as
//     on kfake, since incidentd creates its topics itself.
//   - kfake's control hooks (Cluster, WithKfakeOpts) do not exist: a test
//     that uses them fails with "needs kfake".
//   - A JVM takes about 3 s to start on an idle 2-core machine (5-7 s on a
//     busy one; 11-14 s with kafka-server-start's G1 and C2 defaults), so
//     brokers are pooled; kfake starts in milliseconds.

// apacheKafkaStartTimeout bounds a JVM start until the broker answers
// metadata requests; it takes about 3 s on an idle 2-core machine.
const apacheKafkaStartTimeout = 90 * time.Second

// apacheKafkaResetTimeout bounds emptying a broker for the next test.
const apacheKafkaResetTimeout = 15 * time.Second

// apacheKafkaJVMFlags keep the broker small and quick to start: a 512 MB
// heap, the serial collector (one core's worth of GC threads) and the C1
// compiler only, which starts faster and is fast enough for tests.
var apacheKafkaJVMFlags = []string{
	"-Xmx512m", "-Xms128m",
	"-XX:+UseSerialGC",
	"-XX:TieredStopAtLevel=1",
	"-XX:-UsePerfData",
	"-Djava.awt.headless=true",
}

// apacheKafka is one Apache Kafka broker process, leased to one test at a
// time. Its fields are guarded by the owning Kafka's mu while leased.
type apacheKafka struct {
	dir            string // server.properties, log4j2.xml, data/, server.log
	libs           string
	port, ctrlPort int
	proc           *jvmProcess // nil while stopped
}

// jvmProcess is one run of the broker's JVM.
type jvmProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait returned
	err  error         // cmd.Wait's result, set before done is closed
}

var kafkaPool struct {
	mu    sync.Mutex
	idle  []*apacheKafka
	swept bool
}

// leaseApacheKafka returns an idle, empty broker from the pool, or starts
// a new one.
func leaseApacheKafka() (*apacheKafka, error) {
	kafkaPool.mu.Lock()
	if !kafkaPool.swept {
		kafkaPool.swept = true
		sweepApacheKafkaDirs()
	}
	for n := len(kafkaPool.idle); n > 0; n-- {
		a := kafkaPool.idle[n-1]
		kafkaPool.idle = kafkaPool.idle[:n-1]
		select {
		case <-a.proc.done: // died while idle
			a.destroy()
		default:
			kafkaPool.mu.Unlock()
			return a, nil
		}
	}
	kafkaPool.mu.Unlock()
	return newApacheKafka()
}

// releaseApacheKafka empties a and returns it to the pool, or shuts it down
// if it cannot be emptied. The reason is returned for the test's log.
func releaseApacheKafka(a *apacheKafka) error {
	if a.proc == nil {
		a.destroy()
		return nil
	}
	if err := a.reset(); err != nil {
		a.destroy()
		return fmt.Errorf("broker shut down instead of reused: %w", err)
	}
	kafkaPool.mu.Lock()
	kafkaPool.idle = append(kafkaPool.idle, a)
	kafkaPool.mu.Unlock()
	return nil
}

// dirPrefix names broker directories after the test binary's pid.
func dirPrefix(pid int) string { return "incidentd-kafka-" + strconv.Itoa(pid) + "-" }

// sweepApacheKafkaDirs removes the directories of test binaries that are
// gone (their brokers died with them).
func sweepApacheKafkaDirs() {
	ents, _ := os.ReadDir(os.TempDir())
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "incidentd-kafka-")
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
}

// kafkaLibs returns the directory of the broker's jars.
func kafkaLibs() (string, error) {
	dir := os.Getenv(KafkaLibsEnv)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, ".cache", "kafka", "libs")
	}
	ms, _ := filepath.Glob(filepath.Join(dir, "kafka_2.13-*.jar"))
	if len(ms) == 0 {
		return "", fmt.Errorf("no Apache Kafka jars in %s: run 'make kafka-fetch' (or set %s)", dir, KafkaLibsEnv)
	}
	return dir, nil
}

// moduleRoot returns the nearest directory at or above the working
// directory (a package directory, under go test) holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func newApacheKafka() (*apacheKafka, error) {
	libs, err := kafkaLibs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", dirPrefix(os.Getpid()))
	if err != nil {
		return nil, err
	}
	a := &apacheKafka{dir: dir, libs: libs}
	// A free port can be taken before the broker binds it; only then is a
	// fresh pair worth another try.
	for range 3 {
		if err = a.format(); err != nil {
			break
		}
		if err = a.start(); err == nil {
			return a, nil
		}
		if !bytes.Contains(a.logs(), []byte("Address already in use")) {
			break
		}
	}
	err = fmt.Errorf("%w\n%s", err, a.logTail())
	a.destroy()
	return nil, err
}

// format picks ports, writes the configuration and formats an empty KRaft
// log directory (kafka-storage format).
func (a *apacheKafka) format() error {
	ps, err := freePortPair()
	if err != nil {
		return err
	}
	a.port, a.ctrlPort = ps[0], ps[1]
	data := filepath.Join(a.dir, "data")
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(a.dir, "server.properties"), []byte(a.properties()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(a.dir, "log4j2.xml"), []byte(kafkaLog4j), 0o644); err != nil {
		return err
	}
	cmd := a.java("format.log", "kafka.tools.StorageTool", "format",
		"--cluster-id", clusterID(),
		"--config", filepath.Join(a.dir, "server.properties"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka-storage format: %v\n%s", err, out)
	}
	return nil
}

// clusterID returns a random cluster id as Kafka writes them: 16 bytes in
// unpadded URL-safe base64, never starting with '-' (the command line
// would take it for an option, as Kafka's Uuid.randomUuid also avoids).
func clusterID() string {
	for {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		if id := base64.RawURLEncoding.EncodeToString(b); id[0] != '-' {
			return id
		}
	}
}

func (a *apacheKafka) properties() string {
	p, c := strconv.Itoa(a.port), strconv.Itoa(a.ctrlPort)
	return `# A single-node KRaft broker for incidentd's tests (internal/testenv).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:` + c + `
listeners=PLAINTEXT://127.0.0.1:` + p + `,CONTROLLER://127.0.0.1:` + c + `
advertised.listeners=PLAINTEXT://127.0.0.1:` + p + `
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=` + filepath.Join(a.dir, "data") + `
num.partitions=10
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.consumer.min.heartbeat.interval.ms=100
group.consumer.heartbeat.interval.ms=250
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.delete.delay.ms=1000
file.delete.delay.ms=1000
`
}

// kafkaLog4j sends the broker's log to DIR/server.log, for failure reports.
const kafkaLog4j = `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="${sys:incidentd.kafka.log}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
    <Root level="info"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
`

// java returns a JVM command running main with args, logging to dir/log.
func (a *apacheKafka) java(log, main string, args ...string) *exec.Cmd {
	bin := "java"
	if h := os.Getenv("JAVA_HOME"); h != "" {
		bin = filepath.Join(h, "bin", "java")
	}
	argv := append([]string{}, apacheKafkaJVMFlags...)
	argv = append(argv,
		"-Dlog4j2.configurationFile="+filepath.Join(a.dir, "log4j2.xml"),
		"-Dincidentd.kafka.log="+filepath.Join(a.dir, log),
		"-cp", filepath.Join(a.libs, "*"),
		main)
	cmd := exec.Command(bin, append(argv, args...)...)
	cmd.Dir = a.dir
	setDeathSignal(cmd)
	return cmd
}

func (a *apacheKafka) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.port))
}

// start runs the broker on its ports and directory and waits until it
// answers a metadata request naming itself.
func (a *apacheKafka) start() error {
	if a.proc != nil {
		return errors.New("already running")
	}
	cmd := a.java("server.log", "kafka.Kafka", filepath.Join(a.dir, "server.properties"))
	out, err := os.OpenFile(filepath.Join(a.dir, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the child keeps its own copy
	cmd.Stdout, cmd.Stderr = out, out
	// A fresh log per run, so a failure shows this run's errors.
	_ = os.Remove(filepath.Join(a.dir, "server.log"))
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &jvmProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	a.proc = p
	if err := a.waitReady(p); err != nil {
		a.stop()
		return err
	}
	return nil
}

func (a *apacheKafka) waitReady(p *jvmProcess) error {
	ctx, cancel := context.WithTimeout(context.Background(), apacheKafkaStartTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.addr()), kgo.DialTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		mctx, mcancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := adm.BrokerMetadata(mctx)
		mcancel()
		switch {
		case err != nil:
			last = err
		case len(m.Brokers) != 1 || m.Controller != 1:
			last = fmt.Errorf("metadata names brokers %v, controller %d", m.Brokers.NodeIDs(), m.Controller)
		default:
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("kafka exited: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("kafka on %s not ready after %v: %v", a.addr(), apacheKafkaStartTimeout, last)
		case <-tick.C:
		}
	}
}

// apacheKafkaStopTimeout bounds a clean shutdown (about 0.4 s) before the
// JVM is killed.
const apacheKafkaStopTimeout = 30 * time.Second

// stop shuts the broker down cleanly (SIGTERM), as kfake's Close persists
// its state, and waits for the JVM to exit; it kills the JVM if that takes
// longer than apacheKafkaStopTimeout. The log directory stays, so start
// brings the same broker back at once. (After a kill, the restarted broker
// would wait broker.session.timeout.ms, 9 s, for its old registration to
// expire.)
func (a *apacheKafka) stop() {
	p := a.proc
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(apacheKafkaStopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	a.proc = nil
}

// destroy kills the JVM and removes its directory.
func (a *apacheKafka) destroy() {
	if p := a.proc; p != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
		a.proc = nil
	}
	os.RemoveAll(a.dir)
}

// reset deletes every transaction-free consumer group and every topic, and
// waits until the broker lists none. It fails if a transaction is open or a
// group still has members: the test left something running.
func (a *apacheKafka) reset() error {
	ctx, cancel := context.WithTimeout(context.Background(), apacheKafkaResetTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.addr()))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	txns, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("list transactions: %w", err)
	}
	for _, tx := range txns.Sorted() {
		switch tx.State {
		case "Empty", "CompleteCommit", "CompleteAbort", "Dead":
		default:
			return fmt.Errorf("transactional id %q is %s", tx.TxnID, tx.State)
		}
	}

	// Members leave on client Close, but a leave may still be in flight.
	for {
		gs, err := adm.ListGroups(ctx)
		if err == nil && len(gs) == 0 {
			break
		}
		if err == nil {
			resps, derr := adm.DeleteGroups(ctx, gs.Groups()...)
			err = derr
			if err == nil {
				err = resps.Error()
			}
		}
		if perr := pause(ctx); perr != nil {
			return fmt.Errorf("delete groups: %w (last: %v)", perr, err)
		}
	}

	for {
		// kadm caches metadata for 5 s; asking for authorized
		// operations bypasses the cache.
		ts, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx))
		if err == nil && len(ts) == 0 {
			return nil
		}
		if err == nil {
			resps, derr := adm.DeleteTopics(ctx, ts.Names()...)
			err = derr
			if err == nil {
				err = resps.Error()
			}
		}
		if perr := pause(ctx); perr != nil {
			return fmt.Errorf("delete topics: %w (last: %v)", perr, err)
		}
	}
}

// pause waits a little before the next poll, or returns ctx's error.
func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(50 * time.Millisecond):
		return nil
	}
}

// logs returns the broker's log and stdout.
func (a *apacheKafka) logs() []byte {
	l, _ := os.ReadFile(filepath.Join(a.dir, "server.log"))
	o, _ := os.ReadFile(filepath.Join(a.dir, "stdout"))
	return append(l, o...)
}

// logTail returns the last lines of the broker's log and stdout, for
// failure messages.
func (a *apacheKafka) logTail() string {
	l, _ := os.ReadFile(filepath.Join(a.dir, "server.log"))
	o, _ := os.ReadFile(filepath.Join(a.dir, "stdout"))
	return "--- " + filepath.Join(a.dir, "server.log") + " (tail):\n" + tail(l, 30) +
		"--- stdout/stderr (tail):\n" + tail(o, 10)
}

// freePortPair returns two distinct free loopback ports.
func freePortPair() ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
