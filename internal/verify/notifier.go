package verify

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/incidentd/incidentd/incident"
)

// Notifier compares the states a notifier's store holds (by incident, see
// notifier.StoredStates) with the log: every incident of the log folded to
// the same state, and none the log does not hold. It returns the
// differences, sorted by incident. Read the store before the log (see
// ClickHouse for why).
func Notifier(stored map[string]incident.State, l *Log) []Difference {
	ids := l.IDs()
	for id := range stored {
		if l.Incidents[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []Difference
	for _, id := range ids {
		h := l.Incidents[id]
		got, ok := stored[id]
		switch {
		case h == nil:
			out = append(out, Difference{id, fmt.Sprintf("in the notifier's store at version %d, not in the log", got.Version)})
		case !ok:
			out = append(out, Difference{id, fmt.Sprintf("not in the notifier's store; the log folds to version %d", h.State.Version)})
		default:
			if !reflect.DeepEqual(got, h.State) {
				out = append(out, Difference{id, "the notifier's state differs from the fold of the log: " + stateDiff(got, h.State)})
			}
		}
	}
	return out
}
