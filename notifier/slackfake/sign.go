package slackfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Signature returns the X-Slack-Signature Slack sends with a request body
// at a time: "v0=" and the hex HMAC-SHA256, keyed by the app's signing
// secret, of "v0:<unix time>:<body>".
func Signature(secret string, at time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + strconv.FormatInt(at.Unix(), 10) + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Sign sets the two headers Slack signs a request with
// (X-Slack-Request-Timestamp, X-Slack-Signature), over the request's body,
// which it reads and puts back. Use it to send ingress what Slack would.
func Sign(req *http.Request, secret string, at time.Time) error {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return err
		}
		req.Body.Close()
		body = b
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Signature(secret, at, body))
	return nil
}
