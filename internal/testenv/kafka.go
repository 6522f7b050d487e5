package testenv

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is a single-broker kfake cluster listening on a loopback TCP port.
// It is safe for concurrent use; Restart keeps the port, so clients that were
// connected before reconnect to the new broker on their own.
type Kafka struct {
	dataDir string
	extra   []kfake.Opt

	mu      sync.Mutex
	port    int
	cluster *kfake.Cluster // nil while stopped
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
func StartKafka(t testing.TB, opts ...KafkaOpt) *Kafka {
	t.Helper()
	k := &Kafka{}
	for _, o := range opts {
		o(k)
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
// changes on Restart.
func (k *Kafka) Cluster() *kfake.Cluster {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cluster
}

// Restart stops the broker, persisting its state if it has a data
// directory, and starts it again on the same port and directory.
func (k *Kafka) Restart(t testing.TB) {
	t.Helper()
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
