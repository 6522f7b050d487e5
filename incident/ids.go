package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Incident ids are short, URL-safe strings: a prefix saying where the
// incident came from, then hex.
const (
	slackIDPrefix = "sl-"
	apiIDPrefix   = "in-"
)

// SlackIncidentID is the id of the incident anchored to a Slack thread. The
// same (team, channel, thread) always gives the same id.
func SlackIncidentID(team, channel, threadTS string) string {
	return slackIDPrefix + digest("slack", team, channel, threadTS)
}

// APIIncidentID is the id of an incident declared through the API with an
// idempotency key: the same tenant and key always give the same id.
func APIIncidentID(tenant, idempotencyKey string) string {
	return apiIDPrefix + digest("api", tenant, idempotencyKey)
}

// CommandIDFor derives a command id from parts that identify a request
// (a Slack event id, a tenant and idempotency key), so that a retried
// request gets the same command id.
func CommandIDFor(parts ...string) string {
	return "c-" + digest(parts...)
}

// Fingerprint identifies what a command asks, whatever its id, actor and
// time: its kind, incident, tenant and payload. The edge sets it on the
// commands it builds (Command.Fingerprint): a command id that comes again
// with another fingerprint is an idempotency key reused for a different
// request, which Decide refuses.
func Fingerprint(c Command) string {
	var impact string
	if !c.ImpactStarted.IsZero() {
		impact = c.ImpactStarted.UTC().Format(time.RFC3339Nano)
	}
	var msgAt string
	if !c.Message.At.IsZero() {
		msgAt = c.Message.At.UTC().Format(time.RFC3339Nano)
	}
	return "f-" + digest("fingerprint", string(c.Kind), c.Incident, c.Tenant, c.Title, c.Severity,
		string(c.Source.Kind), c.Source.Team, c.Source.Channel, c.Source.ThreadTS,
		string(c.Role), c.Person, c.Note,
		c.Message.Channel, c.Message.TS, c.Message.Author, c.Message.Text, msgAt, impact)
}

// digest hashes parts unambiguously (each part is length-prefixed).
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		l := uint64(len(p))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:10])
}
