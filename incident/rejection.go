package incident

import "fmt"

// Code is a rejection's stable, machine-readable reason.
type Code string

// The rejection codes. They are part of the API: callers and the notifier
// show them, and they never change meaning.
const (
	CodeInvalidCommand     Code = "invalid_command"        // missing id, incident, tenant or time; unknown kind
	CodeUnknownIncident    Code = "unknown_incident"       // not declared (or another tenant's)
	CodeAlreadyDeclared    Code = "already_declared"       // declare for an incident that exists
	CodeAlreadyResolved    Code = "already_resolved"       // a status change on a resolved incident
	CodeInvalidTransition  Code = "invalid_transition"     // e.g. acknowledge a mitigated incident
	CodeNotResolved        Code = "not_resolved"           // reopen an incident that is not resolved
	CodeInvalidSeverity    Code = "invalid_severity"       // not one of the policy's levels
	CodeInvalidTitle       Code = "invalid_title"          // empty or too long
	CodeInvalidRole        Code = "invalid_role"           // not commander or assignee
	CodeInvalidPerson      Code = "invalid_person"         // too long
	CodeInvalidNote        Code = "invalid_note"           // empty or too long
	CodeInvalidMessage     Code = "invalid_message"        // pin or card reference without channel/ts
	CodeInvalidImpactStart Code = "invalid_impact_start"   // zero, or later than the command
	CodeNoChange           Code = "no_change"              // the command would change nothing
	CodeKeyReused          Code = "idempotency_key_reused" // the command id came before with another request
)

// Rejection says why a command was not applied.
type Rejection struct {
	Code   Code
	Reason string // for people; not stable
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("incident: rejected (%s): %s", r.Code, r.Reason)
}

func reject(code Code, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Reason: fmt.Sprintf(format, args...)}
}
