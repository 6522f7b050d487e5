package ingress

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/incidentd/incidentd/incident"
)

// Problem codes of the API's own (the model's rejection codes, such as
// "already_resolved", are passed through as they are). They are stable:
// callers branch on them.
const (
	CodeUnauthorized       = "unauthorized"         // missing or unknown bearer token
	CodeNotFound           = "not_found"            // unknown route or incident (or another tenant's)
	CodeMethodNotAllowed   = "method_not_allowed"   // route exists, method does not
	CodeMalformedBody      = "malformed_body"       // not JSON, or unknown fields
	CodeBodyTooLarge       = "body_too_large"       // over the body size limit
	CodeInvalidField       = "invalid_field"        // a field or query parameter is missing or wrong
	CodeLogUnavailable     = "log_unavailable"      // the command is not in the log and will not be applied
	CodeOutcomeUnknown     = "outcome_unknown"      // sent, not acked in time: the command may still be applied
	CodeRateLimited        = "rate_limited"         // too many requests from one token, workspace or source
	CodeViewsUnavailable   = "views_unavailable"    // ClickHouse is unreachable or not configured
	CodeViewBehind         = "view_behind"          // min_version not reached within the bound
	CodeBadSignature       = "bad_signature"        // Slack signature missing, forged or stale
	CodeSlackNotConfigured = "slack_not_configured" // no signing secret configured
	CodeUnknownWorkspace   = "unknown_workspace"    // a Slack team not in the workspaces file
)

// problemType is the RFC 9457 "type" URI of a code.
func problemType(code string) string { return "urn:incidentd:problem:" + code }

// Problem is an RFC 9457 problem document (application/problem+json) with
// a stable machine-readable code.
type Problem struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail,omitempty"`
	Code       string `json:"code"`
	IncidentID string `json:"incident_id,omitempty"`
	CommandID  string `json:"command_id,omitempty"`
	// RequestID is the request's X-Request-Id: the log lines about it
	// (with what went wrong in detail) carry the same id.
	RequestID string `json:"request_id,omitempty"`
	// IdempotencyKey is the key to retry a write with (the client's, or
	// the one the server generated for a write without one).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// RequestIDHeader carries every answer's request id; logs about the
// request carry it as "request_id".
const RequestIDHeader = "X-Request-Id"

// requestIDs makes request ids: a random prefix for the process and a
// counter, unique without a random read per request.
var requestIDs = struct {
	prefix string
	n      atomic.Uint64
}{prefix: randomPrefix()}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24)
	return hex.EncodeToString(b[:])
}

// withRequestID gives every answer an X-Request-Id, set before the
// handler runs so that its problem documents and log lines can name it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf [32]byte
		id := append(append(buf[:0], requestIDs.prefix...), '-')
		id = strconv.AppendUint(id, requestIDs.n.Add(1), 36)
		w.Header()[RequestIDHeader] = []string{string(id)}
		next.ServeHTTP(w, r)
	})
}

// requestID is the id withRequestID gave the answer being written.
func requestID(w http.ResponseWriter) string { return w.Header().Get(RequestIDHeader) }

// writeProblem answers with a problem document.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	writeProblemDoc(w, Problem{Status: status, Code: code, Detail: detail})
}

func writeProblemDoc(w http.ResponseWriter, p Problem) {
	p.Type = problemType(p.Code)
	p.RequestID = requestID(w)
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeUnavailable answers 503 with Retry-After.
func writeUnavailable(w http.ResponseWriter, retryAfter time.Duration, code, detail string) {
	setRetryAfter(w, retryAfter)
	writeProblem(w, http.StatusServiceUnavailable, code, detail)
}

// setRetryAfter sets Retry-After in whole seconds, at least 1.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
}

// rejectionStatus maps a model rejection to an HTTP status: 404 for an
// unknown incident (another tenant's looks the same), 422 for a command
// whose content is invalid, 409 for one that conflicts with the incident's
// state.
func rejectionStatus(c incident.Code) int {
	switch c {
	case incident.CodeUnknownIncident:
		return http.StatusNotFound
	case incident.CodeInvalidCommand, incident.CodeInvalidSeverity, incident.CodeInvalidTitle,
		incident.CodeInvalidRole, incident.CodeInvalidPerson, incident.CodeInvalidNote,
		incident.CodeInvalidMessage, incident.CodeInvalidImpactStart, incident.CodeKeyReused:
		return http.StatusUnprocessableEntity
	case incident.CodeAlreadyDeclared, incident.CodeAlreadyResolved, incident.CodeInvalidTransition,
		incident.CodeNotResolved, incident.CodeNoChange:
		return http.StatusConflict
	}
	// A code this build does not know (a newer model's, read off the log):
	// the command was refused for the incident's state, as far as it can tell.
	return http.StatusConflict
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
