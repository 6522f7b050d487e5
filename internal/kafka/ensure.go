package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// EnsureTopics creates the topics of deploy/topics.txt that do not exist yet,
// with their configs and cfg's prefix and partition count, and checks the
// ones that exist: their partition count and every config topics.txt sets
// must match. A mismatch is an error naming the topic, the value found and
// the value wanted; EnsureTopics never alters an existing topic. Configs the
// broker does not report at all are not checked.
//
// Services call it at start-up, before they produce or consume. It is safe
// to run concurrently from several processes: a topic another process
// created first is checked like any existing topic. cfg.Brokers is not used;
// adm already knows the cluster.
func EnsureTopics(ctx context.Context, adm *kadm.Client, cfg Config) error {
	cfg.Defaults()
	if err := cfg.validateTopics(); err != nil {
		return err
	}
	specs, err := specs(cfg)
	if err != nil {
		return err
	}
	byName := make(map[string]TopicSpec, len(specs))
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		name := s.Name(cfg.TopicPrefix)
		byName[name] = s
		names = append(names, name)
	}

	// kadm answers ListTopics from a metadata cache (5s by default) that
	// also remembers unknown topics; asking for authorized operations is
	// kadm's way to bypass it, and the answer must be current here.
	fresh := kadm.WithAuthorizedOps(ctx)
	details, err := adm.ListTopics(fresh, names...)
	if err != nil {
		return fmt.Errorf("kafka: list topics: %w", err)
	}
	existing, raced, created, errs := createMissing(ctx, adm, byName, names, details)
	// A broker acknowledges CreateTopics before every broker lists the
	// topic (Apache Kafka in KRaft mode lists it 10-40 ms later, answering
	// UNKNOWN_TOPIC_OR_PARTITION until then; kfake at once). Services
	// produce and consume right after EnsureTopics, so wait until the new
	// topics are listed with a leader for every partition; so too for the
	// ones another process created a moment ago.
	if waiting := append(created, raced...); len(waiting) > 0 {
		if err := waitListed(fresh, adm, waiting); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if len(raced) > 0 {
		again, err := adm.ListTopics(fresh, raced...)
		if err != nil {
			return fmt.Errorf("kafka: list topics: %w", err)
		}
		for _, name := range raced {
			details[name] = again[name]
			if err := again[name].Err; err != nil {
				errs = append(errs, fmt.Errorf("kafka: describe topic %q: %w", name, err))
				continue
			}
			existing = append(existing, name)
		}
	}
	if len(existing) == 0 {
		return errors.Join(errs...)
	}
	return errors.Join(append(errs, checkExisting(ctx, adm, byName, existing, details)...)...)
}

// createMissing creates the topics of names that details does not list.
// It returns the topics that exist, those another process created first
// (raced), those it created, and the errors of the others.
func createMissing(ctx context.Context, adm *kadm.Client, byName map[string]TopicSpec, names []string,
	details kadm.TopicDetails,
) (existing, raced, created []string, errs []error) {
	for _, name := range names {
		d, ok := details[name]
		switch {
		case ok && d.Err == nil:
			existing = append(existing, name)
			continue
		case ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			errs = append(errs, fmt.Errorf("kafka: describe topic %q: %w", name, d.Err))
			continue
		}
		s := byName[name]
		configs := make(map[string]*string, len(s.Configs))
		for k, v := range s.Configs {
			configs[k] = kadm.StringPtr(v)
		}
		_, err := adm.CreateTopic(ctx, s.Partitions, -1, configs, name)
		switch {
		case errors.Is(err, kerr.TopicAlreadyExists):
			raced = append(raced, name)
		case err != nil:
			errs = append(errs, fmt.Errorf("kafka: create topic %q: %w", name, err))
		default:
			created = append(created, name)
		}
	}
	return existing, raced, created, errs
}

// checkExisting checks the partition count and configs of the existing
// topics against their specs and returns every difference.
func checkExisting(ctx context.Context, adm *kadm.Client, byName map[string]TopicSpec, existing []string,
	details kadm.TopicDetails,
) []error {
	var errs []error
	for _, name := range existing {
		s := byName[name]
		if got := int32(len(details[name].Partitions)); got != s.Partitions {
			err := fmt.Errorf("kafka: topic %q has %d partitions, want %d", name, got, s.Partitions)
			if s.coPartitioned() {
				err = fmt.Errorf("%w (commands, events and changelog must be co-partitioned)", err)
			}
			errs = append(errs, err)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return append(errs, fmt.Errorf("kafka: describe topic configs: %w", err))
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			errs = append(errs, fmt.Errorf("kafka: describe configs of topic %q: %w", rc.Name, rc.Err))
			continue
		}
		errs = append(errs, checkConfigs(rc, byName[rc.Name])...)
	}
	return errs
}

// waitListed polls the cluster's metadata until every topic in names is
// listed with a leader for each partition, or ctx ends.
func waitListed(ctx context.Context, adm *kadm.Client, names []string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		details, err := adm.ListTopics(ctx, names...)
		if err == nil {
			pending := ""
			for _, name := range names {
				d, ok := details[name]
				if !ok || d.Err != nil || len(d.Partitions) == 0 {
					pending = name
					break
				}
				for _, p := range d.Partitions {
					if p.Leader < 0 || p.Err != nil {
						pending = name
					}
				}
			}
			if pending == "" {
				return nil
			}
			err = fmt.Errorf("topic %q not listed with leaders yet", pending)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: wait for created topics: %w (last: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// checkConfigs compares the configs topics.txt sets with the broker's.
func checkConfigs(rc kadm.ResourceConfig, s TopicSpec) []error {
	got := make(map[string]*string, len(rc.Configs))
	for _, c := range rc.Configs {
		got[c.Key] = c.Value
	}
	var errs []error
	for _, k := range sortedKeys(s.Configs) {
		v, reported := got[k]
		if !reported {
			continue
		}
		want := s.Configs[k]
		if v == nil {
			errs = append(errs, fmt.Errorf("kafka: topic %q has %s unset, want %s (deploy/topics.txt)", rc.Name, k, want))
			continue
		}
		if normalizeList(*v) != normalizeList(want) {
			errs = append(errs, fmt.Errorf("kafka: topic %q has %s=%s, want %s (deploy/topics.txt)", rc.Name, k, *v, want))
		}
	}
	return errs
}

// normalizeList sorts a comma-separated list value ("compact,delete"), so
// order does not count as a difference.
func normalizeList(v string) string {
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
