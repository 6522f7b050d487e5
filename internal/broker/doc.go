// Package broker is the embedded Kafka-protocol broker behind
// "incidentd broker" and "incidentd run": the franz-go project's kfake
// served on one TCP address, with its state persisted in a data directory so
// topics, records, committed offsets and transactions survive a restart.
//
// It is meant for local development and single-node use, not as a
// replacement for Redpanda or Apache Kafka in production. It creates no
// topics itself; the services create theirs with kafka.EnsureTopics.
// Records are written to the OS page cache and synced on segment roll and
// shutdown, like Kafka's defaults: a killed process loses nothing, a machine
// crash may lose the latest writes.
package broker
