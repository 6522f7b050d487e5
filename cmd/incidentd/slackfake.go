package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/incidentd/incidentd/slackapp"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// Test and dev tools around Slack for harnesses outside Go (the e2e
// suite): the Slack stand-in and the signer are the Go ones, so the
// contract lives once.

// fakeMessage is one seeded message of a -slackfake.messages file, as a
// person posted it.
type fakeMessage struct {
	Team     string `json:"team"`
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	User     string `json:"user"`
	Text     string `json:"text"`
}

// setupSlackFake is "incidentd slackfake": the Slack Web API stand-in
// (slackapp/slackfake) served until ctx ends. Its API URL (for
// -ingress.slack-api-url) is the first line of stdout.
func setupSlackFake(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	addr := fs.String("slackfake.addr", "127.0.0.1:0", "listen address of the Slack stand-in (port 0: a free one)")
	teams := fs.String("slackfake.teams", "", "workspaces whose bot tokens it accepts, comma-separated TEAM_ID:TOKEN")
	messages := fs.String("slackfake.messages", "", `JSON file of messages people posted, seeded before serving ([{"team","channel","ts","thread_ts","user","text"}])`)
	return func(ctx context.Context, e *env) error {
		var opts []slackfake.Option
		for _, t := range strings.Split(*teams, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			id, token, ok := strings.Cut(t, ":")
			if !ok || id == "" || token == "" {
				return fmt.Errorf("slackfake: -slackfake.teams: %q is not TEAM_ID:TOKEN", t)
			}
			opts = append(opts, slackfake.WithTeams(slackfake.Team{ID: id, Name: strings.ToLower(id), Token: token, BotUserID: "U" + id, BotID: "B" + id}))
		}
		var seed []fakeMessage
		if *messages != "" {
			b, err := os.ReadFile(*messages)
			if err != nil {
				return fmt.Errorf("slackfake: %w", err)
			}
			if err := json.Unmarshal(b, &seed); err != nil {
				return fmt.Errorf("slackfake: %s: %w", *messages, err)
			}
			for i, m := range seed {
				if m.Team == "" || m.Channel == "" || m.TS == "" {
					return fmt.Errorf("slackfake: %s: message %d: team, channel and ts are required", *messages, i)
				}
			}
		}
		l, err := net.Listen("tcp", *addr)
		if err != nil {
			return fmt.Errorf("slackfake: %w", err)
		}
		srv := slackfake.New(append(opts, slackfake.WithListener(l))...)
		defer srv.Close()
		for _, m := range seed {
			srv.AddMessage(slackfake.Message{Team: m.Team, Channel: m.Channel, TS: m.TS, ThreadTS: m.ThreadTS, From: m.User, Text: m.Text})
		}
		fmt.Fprintln(e.Stdout, srv.APIURL())
		<-ctx.Done()
		return nil
	}
}

// setupSlackSign is "incidentd slack-sign": it signs the request body on
// stdin the way Slack does and prints the X-Slack-Request-Timestamp and
// the X-Slack-Signature, one a line.
func setupSlackSign(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	secret := fs.String("slack-sign.secret", "", "Slack app signing secret to sign with")
	return func(ctx context.Context, e *env) error {
		if *secret == "" {
			return errors.New("slack-sign: -slack-sign.secret is required")
		}
		body, err := io.ReadAll(os.Stdin)
		if err != nil {
			return fmt.Errorf("slack-sign: read stdin: %w", err)
		}
		now := time.Now()
		fmt.Fprintf(e.Stdout, "%d\n%s\n", now.Unix(), slackapp.Signature(*secret, now, body))
		return nil
	}
}
