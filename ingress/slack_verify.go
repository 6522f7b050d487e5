package ingress

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/slackapp"
)

// slackBody is the raw body of a verified Slack request.
type slackBodyKey struct{}

// slackVerified wraps a Slack handler: it reads the bounded raw body and
// checks Slack's signature (slackapp.Verify: the app's signing secret,
// timestamps more than 5 minutes away refused) before the handler sees
// anything. The handler gets the body back in r.Body and in the context.
func (s *Server) slackVerified(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.SlackSigningSecret == "" {
			writeProblem(w, http.StatusServiceUnavailable, CodeSlackNotConfigured, "Slack is not configured: no signing secret (-ingress.slack-signing-secret)")
			return
		}
		body, err := readBody(r)
		if err != nil {
			s.writeRefusal(w, r, err)
			return
		}
		if err := slackapp.Verify(r.Header, body, s.cfg.SlackSigningSecret); err != nil {
			reason := "the request signature is missing or does not match"
			if errors.Is(err, slack.ErrExpiredTimestamp) {
				reason = "the request timestamp is more than 5 minutes away"
			}
			if !s.authFailed(w, r) {
				return
			}
			s.log.Warn("slack request refused", "route", r.URL.Path, "reason", reason)
			writeProblem(w, http.StatusUnauthorized, CodeBadSignature, reason)
			return
		}
		r.Body = nopCloser{bytes.NewReader(body)}
		next(w, r.WithContext(context.WithValue(r.Context(), slackBodyKey{}, body)))
	}
}

func slackBody(r *http.Request) []byte {
	b, _ := r.Context().Value(slackBodyKey{}).([]byte)
	return b
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
