package processor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/processor"
)

// TestStopDuringRebalance: a processor stopped while the broker holds its
// group join returns within a bound. A second member joins the group and
// then goes silent (as a static member that stops without leaving the
// group does), so the processor's next join waits on the broker for the
// group's rebalance timeout, a minute; Run must return well before that.
func TestStopDuringRebalance(t *testing.T) {
	_, kc := startKafka(t, 3)
	p, err := processor.New(processor.Config{
		Kafka: kc, Dir: t.TempDir(), InstanceID: "a", SessionTimeout: 6 * time.Second, TransactionTimeout: 5 * time.Second,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	done := make(chan struct{})
	go func() { runErr = p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 30*time.Second, "the processor to own the partitions", p.Ready)

	cl, err := kafka.NewClient(kc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	silent := joinSilently(t, cl, kc)

	// The processor is in the rebalance the silent member started: it
	// waits in its join for the silent member to rejoin (it is the
	// leader), or in its sync for the silent member's assignment.
	adm := kadm.NewClient(cl)
	want := "PreparingRebalance"
	if silent.LeaderID == silent.MemberID {
		want = "CompletingRebalance"
	}
	testenv.Eventually(t, 30*time.Second, "the group to be "+want, func() error {
		gs, err := adm.DescribeGroups(context.Background(), processor.DefaultGroup)
		if err != nil {
			return err
		}
		if state := gs[processor.DefaultGroup].State; state != want {
			return fmt.Errorf("group is %s", state)
		}
		return nil
	})

	start := time.Now()
	cancel()
	select {
	case <-done:
		if runErr != nil {
			t.Fatalf("Run: %v", runErr)
		}
		t.Logf("Run returned %v after its context was cancelled", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20s of its context being cancelled")
	}
}

// joinSilently joins the processor's group as a static member with a
// minute's session and rebalance timeouts, and never syncs, heartbeats or
// rejoins. It returns once the join completes.
func joinSilently(t *testing.T, cl *kgo.Client, kc kafka.Config) *kmsg.JoinGroupResponse {
	t.Helper()
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{kc.Topics().Commands}
	proto := kmsg.NewJoinGroupRequestProtocol()
	proto.Name = "cooperative-sticky"
	proto.Metadata = meta.AppendTo(nil)
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = processor.DefaultGroup
	req.InstanceID = kmsg.StringPtr("silent")
	req.SessionTimeoutMillis = 60000
	req.RebalanceTimeoutMillis = 60000
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{proto}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("join group: %v", err)
		}
		switch err := kerr.ErrorForCode(resp.ErrorCode); err {
		case nil:
			return resp
		case kerr.MemberIDRequired:
			req.MemberID = resp.MemberID
		default:
			t.Fatalf("join group: %v", err)
		}
	}
	t.Fatal("join group: member id required twice")
	return nil
}
