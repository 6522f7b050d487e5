package ingress

import (
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/readmodel"
)

// The dashboard API's JSON shapes. The domain types carry no tags; these
// are the API's own and documented in openapi.json.

// WriteResult answers a write: 202 once the command is in the log, 200
// with the applied state when the caller waited for it.
type WriteResult struct {
	IncidentID  string        `json:"incident_id"`
	CommandID   string        `json:"command_id"`
	Status      string        `json:"status"` // "accepted" or "applied"
	FromVersion uint64        `json:"from_version,omitempty"`
	Version     uint64        `json:"version,omitempty"` // the incident's version after the command
	Incident    *IncidentJSON `json:"incident,omitempty"`
	Note        string        `json:"note,omitempty"`
}

// SourceJSON is where an incident was declared.
type SourceJSON struct {
	Kind     string `json:"kind"`
	Team     string `json:"team,omitempty"`
	Channel  string `json:"channel,omitempty"`
	ThreadTS string `json:"thread_ts,omitempty"`
}

// MessageJSON is a Slack message reference.
type MessageJSON struct {
	Channel string    `json:"channel,omitempty"`
	TS      string    `json:"ts,omitempty"`
	Author  string    `json:"author,omitempty"`
	Text    string    `json:"text,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// IncidentJSON is one incident's state.
type IncidentJSON struct {
	ID              string       `json:"id"`
	Version         uint64       `json:"version"`
	Title           string       `json:"title"`
	Severity        string       `json:"severity"`
	Status          string       `json:"status"`
	Reporter        string       `json:"reporter,omitempty"`
	Commander       string       `json:"commander,omitempty"`
	Assignee        string       `json:"assignee,omitempty"`
	Source          SourceJSON   `json:"source"`
	Card            *MessageJSON `json:"card,omitempty"`
	DeclaredAt      time.Time    `json:"declared_at,omitzero"`
	ImpactStartedAt time.Time    `json:"impact_started_at,omitzero"`
	AcknowledgedAt  time.Time    `json:"acknowledged_at,omitzero"`
	MitigatedAt     time.Time    `json:"mitigated_at,omitzero"`
	ResolvedAt      time.Time    `json:"resolved_at,omitzero"`
	UpdatedAt       time.Time    `json:"updated_at,omitzero"`
	Notes           int          `json:"notes"`
	Pins            int          `json:"pins"`
}

// EventJSON is one timeline entry.
type EventJSON struct {
	Version       uint64         `json:"version"`
	Kind          string         `json:"kind"`
	At            time.Time      `json:"at"`
	Actor         string         `json:"actor,omitempty"`
	CommandID     string         `json:"command_id"`
	Status        string         `json:"status,omitempty"`
	Title         string         `json:"title,omitempty"`
	Severity      string         `json:"severity,omitempty"`
	Role          string         `json:"role,omitempty"`
	Person        string         `json:"person,omitempty"`
	Note          string         `json:"note,omitempty"`
	Message       *MessageJSON   `json:"message,omitempty"`
	ImpactStarted time.Time      `json:"impact_started,omitzero"`
	CommandKind   string         `json:"command_kind,omitempty"`
	Rejection     *RejectionJSON `json:"rejection,omitempty"`
}

// RejectionJSON says why a command was not applied.
type RejectionJSON struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// TimelineJSON is GET /api/v1/incidents/{id}.
type TimelineJSON struct {
	Incident IncidentJSON `json:"incident"`
	Events   []EventJSON  `json:"events"`
}

// ListJSON is GET /api/v1/incidents.
type ListJSON struct {
	Incidents  []IncidentJSON `json:"incidents"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// AnalyticsJSON is GET /api/v1/analytics.
type AnalyticsJSON struct {
	From              time.Time           `json:"from"`
	To                time.Time           `json:"to"`
	BucketSeconds     float64             `json:"bucket_seconds"`
	BySeverity        []SeverityStatsJSON `json:"by_severity"`
	Overall           SeverityStatsJSON   `json:"overall"`
	Buckets           []BucketJSON        `json:"buckets"`
	OpenNow           int                 `json:"open_now"`
	OpenNowBySeverity map[string]int      `json:"open_now_by_severity"`
}

// SeverityStatsJSON are one severity's figures.
type SeverityStatsJSON struct {
	Severity     string  `json:"severity,omitempty"`
	Declared     int     `json:"declared"`
	Acknowledged int     `json:"acknowledged"`
	Resolved     int     `json:"resolved"`
	MTTASeconds  float64 `json:"mtta_seconds"`
	MTTRSeconds  float64 `json:"mttr_seconds"`
}

// BucketJSON is one analytics interval.
type BucketJSON struct {
	Start       time.Time      `json:"start"`
	Declared    map[string]int `json:"declared"`
	Resolved    int            `json:"resolved"`
	MTTASeconds float64        `json:"mtta_seconds"`
	MTTRSeconds float64        `json:"mttr_seconds"`
}

func messageJSON(m incident.SlackMessage) *MessageJSON {
	if m == (incident.SlackMessage{}) {
		return nil
	}
	return &MessageJSON{Channel: m.Channel, TS: m.TS, Author: m.Author, Text: m.Text, At: m.At}
}

func incidentJSON(s incident.State) IncidentJSON {
	return IncidentJSON{
		ID: s.Incident, Version: s.Version, Title: s.Title, Severity: s.Severity, Status: string(s.Status),
		Reporter: s.Reporter, Commander: s.Commander, Assignee: s.Assignee,
		Source: SourceJSON{Kind: string(s.Source.Kind), Team: s.Source.Team, Channel: s.Source.Channel, ThreadTS: s.Source.ThreadTS},
		Card:   messageJSON(s.Card), DeclaredAt: s.DeclaredAt, ImpactStartedAt: s.ImpactStartedAt,
		AcknowledgedAt: s.AcknowledgedAt, MitigatedAt: s.MitigatedAt, ResolvedAt: s.ResolvedAt, UpdatedAt: s.UpdatedAt,
		Notes: s.Notes, Pins: s.Pins,
	}
}

func eventJSON(e incident.Event) EventJSON {
	out := EventJSON{
		Version: e.Version, Kind: string(e.Kind), At: e.At, Actor: e.Actor, CommandID: e.Command,
		Status: string(e.Status), Title: e.Title, Severity: e.Severity, Role: string(e.Role), Person: e.Person,
		Note: e.Note, Message: messageJSON(e.Message), ImpactStarted: e.ImpactStarted, CommandKind: string(e.CommandKind),
	}
	if e.Rejection != nil {
		out.Rejection = &RejectionJSON{Code: string(e.Rejection.Code), Reason: e.Rejection.Reason}
	}
	return out
}

func severityStatsJSON(s readmodel.SeverityStats) SeverityStatsJSON {
	return SeverityStatsJSON{Severity: s.Severity, Declared: s.Declared, Acknowledged: s.Acknowledged,
		Resolved: s.Resolved, MTTASeconds: s.MTTASeconds, MTTRSeconds: s.MTTRSeconds}
}
