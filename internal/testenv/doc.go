// Package testenv starts the real components incidentd's tests run against:
// the franz-go kfake broker served over loopback TCP, and Debian's
// clickhouse-server (18.16) as a child process on loopback ports.
//
// Everything a helper starts is owned by the test that started it and is
// stopped by a t.Cleanup registered at start; helpers report failures with
// t.Fatalf and never skip. Clients always talk to the components over TCP,
// with the same wire protocols production uses.
package testenv
