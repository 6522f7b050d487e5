package incident

import (
	"crypto/sha256"
	"encoding/hex"
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

// NewIncidentID turns 16 random bytes from the edge into a fresh id. The
// model has no randomness of its own.
func NewIncidentID(random [16]byte) string {
	return apiIDPrefix + hex.EncodeToString(random[:10])
}

// CommandIDFor derives a command id from parts that identify a request
// (a Slack event id, a tenant and idempotency key), so that a retried
// request gets the same command id.
func CommandIDFor(parts ...string) string {
	return "c-" + digest(parts...)
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
