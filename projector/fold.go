package projector

import (
	"context"
	"fmt"

	"github.com/incidentd/incidentd/incident"
)

// folder keeps the incident states the projector folds events onto: a
// bounded cache in front of the incidents table. It is used by one
// goroutine.
//
// The cache also holds undeclared states (an id that has only seen
// rejections), which are never stored, so their version is known while
// they stay cached. A state that is not cached and has no stored row is
// "unknown": its earlier events can only have been rejections (any other
// event needs a declared incident, whose row is stored before its offset is
// committed), so a Declared or Rejected event is folded onto it whatever its
// version.
type folder struct {
	sink  Sink
	cache map[string]incident.State
	size  int
	// fresh: the tables were empty when this folder started and nothing
	// has been evicted since, so a miss means "nothing stored" without
	// asking (rebuild).
	fresh bool
	// gaps are the incidents with a reported gap (at the version they are
	// stuck at), so later batches report without re-reading again.
	gaps map[string]uint64
}

func newFolder(sink Sink, size int, fresh bool) *folder {
	return &folder{sink: sink, cache: map[string]incident.State{}, size: size, fresh: fresh, gaps: map[string]uint64{}}
}

// reset forgets every cached state (on a rebalance: another projector may
// have written the partitions in between).
func (f *folder) reset() {
	f.cache = map[string]incident.State{}
	f.fresh = false
	f.gaps = map[string]uint64{}
}

// recheck forgets the cached states of the incidents with a gap not yet
// reported at the version held, so the next fold reads them from the
// tables again, and returns them. A fresh folder (rebuild) has nothing to
// read back.
func (f *folder) recheck(o folded) []string {
	if f.fresh {
		return nil
	}
	var ids []string
	for i, e := range o.gapEvents {
		if containsID(ids, e.Incident) {
			continue
		}
		if v, ok := f.gaps[e.Incident]; ok && v == o.gapHave[i] {
			continue
		}
		delete(f.cache, e.Incident)
		ids = append(ids, e.Incident)
	}
	return ids
}

// confirmGaps records the incidents whose gaps are reported.
func (f *folder) confirmGaps(o folded) {
	for i, e := range o.gapEvents {
		f.gaps[e.Incident] = o.gapHave[i]
	}
}

func containsID(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// folded is the outcome of folding one batch: the new states (to store
// and, once stored, to cache) in first-touched order.
type folded struct {
	states     map[string]*incident.State // pointers: a State is large, and each event updates one in place
	order      []string                   // incidents whose stored state changed, first touched first
	gaps, dups int
	gapEvents  []incident.Event
	gapHave    []uint64 // the version held when gapEvents[i] came
	gapIdx     []int    // the index of gapEvents[i] in the folded events
}

// fold folds events (in log order) onto the known states. It reads the
// states of uncached incidents from the sink; the cache is not changed
// until commit.
func (f *folder) fold(ctx context.Context, events []incident.Event) (folded, error) {
	out := folded{states: map[string]*incident.State{}}
	unknown := map[string]bool{}
	if !f.fresh {
		var miss []string
		seen := map[string]bool{}
		for _, e := range events {
			if _, ok := f.cache[e.Incident]; !ok && !seen[e.Incident] {
				seen[e.Incident] = true
				miss = append(miss, e.Incident)
			}
		}
		if len(miss) > 0 {
			loaded, err := f.sink.Latest(ctx, miss)
			if err != nil {
				return folded{}, err
			}
			for _, id := range miss {
				if s, ok := loaded[id]; ok {
					out.states[id] = &s
				} else {
					unknown[id] = true
				}
			}
		}
	}
	changed := map[string]bool{}
	for i, e := range events {
		s, ok := out.states[e.Incident]
		if !ok {
			cached := f.cache[e.Incident]
			s = &cached
		}
		switch incident.Sequence(s.Version, e) {
		case incident.InOrder:
		case incident.Seen:
			out.dups++
			continue
		case incident.Gap:
			if !(unknown[e.Incident] && !s.Declared && (e.Kind == incident.Declared || e.Kind == incident.Rejected)) {
				out.gaps++
				out.gapEvents = append(out.gapEvents, e)
				out.gapHave = append(out.gapHave, s.Version)
				out.gapIdx = append(out.gapIdx, i)
				continue
			}
		}
		delete(unknown, e.Incident)
		*s = incident.Evolve(*s, e)
		if !ok {
			out.states[e.Incident] = s
		}
		if s.Declared && !changed[e.Incident] {
			changed[e.Incident] = true
			out.order = append(out.order, e.Incident)
		}
	}
	return out, nil
}

// stored returns the states of a fold that go to the incidents table.
func (o folded) stored() []incident.State {
	out := make([]incident.State, 0, len(o.order))
	for _, id := range o.order {
		out = append(out, *o.states[id])
	}
	return out
}

// commit caches the states of a fold whose rows are stored, except those
// of the incidents in skip (their rows were refused: the next event reads
// the stored state again).
func (f *folder) commit(o folded, skip map[string]bool) {
	for id, s := range o.states {
		if skip[id] {
			delete(f.cache, id)
			continue
		}
		f.cache[id] = *s
	}
	for _, id := range o.order {
		delete(f.gaps, id) // folded on: any gap is behind it
	}
	if len(f.cache) > f.size {
		// Evict arbitrary entries down to 90%: map order is random enough,
		// and a miss costs one query per batch, not per event.
		target := f.size * 9 / 10
		for id := range f.cache {
			if len(f.cache) <= target {
				break
			}
			delete(f.cache, id)
		}
		f.fresh = false
	}
}

func (o folded) String() string {
	return fmt.Sprintf("%d states, %d duplicates, %d gaps", len(o.order), o.dups, o.gaps)
}
