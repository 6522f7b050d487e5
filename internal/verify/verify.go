// Package verify compares incidentd's views with the events topic, the
// source of truth: it reads the topic read committed, folds it per
// incident with incident.Evolve, and lists every difference between that
// fold and a view (the ClickHouse tables, the notifier's store). It backs
// `incidentd verify` and the tests of the views, which end with it.
package verify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/eventlog"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
)

// Log is the events topic folded per incident.
type Log struct {
	// Incidents maps an incident id to its history.
	Incidents map[string]*History
	// Records is the number of data records read; Undecodable of them
	// could not be decoded (the views dead-letter them).
	Records, Undecodable int
}

// History is one incident's events as the log holds them.
type History struct {
	// Events are the incident's events in version order, each once (a
	// record repeating a version is counted in Repeated, not kept).
	Events []incident.Event
	// State is the fold of Events with incident.Evolve.
	State incident.State
	// Repeated counts records of a version already read.
	Repeated int
	// Gaps are versions the log itself skips.
	Gaps []uint64
}

// Versions returns the versions of h's events, in order.
func (h *History) Versions() []uint64 {
	out := make([]uint64, len(h.Events))
	for i, e := range h.Events {
		out[i] = e.Version
	}
	return out
}

// ReadLog reads the events topic from the start of every partition up to
// its current last stable offset and folds it.
func ReadLog(ctx context.Context, cfg kafka.Config, logger *slog.Logger) (*Log, error) {
	cfg.Defaults()
	topic := cfg.Topics().Events
	cl, err := kafka.NewClient(cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ends, err := eventlog.StableEnds(lctx, cl, topic)
	cancel()
	cl.Close()
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	l := &Log{Incidents: map[string]*History{}}
	err = eventlog.Read(ctx, cfg, logger, topic, ends, func(r *kgo.Record) error {
		l.Records++
		e, err := wire.DecodeEvent(r.Value)
		if err != nil || string(r.Key) != e.Incident {
			l.Undecodable++
			return nil
		}
		l.add(e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: read %s: %w", topic, err)
	}
	return l, nil
}

// Fold folds events (in log order) into a Log, as ReadLog does.
func Fold(events []incident.Event) *Log {
	l := &Log{Incidents: map[string]*History{}}
	for _, e := range events {
		l.Records++
		l.add(e)
	}
	return l
}

func (l *Log) add(e incident.Event) {
	if e.Notice() {
		return // in no incident's history: no view folds it
	}
	h := l.Incidents[e.Incident]
	if h == nil {
		h = &History{}
		l.Incidents[e.Incident] = h
	}
	switch incident.Sequence(h.State.Version, e) {
	case incident.InOrder:
	case incident.Seen:
		h.Repeated++
		return
	case incident.Gap:
		for v := h.State.Version + 1; v < e.Version; v++ {
			h.Gaps = append(h.Gaps, v)
		}
	}
	h.Events = append(h.Events, e)
	h.State = incident.Evolve(h.State, e)
}

// IDs returns the incident ids of the log, sorted.
func (l *Log) IDs() []string {
	ids := make([]string, 0, len(l.Incidents))
	for id := range l.Incidents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Difference is one way a view differs from the log.
type Difference struct {
	Incident string
	What     string
}

func (d Difference) String() string { return d.Incident + ": " + d.What }

// LogProblems lists what is wrong with the log itself: versions it skips.
// Every view inherits them, so they are reported apart.
func (l *Log) LogProblems() []Difference {
	var out []Difference
	for _, id := range l.IDs() {
		if g := l.Incidents[id].Gaps; len(g) > 0 {
			out = append(out, Difference{id, fmt.Sprintf("the log skips versions %s", ranges(g))})
		}
	}
	return out
}

// ranges formats sorted versions as "1-3,7".
func ranges(vs []uint64) string {
	var s string
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if s != "" {
			s += ","
		}
		if i == j {
			s += fmt.Sprint(vs[i])
		} else {
			s += fmt.Sprintf("%d-%d", vs[i], vs[j])
		}
		i = j + 1
	}
	return s
}
