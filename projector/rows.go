package projector

import (
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/incidentd/incidentd/incident"
)

// This file maps events and states to table columns and back. Times are
// stored as milliseconds since the Unix epoch (0 = not set), so they come
// back truncated to the millisecond, in UTC; the instant 1970-01-01T00:00:00Z
// itself reads back as "not set".

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// eventBlock is a set of event rows as columns, in eventColumns order, so
// a batch appends each column in one call.
type eventBlock struct {
	incident, tenant, command, actor, kind, title, severity, status []string
	srcKind, srcTeam, srcChannel, srcThread, role, person, note     []string
	msgChannel, msgTS, msgAuthor, msgText, commandKind, rejCode     []string
	rejReason                                                       []string
	version                                                         []uint64
	at, msgAt, impact                                               []int64
	rejected                                                        []uint8
}

// newEventBlock returns a block with room for n rows.
func newEventBlock(n int) *eventBlock {
	s := func() []string { return make([]string, 0, n) }
	i := func() []int64 { return make([]int64, 0, n) }
	return &eventBlock{
		incident: s(), tenant: s(), command: s(), actor: s(), kind: s(), title: s(), severity: s(), status: s(),
		srcKind: s(), srcTeam: s(), srcChannel: s(), srcThread: s(), role: s(), person: s(), note: s(),
		msgChannel: s(), msgTS: s(), msgAuthor: s(), msgText: s(), commandKind: s(), rejCode: s(), rejReason: s(),
		version: make([]uint64, 0, n), at: i(), msgAt: i(), impact: i(), rejected: make([]uint8, 0, n),
	}
}

func (b *eventBlock) add(e incident.Event) {
	b.incident = append(b.incident, e.Incident)
	b.version = append(b.version, e.Version)
	b.tenant = append(b.tenant, e.Tenant)
	b.command = append(b.command, e.Command)
	b.actor = append(b.actor, e.Actor)
	b.at = append(b.at, toMillis(e.At))
	b.kind = append(b.kind, string(e.Kind))
	b.title = append(b.title, e.Title)
	b.severity = append(b.severity, e.Severity)
	b.status = append(b.status, string(e.Status))
	b.srcKind = append(b.srcKind, string(e.Source.Kind))
	b.srcTeam = append(b.srcTeam, e.Source.Team)
	b.srcChannel = append(b.srcChannel, e.Source.Channel)
	b.srcThread = append(b.srcThread, e.Source.ThreadTS)
	b.role = append(b.role, string(e.Role))
	b.person = append(b.person, e.Person)
	b.note = append(b.note, e.Note)
	b.msgChannel = append(b.msgChannel, e.Message.Channel)
	b.msgTS = append(b.msgTS, e.Message.TS)
	b.msgAuthor = append(b.msgAuthor, e.Message.Author)
	b.msgText = append(b.msgText, e.Message.Text)
	b.msgAt = append(b.msgAt, toMillis(e.Message.At))
	b.impact = append(b.impact, toMillis(e.ImpactStarted))
	b.commandKind = append(b.commandKind, string(e.CommandKind))
	var rej uint8
	var code, reason string
	if e.Rejection != nil {
		rej, code, reason = 1, string(e.Rejection.Code), e.Rejection.Reason
	}
	b.rejected = append(b.rejected, rej)
	b.rejCode = append(b.rejCode, code)
	b.rejReason = append(b.rejReason, reason)
}

// columns returns the block's columns in eventColumns order.
func (b *eventBlock) columns() []any {
	return []any{
		b.incident, b.version, b.tenant, b.command, b.actor, b.at, b.kind,
		b.title, b.severity, b.status,
		b.srcKind, b.srcTeam, b.srcChannel, b.srcThread,
		b.role, b.person, b.note,
		b.msgChannel, b.msgTS, b.msgAuthor, b.msgText, b.msgAt,
		b.impact, b.commandKind, b.rejected, b.rejCode, b.rejReason,
	}
}

// stateBlock is a set of incident state rows as columns, in incidentColumns
// order.
type stateBlock struct {
	incident, tenant, title, severity, status, reporter, commander, assignee []string
	srcKind, srcTeam, srcChannel, srcThread, cardChannel, cardTS             []string
	version                                                                  []uint64
	declared, impact, acked, mitigated, resolved, updated                    []int64
	notes, pins                                                              []uint32
}

