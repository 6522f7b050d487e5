package testenv

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is a single broker listening on a loopback TCP port: a kfake
// cluster, or with INCIDENTD_TEST_BROKER=kafka an Apache Kafka broker (see
// KafkaBroker). It is safe for concurrent use; Restart keeps the port, so
// clients that were connected before reconnect to the new broker on their
// own.
type Kafka struct {
	dataDir string
	extra   []kfake.Opt

	mu      sync.Mutex
	port    int
	cluster *kfake.Cluster // nil while stopped
	apache  *apacheKafka   // the leased Apache Kafka broker; nil with kfake
}

// KafkaOpt configures StartKafka.
type KafkaOpt func(*Kafka)

// WithDataDir makes the broker persist its state in dir and reload it on
// start, so records survive Restart.
func WithDataDir(dir string) KafkaOpt {
	return func(k *Kafka) { k.dataDir = dir }
}

// WithKfakeOpts passes extra options to kfake.NewCluster on every start.
// Options that change the listeners (Ports, ListenFn, NumBrokers) or the data
// directory are overridden by StartKafka.
func WithKfakeOpts(opts ...kfake.Opt) KafkaOpt {
	return func(k *Kafka) { k.extra = append(k.extra, opts...) }
}

// StartKafka starts a kfake broker on a free 127.0.0.1 port and stops it when
// the test ends. Without WithDataDir the broker keeps everything in memory
// and Restart loses it.
//
// With INCIDENTD_TEST_BROKER=kafka it hands the test an empty Apache Kafka
// broker instead, from a pool the test binary keeps (see apache_kafka.go);
// the broker always persists, WithDataDir is ignored, and WithKfakeOpts
// fails the test, which needs kfake.
func StartKafka(t testing.TB, opts ...KafkaOpt) *Kafka {
	t.Helper()
	k := &Kafka{}
	for _, o := range opts {
		o(k)
	}
	switch b := KafkaBroker(); b {
	case "kfake":
	case "kafka":
		k.startApache(t)
		return k
	default:
		t.Fatalf("testenv: %s=%q: want kfake or kafka", BrokerEnv, b)
	}
	if err := k.start(0); err != nil {
		t.Fatalf("testenv: start kafka: %v", err)
	}
	t.Cleanup(k.Stop)
	return k
}

// Addr returns the broker's host:port, for kgo.SeedBrokers.
func (k *Kafka) Addr() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(k.port))
}

// Cluster returns the running kfake cluster, for its control hooks
// (kfake.Cluster.ControlKey and friends). It is nil while stopped and
// changes on Restart. On Apache Kafka it panics: the test needs kfake.
func (k *Kafka) Cluster() *kfake.Cluster {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.apache != nil {
		panic("testenv: Kafka.Cluster: this test needs kfake (kfake's control hooks), but " + BrokerEnv + "=kafka runs Apache Kafka")
	}
	return k.cluster
}

// Restart stops the broker, persisting its state if it has a data
// directory, and starts it again on the same port and directory.
func (k *Kafka) Restart(t testing.TB) {
	t.Helper()
	if k.apache != nil {
		k.restartApache(t)
		return
	}
	k.Stop()
	k.mu.Lock()
	port := k.port
	k.mu.Unlock()
	if err := k.start(port); err != nil {
		t.Fatalf("testenv: restart kafka on port %d: %v", port, err)
	}
}

// Stop closes the broker and every client connection to it. It is
// idempotent; a stopped broker can be started again with Restart.
func (k *Kafka) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.apache != nil {
		k.apache.stop()
		return
	}
	if k.cluster != nil {
		k.cluster.Close()
		k.cluster = nil
	}
}

// start starts the cluster on port, or on a random free port if port is 0.
func (k *Kafka) start(port int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	opts := append([]kfake.Opt{}, k.extra...)
	// Ports implies one broker per port; kfake always binds 127.0.0.1.
	opts = append(opts, kfake.Ports(port))
	if k.dataDir != "" {
		opts = append(opts, kfake.DataDir(k.dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		c.Close()
		return fmt.Errorf("kfake listens on %d addresses, want 1", len(addrs))
	}
	_, ps, err := net.SplitHostPort(addrs[0])
	if err != nil {
		c.Close()
		return fmt.Errorf("kfake address %q: %w", addrs[0], err)
	}
	p, err := strconv.Atoi(ps)
	if err != nil {
		c.Close()
		return fmt.Errorf("kfake address %q: %w", addrs[0], err)
	}
	k.cluster, k.port = c, p
	return nil
}

// startApache leases an Apache Kafka broker for t and returns it to the
// pool, emptied, when t ends.
func (k *Kafka) startApache(t testing.TB) {
	t.Helper()
	if len(k.extra) > 0 {
		t.Fatalf("testenv: WithKfakeOpts: this test needs kfake, but %s=kafka runs Apache Kafka", BrokerEnv)
	}
	a, err := leaseApacheKafka()
	if err != nil {
		t.Fatalf("testenv: start apache kafka: %v", err)
	}
	k.apache, k.port = a, a.port
	t.Cleanup(func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if err := releaseApacheKafka(a); err != nil {
			t.Logf("testenv: apache kafka %s: %v", a.addr(), err)
		}
	})
}

// restartApache kills the broker's JVM and starts it again on the same
// ports and log directory.
func (k *Kafka) restartApache(t testing.TB) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.apache.stop()
	if err := k.apache.start(); err != nil {
		t.Fatalf("testenv: restart apache kafka on %s: %v\n%s", k.apache.addr(), err, k.apache.logTail())
	}
}
