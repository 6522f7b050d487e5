package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/incidentd/incidentd/slackapp"
)

// The dev Slack workspace: "incidentd run" without a signing secret or
// workspaces file accepts Slack requests for this team, signed with a
// secret it keeps in the data directory, so a newcomer can send "@fire
// server down!" locally with "incidentd slack-mention".
const (
	devSlackTeam      = "TDEV"
	devSlackChannel   = "CDEV"
	devSlackSecretRel = "ingress/dev-slack-signing-secret" //nolint:gosec // G101: the path of the secret's file, not a secret
)

// loadOrCreateSecret returns the secret stored at path: created once
// (prefix and 24 random bytes in hex, file mode 0600), reused on every later
// start. It holds the dev tenant's API token and the dev Slack signing
// secret.
func loadOrCreateSecret(path, prefix string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	var r [24]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	s := prefix + hex.EncodeToString(r[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}

// setupSlackMention is "incidentd slack-mention TEXT": it sends a signed
// Events API app_mention, as Slack would, to a local ingress running with
// the dev workspace.
func setupSlackMention(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	url := fs.String("slack-mention.url", "http://127.0.0.1:8080", "base URL of the ingress to send to")
	thread := fs.String("slack-mention.thread", "", "ts of the thread to mention in (empty: a new message, which starts a thread)")
	user := fs.String("slack-mention.user", "UDEV", "Slack user id of the sender")
	return func(ctx context.Context, e *env) error {
		if len(e.Args) == 0 {
			return errors.New(`slack-mention: say what to send, e.g. incidentd slack-mention "server down!"`)
		}
		secret, err := os.ReadFile(filepath.Join(e.DataDir, devSlackSecretRel))
		if err != nil {
			return fmt.Errorf("slack-mention: the dev signing secret (written by 'incidentd run' with the same -data-dir): %w", err)
		}
		now := time.Now()
		ts := fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
		ev := map[string]any{
			"type": "app_mention", "user": *user, "text": "<@UFIRE> " + strings.Join(e.Args, " "),
			"ts": ts, "channel": devSlackChannel, "event_ts": ts,
		}
		if *thread != "" {
			ev["thread_ts"] = *thread
		}
		var id [8]byte
		if _, err := rand.Read(id[:]); err != nil {
			return err
		}
		body, err := json.Marshal(map[string]any{
			"token": "dev", "team_id": devSlackTeam, "api_app_id": "ADEV", "type": "event_callback",
			"event_id": "Ev" + strings.ToUpper(hex.EncodeToString(id[:])), "event_time": now.Unix(), "event": ev,
		})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*url, "/")+"/slack/events", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("slack-mention: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if err := slackapp.Sign(req, strings.TrimSpace(string(secret)), now); err != nil {
			return fmt.Errorf("slack-mention: %w", err)
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return fmt.Errorf("slack-mention: %w", err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("slack-mention: %s: %s", resp.Status, bytes.TrimSpace(answer))
		}
		e.Announce("slack", "sent a signed app_mention in channel %s, thread %s: %q (%s)", devSlackChannel, firstNonEmpty(*thread, ts), ev["text"], resp.Status)
		return nil
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
