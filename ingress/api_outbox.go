package ingress

import (
	"net/http"
	"strconv"

	"github.com/incidentd/incidentd/notifier"
)

// Outbox page sizes.
const (
	defaultOutboxLimit = 100
	maxOutboxLimit     = 1000
)

// OutboxJSON is GET /api/v1/outbox.
type OutboxJSON struct {
	Entries []notifier.OutboxEntry `json:"entries"`
}

// apiOutbox is GET /api/v1/outbox: the notifier's local outbox (what it
// would have posted to Slack when Slack is not configured), newest first,
// only entries of the caller's tenant's incidents (as the results tracker
// knows them) and ingress's replies to its people outside an incident.
// 404 when there is no outbox.
func (s *Server) apiOutbox(w http.ResponseWriter, r *http.Request, p principal) {
	if s.cfg.OutboxPath == "" {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no outbox: the notifier posts to Slack")
		return
	}
	limit := defaultOutboxLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOutboxLimit {
			writeProblem(w, http.StatusBadRequest, CodeInvalidField, "limit: want 1 to "+strconv.Itoa(maxOutboxLimit))
			return
		}
		limit = n
	}
	// Read more than asked: entries of other tenants are dropped.
	all, err := notifier.ReadOutbox(s.cfg.OutboxPath, min(limit*4, 10_000))
	if err != nil {
		s.log.Warn("read outbox", "err", err)
		writeUnavailable(w, s.cfg.RetryAfter, CodeViewsUnavailable, "the outbox cannot be read")
		return
	}
	out := OutboxJSON{Entries: []notifier.OutboxEntry{}}
	for _, e := range all {
		if len(out.Entries) == limit {
			break
		}
		if e.IncidentID == "" && e.Tenant == p.Tenant && e.Tenant != "" {
			out.Entries = append(out.Entries, e) // ingress's reply outside an incident
		} else if t, ok := s.tracker.incident(e.IncidentID); ok && t.State.Tenant == p.Tenant {
			out.Entries = append(out.Entries, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// apiPolicy is GET /api/v1/policy: the rules' configurable part, so the
// dashboard offers the severity levels this deployment has.
func (s *Server) apiPolicy(w http.ResponseWriter, _ *http.Request, _ principal) {
	writeJSON(w, http.StatusOK, map[string]any{"severities": s.cfg.Policy.Severities})
}