// newStateBlock returns a block with room for n rows.
func newStateBlock(n int) *stateBlock {
	s := func() []string { return make([]string, 0, n) }
	i := func() []int64 { return make([]int64, 0, n) }
	return &stateBlock{
		incident: s(), tenant: s(), title: s(), severity: s(), status: s(), reporter: s(), commander: s(), assignee: s(),
		srcKind: s(), srcTeam: s(), srcChannel: s(), srcThread: s(), cardChannel: s(), cardTS: s(),
		version: make([]uint64, 0, n), declared: i(), impact: i(), acked: i(), mitigated: i(), resolved: i(), updated: i(),
		notes: make([]uint32, 0, n), pins: make([]uint32, 0, n),
	}
}

func (b *stateBlock) add(s incident.State) {
	b.incident = append(b.incident, s.Incident)
	b.tenant = append(b.tenant, s.Tenant)
	b.version = append(b.version, s.Version)
	b.title = append(b.title, s.Title)
	b.severity = append(b.severity, s.Severity)
	b.status = append(b.status, string(s.Status))
	b.reporter = append(b.reporter, s.Reporter)
	b.commander = append(b.commander, s.Commander)
	b.assignee = append(b.assignee, s.Assignee)
	b.srcKind = append(b.srcKind, string(s.Source.Kind))
	b.srcTeam = append(b.srcTeam, s.Source.Team)
	b.srcChannel = append(b.srcChannel, s.Source.Channel)
	b.srcThread = append(b.srcThread, s.Source.ThreadTS)
	b.cardChannel = append(b.cardChannel, s.Card.Channel)
	b.cardTS = append(b.cardTS, s.Card.TS)
	b.declared = append(b.declared, toMillis(s.DeclaredAt))
	b.impact = append(b.impact, toMillis(s.ImpactStartedAt))
	b.acked = append(b.acked, toMillis(s.AcknowledgedAt))
	b.mitigated = append(b.mitigated, toMillis(s.MitigatedAt))
	b.resolved = append(b.resolved, toMillis(s.ResolvedAt))
	b.updated = append(b.updated, toMillis(s.UpdatedAt))
	b.notes = append(b.notes, clampU32(s.Notes))
	b.pins = append(b.pins, clampU32(s.Pins))
}

func (b *stateBlock) columns() []any {
	return []any{
		b.incident, b.tenant, b.version, b.title, b.severity, b.status,
		b.reporter, b.commander, b.assignee,
		b.srcKind, b.srcTeam, b.srcChannel, b.srcThread,
		b.cardChannel, b.cardTS,
		b.declared, b.impact, b.acked, b.mitigated, b.resolved, b.updated,
		b.notes, b.pins,
	}
}

