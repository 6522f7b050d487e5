package notifier

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/incidentd/incidentd/incident"
)

// StoredStates returns the incident states folded into the store of a
// notifier whose Config.Dir is dir, by incident id: what `incidentd verify
// notifier` compares with the log. The notifier must not be running on
// dir: it holds the store's lock while it runs.
func StoredStates(dir string) (map[string]incident.State, error) {
	path := filepath.Join(dir, "store")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("notifier: no store in %s: %w", dir, err)
	}
	st, err := openStore(path, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer st.close()
	out := map[string]incident.State{}
	err = st.scan(prefixRecord, func(k, v []byte) error {
		if isNotice(string(k[len(prefixRecord):])) {
			return nil // a reply waiting to be sent, in no incident
		}
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("notifier: decode record %s: %w", k, err)
		}
		out[string(k[len(prefixRecord):])] = r.State
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
