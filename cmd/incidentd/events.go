package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
)

// setupEvents is "incidentd events": it prints the records of the commands
// or events topic as JSON lines, decoded by package wire, so people and
// scripts read the log without protoc.
func setupEvents(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	topic := fs.String("events.topic", "events", "topic \"incidentd events\" prints: events or commands")
	from := fs.Int64("events.from-offset", 0, "offset each partition is printed from (records before the log's start are gone)")
	since := fs.String("events.since", "", "print records from this time on: RFC 3339 (2026-01-02T15:04:05Z) or a duration back from now (90m); instead of -events.from-offset")
	id := fs.String("events.incident", "", "print only this incident's records (its id, the records' key)")
	follow := fs.Bool("events.follow", false, "keep printing records as they are committed, until interrupted (without it: stop at the end of the log as it was at start)")
	return func(ctx context.Context, e *env) error {
		if len(e.Args) > 0 {
			return fmt.Errorf("events: no arguments expected, got %q (its options are flags: incidentd events -h)", e.Args)
		}
		q := logQuery{incident: *id, follow: *follow, from: *from}
		switch *topic {
		case "events":
			q.topic = e.Kafka.Topics().Events
		case "commands":
			q.topic, q.commands = e.Kafka.Topics().Commands, true
		default:
			return fmt.Errorf("events: -events.topic %q: want events or commands", *topic)
		}
		if *from < 0 {
			return fmt.Errorf("events: -events.from-offset %d: want 0 or more", *from)
		}
		if *since != "" {
			fromSet := false
			fs.Visit(func(f *flag.Flag) { fromSet = fromSet || f.Name == "events.from-offset" })
			if fromSet {
				return errors.New("events: -events.since and -events.from-offset both given: choose one")
			}
			t, err := parseSince(*since, time.Now())
			if err != nil {
				return err
			}
			q.since = t
		}
		return printLog(ctx, e, q)
	}
}

// parseSince reads -events.since: an RFC 3339 time, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("events: -events.since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (90m)", s)
}

// logQuery is what "incidentd events" prints.
type logQuery struct {
	topic    string
	commands bool      // the commands topic (else events)
	from     int64     // first offset of each partition
	since    time.Time // when set, the first record at or after it instead of from
	incident string    // when set, only records with this key
	follow   bool      // keep reading past the end
}

// logLine is one printed record. Command or Event holds the record decoded
// and rendered by package wire; Error says why a record could not be
// decoded (it is printed rather than skipped, so a gap is visible).
type logLine struct {
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Time      time.Time       `json:"time"`
	Key       string          `json:"key"`
	Command   json.RawMessage `json:"command,omitempty"`
	Event     json.RawMessage `json:"event,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// printLog prints q's records to stdout, one JSON line each, in offset order
// within a partition (partitions interleave; one incident's records all
// sit in one partition, so they come in order). It reads committed records
// only, as every consumer of incidentd does: an aborted or open
// transaction's records are never printed. Without q.follow it stops once
// every partition is read up to its last stable offset as listed at start.
func printLog(ctx context.Context, e *env, q logQuery) error {
	cl, err := kafka.NewClient(e.Kafka, e.Logger,
		kgo.ClientID("incidentd-events"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) still advance the
		// position, so the end of a partition ending in a marker is seen.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer cl.Close()
	starts, ends, err := logRange(ctx, kadm.NewClient(cl), q)
	if err != nil {
		return err
	}
	consume := map[int32]kgo.Offset{}
	for p, start := range starts {
		if q.follow || start < ends[p] {
			consume[p] = kgo.NewOffset().At(start)
		}
	}
	if len(consume) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{q.topic: consume})

	w := bufio.NewWriter(e.Stdout)
	for len(consume) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return w.Flush()
		}
		fetches.EachError(func(t string, p int32, err error) {
			e.Logger.Warn("events: fetch", "topic", t, "partition", p, "err", err)
		})
		var werr error
		fetches.EachRecord(func(rec *kgo.Record) {
			if _, reading := consume[rec.Partition]; !reading || werr != nil {
				return
			}
			if !q.follow {
				end := ends[rec.Partition]
				if rec.Offset >= end-1 {
					delete(consume, rec.Partition)
				}
				if rec.Offset >= end {
					return
				}
			}
			if rec.Attrs.IsControl() || (q.incident != "" && string(rec.Key) != q.incident) {
				return
			}
			werr = writeLogLine(w, q, rec)
		})
		if werr != nil {
			return fmt.Errorf("events: write: %w", werr)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("events: write: %w", err)
		}
	}
	return nil
}

// logRange lists where each partition of q.topic is read from and its last
// stable offset (the end of what read-committed readers see).
func logRange(ctx context.Context, adm *kadm.Client, q logQuery) (starts, ends map[int32]int64, err error) {
	ends, err = offsets(adm.ListCommittedOffsets(ctx, q.topic))
	if err != nil {
		return nil, nil, fmt.Errorf("events: list the end offsets of %s: %w", q.topic, err)
	}
	if !q.since.IsZero() {
		starts, err = offsets(adm.ListOffsetsAfterMilli(ctx, q.since.UnixMilli(), q.topic))
		if err != nil {
			return nil, nil, fmt.Errorf("events: list the offsets of %s after %s: %w", q.topic, q.since.Format(time.RFC3339), err)
		}
		for p, o := range starts {
			if o < 0 {
				starts[p] = ends[p] // no record at or after the time
			}
		}
		return starts, ends, nil
	}
	logStarts, err := offsets(adm.ListStartOffsets(ctx, q.topic))
	if err != nil {
		return nil, nil, fmt.Errorf("events: list the start offsets of %s: %w", q.topic, err)
	}
	starts = map[int32]int64{}
	for p, ls := range logStarts {
		starts[p] = max(q.from, ls)
	}
	return starts, ends, nil
}

// offsets turns a listing of one topic into offsets by partition; a topic
// that does not exist is an error.
func offsets(l kadm.ListedOffsets, err error) (map[int32]int64, error) {
	if err == nil {
		err = l.Error()
	}
	if err != nil {
		return nil, err
	}
	m := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
	if len(m) == 0 {
		return nil, errors.New("no such topic (incidentd topics creates it)")
	}
	return m, nil
}

// writeLogLine decodes rec through package wire and writes its line.
func writeLogLine(w io.Writer, q logQuery, rec *kgo.Record) error {
	line := logLine{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Time: rec.Timestamp.UTC(), Key: string(rec.Key)}
	var err error
	if q.commands {
		var c incident.Command
		if c, err = wire.DecodeCommand(rec.Value); err == nil {
			line.Command, err = wire.CommandJSON(c)
		}
	} else {
		var ev incident.Event
		if ev, err = wire.DecodeEvent(rec.Value); err == nil {
			line.Event, err = wire.EventJSON(ev)
		}
	}
	if err != nil {
		line.Command, line.Event, line.Error = nil, nil, err.Error()
	}
	// The encoder leaves <, > and & as they are (the line is for a
	// terminal or a script) and ends the line.
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(line)
}
