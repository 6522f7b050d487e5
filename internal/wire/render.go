package wire

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"

	"github.com/incidentd/incidentd/incident"
)

// CommandJSON renders a command as JSON for people and scripts ("incidentd
// events"): the data object of a version 1 record, with the same field
// names, so {"v":1,"type":"command","data":RENDERING} decodes back to the
// same command. It is a reading aid, not a record format: records are
// written as version 2.
func CommandJSON(c incident.Command) ([]byte, error) {
	b, err := render(command{
		ID: c.ID, Incident: c.Incident, Tenant: c.Tenant, Actor: c.Actor, At: c.At,
		Kind: string(c.Kind), Title: c.Title, Severity: c.Severity, Source: fromSource(c.Source),
		Role: string(c.Role), Person: c.Person, Note: c.Note, Message: fromMessage(c.Message),
		ImpactStarted: c.ImpactStarted, Fingerprint: c.Fingerprint,
	})
	if err != nil {
		return nil, fmt.Errorf("wire: render command %s as JSON: %w", c.ID, err)
	}
	return b, nil
}

// EventJSON renders an event as JSON, as CommandJSON renders a command:
// {"v":1,"type":"event","data":RENDERING} decodes back to the same event.
func EventJSON(e incident.Event) ([]byte, error) {
	w := event{
		Incident: e.Incident, Version: e.Version, Command: e.Command, Tenant: e.Tenant, Actor: e.Actor,
		At: e.At, Kind: string(e.Kind), Title: e.Title, Severity: e.Severity, Status: string(e.Status),
		Source: fromSource(e.Source), Role: string(e.Role), Person: e.Person, Note: e.Note,
		Message: fromMessage(e.Message), ImpactStarted: e.ImpactStarted, CommandKind: string(e.CommandKind),
		Fingerprint: e.Fingerprint,
	}
	if e.Rejection != nil {
		w.Rejection = &rejection{Code: string(e.Rejection.Code), Reason: e.Rejection.Reason}
	}
	b, err := render(w)
	if err != nil {
		return nil, fmt.Errorf("wire: render event %s as JSON: %w", e.ID(), err)
	}
	return b, nil
}

func fromSource(s incident.Source) source {
	return source{Kind: string(s.Kind), Team: s.Team, Channel: s.Channel, ThreadTS: s.ThreadTS}
}

func fromMessage(m incident.SlackMessage) message {
	return message{Channel: m.Channel, TS: m.TS, Author: m.Author, Text: m.Text, At: m.At}
}

// render marshals v without escaping <, > and & (the text is for a
// terminal or a script, not an HTML page) and without a trailing newline.
func render(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := stdjson.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
