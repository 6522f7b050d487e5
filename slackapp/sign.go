package slackapp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// Signature returns the X-Slack-Signature Slack sends with a request body
// at a time: "v0=" and the hex HMAC-SHA256, keyed by the app's signing
// secret, of "v0:<unix time>:<body>". slack-go verifies signatures but
// does not make them.
func Signature(secret string, at time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + strconv.FormatInt(at.Unix(), 10) + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Sign sets the two headers Slack signs a request with
// (X-Slack-Request-Timestamp, X-Slack-Signature), over the request's body,
// which it reads and puts back: what Slack sends an app, for a client that
// stands in for Slack (incidentd slack-mention, tests).
func Sign(req *http.Request, secret string, at time.Time) error {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return fmt.Errorf("slackapp: sign: read body: %w", err)
		}
		_ = req.Body.Close()
		body = b
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Signature(secret, at, body))
	return nil
}

// Verify checks that a request with header h and body came from Slack:
// its v0 signature matches the signing secret and its timestamp is within
// 5 minutes of now (slack-go's SecretsVerifier). A stale or future
// timestamp is an error that errors.Is slack.ErrExpiredTimestamp; a
// missing, malformed or wrong signature is another error.
func Verify(h http.Header, body []byte, secret string) error {
	sv, err := slack.NewSecretsVerifier(h, secret)
	if err != nil {
		return fmt.Errorf("slackapp: verify: %w", err)
	}
	if _, err := sv.Write(body); err != nil {
		return fmt.Errorf("slackapp: verify: %w", err)
	}
	if err := sv.Ensure(); err != nil {
		return fmt.Errorf("slackapp: verify: %w", err)
	}
	return nil
}
