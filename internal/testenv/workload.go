package testenv

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/incidentd/incidentd/incident"
)

// WorkloadConfig shapes a Workload. The zero value (with a seed) is one
// tenant, a growing set of incidents, no retries and one second between
// commands.
type WorkloadConfig struct {
	// Seed makes the workload reproducible: the same config gives the same
	// commands. Workloads with different seeds use distinct incident and
	// command ids, so several can feed one log.
	Seed uint64
	// Tenants the incidents belong to; empty means one, "t1".
	Tenants []string
	// Incidents, when positive, is a fixed set of incidents, each declared
	// by most first commands sent to it (the others are rejected: unknown
	// incident). When zero the set grows: about one command in seven
	// declares a new incident.
	Incidents int
	// DeclareFirst makes the first commands declare each incident of the
	// fixed set once, in order, all valid: a suite that needs every
	// incident to exist before the mix starts (a card to edit) sends them
	// first.
	DeclareFirst bool
	// Place, if set, places the i-th incident of the fixed set: it sets the
	// incident id, tenant and source on c, the incident's declare, and may
	// change its title. By default an incident has a workload id, one of
	// Tenants and a dashboard source.
	Place func(i int, c *incident.Command)
	// Kinds are the kinds of the commands sent to an incident after its
	// declare; by default every kind a user sends, Declare included (a
	// repeated declare, rejected).
	Kinds []incident.CommandKind
	// Rejects adds commands the model refuses beyond invalid transitions
	// and repeated declares, which every workload has: declares with an
	// empty title, commands for incidents never declared, and commands in
	// another tenant than the incident's.
	Rejects bool
	// RetryOneIn, when positive, makes about one command in RetryOneIn a
	// retry: an earlier command sent again unchanged (same id, same
	// tenant), which must change nothing.
	RetryOneIn int
	// Step is the least time between two commands (default one second);
	// with MaxStep above it, each step is drawn from [Step, MaxStep), in
	// whole milliseconds.
	Step, MaxStep time.Duration
	// Start is the time of the first command (default 2026-01-05 09:00 UTC).
	Start time.Time
}

// Workload generates the commands of a test the way users send them: a
// seeded random mix of command kinds over tenants and incidents, with time
// advancing, some commands the model rejects, and retries of earlier
// command ids. Command ids are unique per tenant, as in production
// (incident.CommandIDFor). It is not safe for concurrent use.
type Workload struct {
	cfg       WorkloadConfig
	rng       *rand.Rand
	clock     time.Time
	n         int
	incidents []string          // every incident commands went to, first use first
	tenant    map[string]string // incident -> the tenant it was (or will be) declared in
	declared  map[string]bool
	declares  map[string]incident.Command // incident of the fixed set -> its declare, as placed
	sent      []incident.Command          // every new command, retries excluded
}

// NewWorkload returns a workload shaped by cfg.
func NewWorkload(cfg WorkloadConfig) *Workload {
	if len(cfg.Tenants) == 0 {
		cfg.Tenants = []string{"t1"}
	}
	if cfg.Step <= 0 {
		cfg.Step = time.Second
	}
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = workloadKinds
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	}
	w := &Workload{
		cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), //nolint:gosec // G404: test data, reproducible by seed
		clock: cfg.Start, tenant: map[string]string{}, declared: map[string]bool{}, declares: map[string]incident.Command{},
	}
	for i := range cfg.Incidents {
		c := incident.Command{Incident: w.newIncident(), Source: incident.Source{Kind: incident.FromDashboard}}
		c.Tenant = w.tenant[c.Incident]
		w.declare(&c)
		if cfg.Place != nil {
			delete(w.tenant, c.Incident)
			cfg.Place(i, &c)
			w.incidents[i] = c.Incident
			w.tenant[c.Incident] = c.Tenant
		}
		w.declared[c.Incident] = false
		w.declares[c.Incident] = c
	}
	return w
}

var workloadWords = []string{"database", "Checkout", "latency", "EU", "outage", "payments", "DNS", "login", "Ünïcode", "queue"}

// workloadKinds are the kinds of the commands sent to an incident already
// chosen; Declare among them is a repeated declare, which is rejected.
var workloadKinds = []incident.CommandKind{
	incident.SetSeverity, incident.SetTitle, incident.Assign, incident.Acknowledge, incident.Acknowledge,
	incident.Mitigate, incident.Resolve, incident.Resolve, incident.Reopen, incident.AddNote,
	incident.SetImpactStarted, incident.PinMessage, incident.RecordSlackMessage, incident.Declare,
}

