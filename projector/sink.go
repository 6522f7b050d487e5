package projector

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/readmodel"
)

// Sink is where the projector writes rows and reads back the states it
// folds onto. ClickHouseSink is the real one; tests wrap it to make
// ClickHouse refuse chosen rows.
type Sink interface {
	// Insert writes event rows and state rows. It either fails or has
	// written them all; writing the same rows again is harmless.
	Insert(ctx context.Context, events []incident.Event, states []incident.State) error
	// Latest returns the latest stored state of each of the incidents that
	// has one (declared incidents only).
	Latest(ctx context.Context, incidents []string) (map[string]incident.State, error)
}

// ClickHouseSink writes to one table set of a ClickHouse database.
type ClickHouseSink struct {
	conn driver.Conn

	mu     sync.Mutex
	tables readmodel.Tables
}

// NewClickHouseSink returns a sink writing the live tables of database.
func NewClickHouseSink(conn driver.Conn, database string) *ClickHouseSink {
	return &ClickHouseSink{conn: conn, tables: readmodel.LiveTables(database)}
}

func (s *ClickHouseSink) current() readmodel.Tables {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tables
}

func (s *ClickHouseSink) setTables(t readmodel.Tables) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables = t
}

// Insert implements Sink: the events table first, then the incidents table,
// so a state row is never visible before the events it folds.
func (s *ClickHouseSink) Insert(ctx context.Context, events []incident.Event, states []incident.State) error {
	t := s.current()
	if err := s.insertEvents(ctx, t, events); err != nil {
		return err
	}
	return s.insertStates(ctx, t, states)
}

func (s *ClickHouseSink) insertEvents(ctx context.Context, t readmodel.Tables, events []incident.Event) error {
	if len(events) == 0 {
		return nil
	}
	blk := readmodel.NewEventBlock(len(events))
	for _, e := range events {
		blk.Add(e)
	}
	b, err := s.conn.PrepareBatch(ctx, SQLInsertEvents(t))
	if err != nil {
		return fmt.Errorf("insert %s: %w", t.EventsName(), err)
	}
	if err := readmodel.AppendColumns(b, blk.Columns()); err != nil {
		return fmt.Errorf("insert %s: %w", t.EventsName(), err)
	}
	return nil
}

func (s *ClickHouseSink) insertStates(ctx context.Context, t readmodel.Tables, states []incident.State) error {
	if len(states) == 0 {
		return nil
	}
	blk := readmodel.NewStateBlock(len(states))
	for _, st := range states {
		blk.Add(st)
	}
	b, err := s.conn.PrepareBatch(ctx, SQLInsertIncidents(t))
	if err != nil {
		return fmt.Errorf("insert %s: %w", t.IncidentsName(), err)
	}
	if err := readmodel.AppendColumns(b, blk.Columns()); err != nil {
		return fmt.Errorf("insert %s: %w", t.IncidentsName(), err)
	}
	return nil
}

// insertParallel writes events and states over several connections at
// once, for a rebuild, whose tables nobody reads until the swap: the order
// between the two tables does not matter there. Events are split in parts
// so the server inserts them on several threads.
func (s *ClickHouseSink) insertParallel(ctx context.Context, events []incident.Event, states []incident.State, parts int) error {
	t := s.current()
	var wg sync.WaitGroup
	errs := make([]error, parts+1)
	step := (len(events) + parts - 1) / max(parts, 1)
	for i := 0; i < parts; i++ {
		lo, hi := min(i*step, len(events)), min((i+1)*step, len(events))
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.insertEvents(ctx, t, events[lo:hi]) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); errs[parts] = s.insertStates(ctx, t, states) }()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// latestChunk bounds the incident ids of one Latest query.
const latestChunk = 5000

// Latest implements Sink.
func (s *ClickHouseSink) Latest(ctx context.Context, ids []string) (map[string]incident.State, error) {
	t := s.current()
	out := make(map[string]incident.State, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), latestChunk)
		set := make([]any, n)
		for i, id := range ids[:n] {
			set[i] = id
		}
		ids = ids[n:]
		rows, err := s.conn.Query(ctx, SQLLatestStates(t), clickhouse.GroupSet{Value: set})
		if err != nil {
			return nil, fmt.Errorf("load states: %w", err)
		}
		for rows.Next() {
			var r readmodel.StateRow
			if err := rows.Scan(r.Dest()...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load states: %w", err)
			}
			st := r.State()
			out[st.Incident] = st
		}
		err = errors.Join(rows.Err(), rows.Close())
		if err != nil {
			return nil, fmt.Errorf("load states: %w", err)
		}
	}
	return out, nil
}

// Refused reports whether err is ClickHouse refusing the data itself (an
// exception the server raised about the statement or its rows), as opposed
// to the server being unreachable, slow or overloaded, which are worth
// retrying.
func Refused(err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case 60, 81, // unknown table or database: a swap or migration in progress
		159, 209, 210, // timeouts, network
		202, 203, // too many queries, no free connection
		241, 242, 252, // memory limit, read-only table, too many parts
		236, 394, // aborted, query was cancelled
		999, 1000, 1001: // keeper, POCO and std exceptions
		return false
	}
	return true
}