func clampU32(n int) uint32 {
	switch {
	case n < 0:
		return 0
	case n > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(n)
}

// stateRow is a scan target for incidentColumns.
type stateRow struct {
	incident, tenant, title, severity, status, reporter, commander, assignee string
	srcKind, srcTeam, srcChannel, srcThread, cardChannel, cardTS             string
	version                                                                  uint64
	declared, impact, acked, mitigated, resolved, updated                    int64
	notes, pins                                                              uint32
}

func (r *stateRow) dest() []any {
	return []any{
		&r.incident, &r.tenant, &r.version, &r.title, &r.severity, &r.status,
		&r.reporter, &r.commander, &r.assignee,
		&r.srcKind, &r.srcTeam, &r.srcChannel, &r.srcThread,
		&r.cardChannel, &r.cardTS,
		&r.declared, &r.impact, &r.acked, &r.mitigated, &r.resolved, &r.updated,
		&r.notes, &r.pins,
	}
}

// state returns the row as a declared incident's state (Recent is not
// stored).
func (r *stateRow) state() incident.State {
	return incident.State{
		Incident: r.incident, Tenant: r.tenant, Version: r.version, Declared: true,
		Title: r.title, Severity: r.severity, Status: incident.Status(r.status),
		Reporter: r.reporter, Commander: r.commander, Assignee: r.assignee,
		Source:     incident.Source{Kind: incident.SourceKind(r.srcKind), Team: r.srcTeam, Channel: r.srcChannel, ThreadTS: r.srcThread},
		Card:       incident.SlackMessage{Channel: r.cardChannel, TS: r.cardTS},
		DeclaredAt: fromMillis(r.declared), ImpactStartedAt: fromMillis(r.impact),
		AcknowledgedAt: fromMillis(r.acked), MitigatedAt: fromMillis(r.mitigated),
		ResolvedAt: fromMillis(r.resolved), UpdatedAt: fromMillis(r.updated),
		Notes: int(r.notes), Pins: int(r.pins),
	}
}

// eventRow is a scan target for eventColumns.
type eventRow struct {
	incident, tenant, command, actor, kind, title, severity, status string
	srcKind, srcTeam, srcChannel, srcThread, role, person, note     string
	msgChannel, msgTS, msgAuthor, msgText, commandKind, rejCode     string
	rejReason                                                       string
	version                                                         uint64
	at, msgAt, impact                                               int64
	rejected                                                        uint8
}

func (r *eventRow) dest() []any {
	return []any{
		&r.incident, &r.version, &r.tenant, &r.command, &r.actor, &r.at, &r.kind,
		&r.title, &r.severity, &r.status,
		&r.srcKind, &r.srcTeam, &r.srcChannel, &r.srcThread,
		&r.role, &r.person, &r.note,
		&r.msgChannel, &r.msgTS, &r.msgAuthor, &r.msgText, &r.msgAt,
		&r.impact, &r.commandKind, &r.rejected, &r.rejCode, &r.rejReason,
	}
}

func (r *eventRow) event() incident.Event {
	e := incident.Event{
		Incident: r.incident, Version: r.version, Command: r.command, Tenant: r.tenant, Actor: r.actor,
		At: fromMillis(r.at), Kind: incident.EventKind(r.kind), Title: r.title, Severity: r.severity,
		Status: incident.Status(r.status),
		Source: incident.Source{Kind: incident.SourceKind(r.srcKind), Team: r.srcTeam, Channel: r.srcChannel, ThreadTS: r.srcThread},
		Role:   incident.Role(r.role), Person: r.person, Note: r.note,
		Message: incident.SlackMessage{
			Channel: r.msgChannel, TS: r.msgTS, Author: r.msgAuthor, Text: r.msgText, At: fromMillis(r.msgAt),
		},
		ImpactStarted: fromMillis(r.impact), CommandKind: incident.CommandKind(r.commandKind),
	}
	if r.rejected != 0 {
		e.Rejection = &incident.Rejection{Code: incident.Code(r.rejCode), Reason: r.rejReason}
	}
	return e
}

// blockRows is the most rows appendColumns puts in one block of an
// INSERT. The driver's column buffers grow while rows are appended, and
// the next block of the same INSERT reuses them: a 100,000-row rebuild
// batch sent in blocks grows them once, where one block re-copied them as
// they grew (most of the time the rebuild spent appending). ClickHouse
// squashes the blocks of one INSERT into parts of its own size.
const blockRows = 16384

// appendColumns appends whole columns (each a slice, all of one length)
// to a prepared batch, in blocks of at most blockRows rows, and sends it.
func appendColumns(b driver.Batch, cols []any) error {
	rows, err := columnLen(cols[0])
	if err != nil {
		_ = b.Abort()
		return err
	}
	for lo := 0; lo == 0 || lo < rows; lo += blockRows {
		hi := min(lo+blockRows, rows)
		for i, c := range cols {
			part, err := sliceColumn(c, lo, hi)
			if err == nil {
				err = b.Column(i).Append(part)
			}
			if err != nil {
				_ = b.Abort()
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
		if hi < rows {
			if err := b.Flush(); err != nil {
				_ = b.Abort()
				return err
			}
		}
	}
	return b.Send()
}

// columnLen is the number of rows of a column of a type sliceColumn knows.
func columnLen(c any) (int, error) {
	switch c := c.(type) {
	case []string:
		return len(c), nil
	case []uint64:
		return len(c), nil
	case []int64:
		return len(c), nil
	case []uint32:
		return len(c), nil
	case []uint8:
		return len(c), nil
	}
	return 0, fmt.Errorf("unsupported column type %T", c)
}

// sliceColumn returns rows lo to hi of a column, of one of the types the
// tables' columns are appended as.
func sliceColumn(c any, lo, hi int) (any, error) {
	switch c := c.(type) {
	case []string:
		return c[lo:hi], nil
	case []uint64:
		return c[lo:hi], nil
	case []int64:
		return c[lo:hi], nil
	case []uint32:
		return c[lo:hi], nil
	case []uint8:
		return c[lo:hi], nil
	}
	return nil, fmt.Errorf("unsupported column type %T", c)
}
