package ingress

import (
	"encoding/json"
	"net/http"
	"strconv"
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
	CodeLogUnavailable     = "log_unavailable"      // the broker did not ack in time
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
}

// writeProblem answers with a problem document.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	writeProblemDoc(w, Problem{Status: status, Code: code, Detail: detail})
}

func writeProblemDoc(w http.ResponseWriter, p Problem) {
	p.Type = problemType(p.Code)
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
	secs := int(retryAfter.Round(time.Second) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeProblem(w, http.StatusServiceUnavailable, code, detail)
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
	default:
		return http.StatusConflict
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
