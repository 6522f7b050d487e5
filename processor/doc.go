// Package processor applies commands to incidents: it is the one writer of
// incident state, between the commands topic (ingress) and the events topic
// (projector, notifier).
//
//	commands ──▶ processor ──▶ events       (the history)
//	                 │    └──▶ changelog    (compacted state, for restore)
//	                 │    └──▶ dead letters (records it cannot decode)
//	                 └──▶ Pebble            (local state, a cache of the log)
//
// # Ownership
//
// Instances share one consumer group on the commands topic; the group
// protocol decides which instance owns which partition (no leader election
// of our own). Membership is static (the instance id is kept in the data
// directory), so a restarted instance gets its partitions back without a
// rebalance, and its transactional id fences its previous incarnation.
// Commands, events and changelog are co-partitioned: the events and the
// state of a command on partition p are produced to partition p.
//
// # The atomic step
//
// One loop polls up to Config.MaxBatch commands (whatever is fetched; it
// never waits for more, so a lone command is applied at once) and applies
// them one at a time, in log order, against a staging overlay over Pebble
// (incident.Decide, then incident.Evolve). Its events, one changelog record
// per changed incident, any dead letters and the consumed offsets are
// committed in one Kafka transaction (franz-go's GroupTransactSession; a
// zombie's commit fails on the group generation, KIP-447). Only once the
// transaction commits are the staged states written to Pebble, in one
// batch together with each partition's changelog offset. An aborted step
// leaves Pebble untouched and the session rewinds to the committed
// offsets. A crash between the commit and the Pebble write is repaired by
// the restore below.
//
// # Restore
//
// A newly assigned partition is restored before any of its commands is
// applied: its changelog is read (read committed) from the Pebble
// checkpoint + 1 up to the last stable offset. A checkpoint at or past the
// stable offset but below the log's end means a transaction is not yet
// complete (Apache Kafka acknowledges a commit before it writes the
// markers): the restore waits for it rather than replay older states.
// Nothing local is wiped, on a restart or on a revoke; a revoked partition
// stops at once (its open transaction aborts) and its files stay for a
// quick return. Ready reports whether every owned partition is restored.
//
// # Delivery guarantee
//
// Exactly-once effect per command: a command's events, state change and
// consumed offset are committed together or not at all, and a command id
// seen before is not applied again; its original events, which carry the
// command id, are already in the events topic. Rejections are events too.
//
// # The dedup window
//
// Every command's outcome is remembered by tenant and command id for
// Config.DedupWindow (24 h) after the command's time, however many
// commands its incident saw since (dedup.go). Decide gets it when the id
// comes again: the same request is a duplicate, another request under the
// id (another fingerprint) is refused with a notice. The window is part of
// the partition's state: a Pebble index staged and written with the
// states, carried by the changelog as one record per step and partition
// (tombstoned when it expires, measured on command times), restored with
// the partition and recreated by Rebuild from the events. A record that cannot be decoded, or
// whose key is not its incident id, goes to the dead-letter topic with the
// reason and its origin in headers, in the same transaction; it never
// blocks the partition.
//
// # Rebuild
//
// Rebuild replays the events topic into a fresh store (Dir/rebuild, kept
// for inspection) and compares it with the live one, incident by incident
// and remembered outcome by outcome, byte for byte. Partitions the instance no longer owns are legitimately
// behind the log; a state that differs at the same version, is newer than
// the log or is not in it at all is a mismatch.
//
// # Operating it
//
// Ready (served as /readyz by the command line) is false until the group
// is joined and every owned partition is restored. A restore blocks the
// whole loop, not just the restored partition: it is short (a checkpoint
// makes it incremental; 100,000 incidents from scratch take well under a
// second on kfake), and it follows a rebalance, which pauses processing
// anyway. Static membership means a stopped instance keeps its partitions
// for the session timeout (Config.SessionTimeout), so a restart within it
// needs no rebalance; an instance removed for good hands them over after
// that timeout. Two processes must never share an instance id: the second
// fences the first's producer.
//
// Stopping (Run's context cancelled) is bounded: the step in progress
// ends its transaction (at most 30 s), then the session closes within
// 5 s. A group join or sync the broker still holds then (it may hold one
// for the rebalance timeout, a minute, waiting for a member that is gone)
// is abandoned to the client's background close, and the group sees the
// instance go at its session timeout, as after a crash.
//
// Metrics are named incidentd_processor_<what>_<unit>: commands,
// duplicates, rejections by code, outcomes expired, events, dead letters, batch size,
// transaction and Pebble write durations, lag per partition, restore
// duration, records and remaining offsets, owned partitions and readiness.
package processor