// Next returns the next command and whether it is a retry of an earlier one.
func (w *Workload) Next() (incident.Command, bool) {
	w.clock = w.clock.Add(w.cfg.Step)
	if w.cfg.MaxStep > w.cfg.Step {
		w.clock = w.clock.Add(w.millis(w.cfg.MaxStep - w.cfg.Step))
	}
	if w.cfg.RetryOneIn > 0 && len(w.sent) > 0 && w.rng.IntN(w.cfg.RetryOneIn) == 0 {
		return w.sent[w.rng.IntN(len(w.sent))], true
	}
	w.n++
	if w.cfg.DeclareFirst && w.n <= w.cfg.Incidents {
		c := w.declares[w.incidents[w.n-1]]
		c.At, c.Actor = w.clock, fmt.Sprintf("U%d", w.rng.IntN(5))
		return w.issue(c), false
	}
	c := incident.Command{At: w.clock, Actor: fmt.Sprintf("U%d", w.rng.IntN(5)), Source: incident.Source{Kind: incident.FromDashboard}}
	switch {
	case w.cfg.Incidents == 0 && (len(w.incidents) == 0 || w.rng.IntN(100) < 15):
		c.Incident = w.newIncident()
	case w.cfg.Rejects && w.rng.IntN(25) == 0:
		c.Incident = fmt.Sprintf("in-%d-ghost-%d", w.cfg.Seed, w.rng.IntN(3))
		if _, ok := w.tenant[c.Incident]; !ok {
			w.incidents = append(w.incidents, c.Incident)
			w.tenant[c.Incident] = w.cfg.Tenants[0]
			w.declared[c.Incident] = true // never declared: no command declares it
		}
	default:
		c.Incident = w.incidents[w.rng.IntN(len(w.incidents))]
	}
	c.Tenant = w.tenant[c.Incident]
	if w.cfg.Rejects && w.rng.IntN(12) == 0 {
		c.Tenant = w.cfg.Tenants[w.rng.IntN(len(w.cfg.Tenants))]
	}
	switch d, placed := w.declares[c.Incident]; {
	case w.declared[c.Incident] || (w.cfg.Incidents > 0 && w.rng.IntN(10) == 0):
		w.edit(&c)
	case placed && c.Tenant == d.Tenant:
		d.At, d.Actor = c.At, c.Actor
		c = d
	default:
		w.declare(&c)
	}
	if c.Kind == incident.Declare && w.cfg.Rejects && w.rng.IntN(20) == 0 {
		c.Title = "" // rejected: invalid title; the incident stays undeclared
	}
	return w.issue(c), false
}

// issue gives c its id, records it as sent and returns it.
func (w *Workload) issue(c incident.Command) incident.Command {
	c.ID = incident.CommandIDFor(c.Tenant, strconv.FormatUint(w.cfg.Seed, 10), strconv.Itoa(w.n))
	if c.Kind == incident.Declare && c.Title != "" && c.Tenant == w.tenant[c.Incident] {
		w.declared[c.Incident] = true
	}
	w.sent = append(w.sent, c)
	return c
}

// Incidents returns every incident commands were or will be sent to, in
// order of first use: the fixed set, the declared ones and the ghosts.
func (w *Workload) Incidents() []string { return w.incidents }

// Now returns the time of the latest command (Start before the first).
func (w *Workload) Now() time.Time { return w.clock }

// Sent returns every new command the workload returned, in order, retries
// excluded.
func (w *Workload) Sent() []incident.Command { return w.sent }

// millis returns a random duration in [0, d) of whole milliseconds: times
// are kept to the millisecond on the wire and in ClickHouse.
func (w *Workload) millis(d time.Duration) time.Duration {
	return time.Duration(w.rng.Int64N(max(int64(d/time.Millisecond), 1))) * time.Millisecond
}

func (w *Workload) newIncident() string {
	id := fmt.Sprintf("in-%d-%04d", w.cfg.Seed, len(w.incidents))
	w.incidents = append(w.incidents, id)
	w.tenant[id] = w.cfg.Tenants[w.rng.IntN(len(w.cfg.Tenants))]
	return id
}

func (w *Workload) declare(c *incident.Command) {
	c.Kind = incident.Declare
	c.Title = workloadWords[w.rng.IntN(len(workloadWords))] + " " + workloadWords[w.rng.IntN(len(workloadWords))]
	if sev := incident.DefaultPolicy().Severities; w.rng.IntN(2) == 0 {
		c.Severity = sev[w.rng.IntN(len(sev))]
	}
}

func (w *Workload) edit(c *incident.Command) {
	sev := incident.DefaultPolicy().Severities
	c.Kind = w.cfg.Kinds[w.rng.IntN(len(w.cfg.Kinds))]
	c.Severity = sev[w.rng.IntN(len(sev))]
	c.Title = "renamed " + workloadWords[w.rng.IntN(len(workloadWords))]
	c.Role = []incident.Role{incident.Commander, incident.Assignee}[w.rng.IntN(2)]
	c.Person = fmt.Sprintf("person-%d", w.rng.IntN(4))
	c.Note = "note " + strconv.Itoa(w.n)
	c.ImpactStarted = c.At.Add(-w.millis(time.Hour))
	c.Message = incident.SlackMessage{Channel: "C1", TS: fmt.Sprintf("%d.000100", w.n), Author: "U1", Text: "pinned", At: c.At}
}
