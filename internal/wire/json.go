package wire

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	json "github.com/goccy/go-json"

	"github.com/incidentd/incidentd/incident"
)

// Version 1: the JSON envelope {"v":1,"type":"...","data":{...}}, read
// (not written) so that topics from before version 2 replay.

// envelope is the record's outer shape, as decoded in one pass together
// with its data.
type envelope[T any] struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	Data *T     `json:"data"`
}

// decode reads the envelope and its data in one pass, refusing unknown
// fields. When that fails, the envelope alone is read again to tell an
// unknown version or type from malformed data.
func decode[T any](b []byte, typ string, into *T) error {
	var env envelope[T]
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&env)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the record")
	}
	if err != nil {
		var head struct {
			V    int    `json:"v"`
			Type string `json:"type"`
		}
		if json.Unmarshal(b, &head) == nil {
			if head.V != 1 {
				return fmt.Errorf("%w: %d (this build reads 1 and %d)", ErrUnknownVersion, head.V, Version)
			}
			if head.Type != typ {
				return fmt.Errorf("%w: %q, want %q", ErrWrongType, head.Type, typ)
			}
		}
		return fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	switch {
	case env.V != 1:
		return fmt.Errorf("%w: %d (this build reads 1 and %d)", ErrUnknownVersion, env.V, Version)
	case env.Type != typ:
		return fmt.Errorf("%w: %q, want %q", ErrWrongType, env.Type, typ)
	case env.Data == nil:
		return fmt.Errorf("%w: %s has no data", ErrMalformed, typ)
	}
	*into = *env.Data
	return nil
}

type source struct {
	Kind     string `json:"kind,omitempty"`
	Team     string `json:"team,omitempty"`
	Channel  string `json:"channel,omitempty"`
	ThreadTS string `json:"thread_ts,omitempty"`
}

