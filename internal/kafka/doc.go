// Package kafka is the Kafka plumbing incidentd's services share: their
// configuration, the names and definitions of incidentd's topics, creating
// and checking those topics at start-up, and building a franz-go client
// wired into slog and, given a registry, Prometheus (franz-go's kprom).
//
// The topic definitions live in deploy/topics.txt (embedded as
// deploy.Topics), the one place both this package and the compose set-up
// read. Commands, events and changelog are co-partitioned: the same
// partition count, the same key (incident id) and the same partitioner, so
// partition p of each holds the same incidents. EnsureTopics refuses to
// continue when an existing topic breaks that, because producing into a
// topic with a different partition count silently splits an incident's
// history.
package kafka
