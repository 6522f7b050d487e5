// Package projector turns the events topic into the rows of the
// dashboard's read model (package readmodel: the tables, their schema and
// the queries asked of them). It is the ingest pipeline only; ingress reads
// through readmodel without importing it.
//
//	events topic (read committed) ──▶ Projector ──▶ ClickHouse: events, incidents (readmodel)
//	                                      │
//	                                      └──▶ dead-letter topic (undecodable or refused records)
//
// At start the projector creates the read model's tables (Migrate:
// readmodel.Migrate, plus its own position table). Its own statements
// (inserts, its position, reading states back, the rebuild's swap) are in
// sql.go; the tables' are in readmodel/sql.go.
//
// # Delivery guarantee
//
// At least once, made harmless: the projector records a batch's offsets
// only after its rows are stored (and its dead letters produced), so a
// crash re-delivers. They are recorded twice: first in the tables' own
// database (projector_offsets: per group and partition, the next offset
// to project), then as the group's committed offsets. On every assignment
// a partition starts from the tables' position whenever the group's
// offset is further on or absent, so tables that lost rows the group had
// committed (a dropped or new database, a new server, an older backup)
// are projected again from where they are, instead of resuming past
// events they never got (tables from before the position was recorded
// keep the group's offsets). A re-delivered or replayed event is either
// already folded (its version is not newer: skipped for the state, and its
// event row deduplicates) or the next one. The state it folds onto comes from a
// bounded in-memory cache, read back from the incidents table on a miss
// (after a restart or a rebalance). A version gap (an event newer than the
// next one: rows that never reached the tables) heals from the log: the
// projector reads the incident's missing versions from its partition of
// the events topic (read committed, from the partition's start up to the
// event; internal/eventlog) and folds and stores them before the batch
// (incidentd_projector_gaps_healed_total, a log line). A gap the log itself
// has is counted (incidentd_projector_version_gaps_total), logged and not
// folded over: the state stays behind rather than lie. `incidentd verify
// clickhouse` compares the tables with the fold of the whole topic.
//
// Batches are bounded by rows (MaxBatchRows) and time (FlushInterval, 1 s
// by default): under load about one insert per second per table, and a lone
// event is visible within FlushInterval plus one insert.
//
// ClickHouse down or slow: the batch is retried with exponential backoff,
// nothing new is polled meanwhile, offsets stay where they are, the lag
// keeps being reported (incidentd_projector_lag_records) and Config.Status
// says ClickHouse is not reachable. Rows ClickHouse refuses (an exception
// about the data, not the connection) are retried one incident at a time;
// the events of an incident whose rows are still refused go to the
// dead-letter topic with the reason. If every incident of a batch is
// refused the fault is taken to be the table's, not the rows': the batch
// is retried whole with backoff instead of dead-lettering the stream.
// Undecodable records go to the dead-letter topic too.
//
// # Rebuild
//
// Rebuild replays the events topic from its start into events_rebuild and
// incidents_rebuild while the live tables keep serving, swaps them in with
// one RENAME TABLE once it has caught up with the end of the topic, replays
// what arrived meanwhile into the new live tables, and drops the old ones.
// On 18.16 a RENAME waits until the running merges of its tables end, a
// few hundred milliseconds for freshly filled ones, so the swap stops the
// four tables' merges around the rename and starts them again, whatever
// happens (a killed rebuild leaves them stopped until the server restarts
// or the next rebuild runs). Inserts go in blocks of 16,384 rows, one
// INSERT per batch.
//
// # Limits worth knowing
//
//   - Right after a rebuild swaps the tables, a live projector that has to
//     read a state back (after a rebalance) may find the rebuilt row a batch
//     behind until the rebuild's catch-up is stored. A gap against a state
//     read back is therefore re-read a few times (about a second) before it
//     is healed from the log.
//   - Healing a gap reads the gap's partitions from their start: its cost
//     grows with the topic (about a second per 100,000 events here), paid
//     once per batch that has gaps, which only a fault causes. Rows missing
//     for an incident that gets no later event are not noticed by the live
//     path (nothing shows the gap); verify finds them, and a rebuild
//     restores them.
//   - Rebuild keeps the states it folds in memory (up to about four million
//     incidents; beyond that it reads them back, more slowly). Rows
//     ClickHouse refuses during a rebuild fail the rebuild (the live tables
//     keep serving) rather than leave the fresh tables short.
//
// # ClickHouse versions
//
// The tables' and the queries' notes are in readmodel's package
// documentation. Where a current server would allow the projector better:
//
//   - The swap is RENAME TABLE of two pairs, one after the other on 18.16's
//     Ordinary database engine; a current server's Atomic engine offers
//     EXCHANGE TABLES, which swaps each pair atomically.
//   - Loading an uncached state scans the incidents table for the ids (the
//     tenant of a rejection is not necessarily the incident's); a current
//     server could use a bloom_filter skipping index on incident.
package projector
