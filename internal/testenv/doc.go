// Package testenv starts the real components incidentd's tests run against:
// the franz-go kfake broker served over loopback TCP, and Debian's
// clickhouse-server (18.16) as a child process on loopback ports.
//
// Everything a helper starts is owned by the test that started it and is
// stopped by a t.Cleanup registered at start; helpers report failures with
// t.Fatalf and never skip. Clients always talk to the components over TCP,
// with the same wire protocols production uses.
//
// It is also the one test kit every package's rig builds on: topics
// (CreateTopics), records (CommandRecord, EventRecord, Produce), reads
// (ReadTopic, ReadTopicN: read committed, to the stable end), waiting
// (Eventually: poll with a deadline), running a service until the test
// ends (Go), a stand-in processor (StartStandInProcessor) for tests
// that need events from commands but not the processor itself, and one
// generator of commands (Workload) for the suites that send many.
package testenv