type message struct {
	Channel string    `json:"channel,omitempty"`
	TS      string    `json:"ts,omitempty"`
	Author  string    `json:"author,omitempty"`
	Text    string    `json:"text,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

type command struct {
	ID            string    `json:"id"`
	Incident      string    `json:"incident"`
	Tenant        string    `json:"tenant"`
	Actor         string    `json:"actor,omitempty"`
	At            time.Time `json:"at"`
	Kind          string    `json:"kind"`
	Title         string    `json:"title,omitempty"`
	Severity      string    `json:"severity,omitempty"`
	Source        source    `json:"source,omitzero"`
	Role          string    `json:"role,omitempty"`
	Person        string    `json:"person,omitempty"`
	Note          string    `json:"note,omitempty"`
	Message       message   `json:"message,omitzero"`
	ImpactStarted time.Time `json:"impact_started,omitzero"`
	Fingerprint   string    `json:"fingerprint,omitempty"`
}

type rejection struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

type event struct {
	Incident      string     `json:"incident"`
	Version       uint64     `json:"version"`
	Command       string     `json:"command"`
	Tenant        string     `json:"tenant"`
	Actor         string     `json:"actor,omitempty"`
	At            time.Time  `json:"at"`
	Kind          string     `json:"kind"`
	Title         string     `json:"title,omitempty"`
	Severity      string     `json:"severity,omitempty"`
	Status        string     `json:"status,omitempty"`
	Source        source     `json:"source,omitzero"`
	Role          string     `json:"role,omitempty"`
	Person        string     `json:"person,omitempty"`
	Note          string     `json:"note,omitempty"`
	Message       message    `json:"message,omitzero"`
	ImpactStarted time.Time  `json:"impact_started,omitzero"`
	CommandKind   string     `json:"command_kind,omitempty"`
	Rejection     *rejection `json:"rejection,omitempty"`
	Fingerprint   string     `json:"fingerprint,omitempty"`
}

type outcome struct {
	Command string `json:"c"`
	From    uint64 `json:"f"`
	To      uint64 `json:"t"`
	Code    string `json:"r,omitempty"`
}

type state struct {
	Incident        string    `json:"incident"`
	Tenant          string    `json:"tenant,omitempty"`
	Version         uint64    `json:"version"`
	Declared        bool      `json:"declared,omitempty"`
	Title           string    `json:"title,omitempty"`
	Severity        string    `json:"severity,omitempty"`
	Status          string    `json:"status,omitempty"`
	Reporter        string    `json:"reporter,omitempty"`
	Commander       string    `json:"commander,omitempty"`
	Assignee        string    `json:"assignee,omitempty"`
	Source          source    `json:"source,omitzero"`
	Card            message   `json:"card,omitzero"`
	DeclaredAt      time.Time `json:"declared_at,omitzero"`
	ImpactStartedAt time.Time `json:"impact_started_at,omitzero"`
	AcknowledgedAt  time.Time `json:"acknowledged_at,omitzero"`
	MitigatedAt     time.Time `json:"mitigated_at,omitzero"`
	ResolvedAt      time.Time `json:"resolved_at,omitzero"`
	UpdatedAt       time.Time `json:"updated_at,omitzero"`
	Notes           int       `json:"notes,omitempty"`
	Pins            int       `json:"pins,omitempty"`
	Recent          []outcome `json:"recent,omitempty"`
}

func decodeCommandV1(b []byte) (incident.Command, error) {
	var c command
	if err := decode(b, TypeCommand, &c); err != nil {
		return incident.Command{}, err
	}
	return incident.Command{
		ID: c.ID, Incident: c.Incident, Tenant: c.Tenant, Actor: c.Actor, At: c.At,
		Kind: incident.CommandKind(c.Kind), Title: c.Title, Severity: c.Severity, Source: toSource(c.Source),
		Role: incident.Role(c.Role), Person: c.Person, Note: c.Note, Message: toMessage(c.Message),
		ImpactStarted: c.ImpactStarted, Fingerprint: c.Fingerprint,
	}, nil
}

func decodeEventV1(b []byte) (incident.Event, error) {
	var w event
	if err := decode(b, TypeEvent, &w); err != nil {
		return incident.Event{}, err
	}
	e := incident.Event{
		Incident: w.Incident, Version: w.Version, Command: w.Command, Tenant: w.Tenant, Actor: w.Actor,
		At: w.At, Kind: incident.EventKind(w.Kind), Title: w.Title, Severity: w.Severity, Status: incident.Status(w.Status),
		Source: toSource(w.Source), Role: incident.Role(w.Role), Person: w.Person, Note: w.Note,
		Message: toMessage(w.Message), ImpactStarted: w.ImpactStarted, CommandKind: incident.CommandKind(w.CommandKind),
		Fingerprint: w.Fingerprint,
	}
	if w.Rejection != nil {
		e.Rejection = &incident.Rejection{Code: incident.Code(w.Rejection.Code), Reason: w.Rejection.Reason}
	}
	return e, nil
}

func decodeStateV1(b []byte) (incident.State, error) {
	var w state
	if err := decode(b, TypeState, &w); err != nil {
		return incident.State{}, err
	}
	s := incident.State{
		Incident: w.Incident, Tenant: w.Tenant, Version: w.Version, Declared: w.Declared, Title: w.Title,
		Severity: w.Severity, Status: incident.Status(w.Status), Reporter: w.Reporter, Commander: w.Commander,
		Assignee: w.Assignee, Source: toSource(w.Source), Card: toMessage(w.Card),
		DeclaredAt: w.DeclaredAt, ImpactStartedAt: w.ImpactStartedAt, AcknowledgedAt: w.AcknowledgedAt,
		MitigatedAt: w.MitigatedAt, ResolvedAt: w.ResolvedAt, UpdatedAt: w.UpdatedAt, Notes: w.Notes, Pins: w.Pins,
	}
	// w.Recent, the per-incident dedup window of version 1, is dropped:
	// the processor keeps outcomes in an index of their own.
	return s, nil
}

func toSource(s source) incident.Source {
	return incident.Source{Kind: incident.SourceKind(s.Kind), Team: s.Team, Channel: s.Channel, ThreadTS: s.ThreadTS}
}

func toMessage(m message) incident.SlackMessage {
	return incident.SlackMessage{Channel: m.Channel, TS: m.TS, Author: m.Author, Text: m.Text, At: m.At}
}
