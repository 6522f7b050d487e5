package ingress

import (
	"context"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp"
)

// Slack Web API calls ingress makes itself. The visible results of
// commands come from the notifier; these are the few calls the edge needs:
// ephemeral replies to text that is not a command (best effort, after the
// ack), the message behind a pin reaction (bounded, before the ack), the
// declare form (views.open, bounded, before the ack). Nothing about a
// command is posted before the log has it: the notifier posts its results.

// replyTimeout bounds a best-effort reply made after the ack.
const replyTimeout = 5 * time.Second

// replyEphemeral posts text only the user sees, in the thread, after the
// request was answered; for a workspace without a bot token, to the local
// outbox. Failures are logged, never retried.
func (s *Server) replyEphemeral(ctx context.Context, ws slackapp.Workspace, channel, user, thread, text string) {
	if ws.BotToken == "" {
		s.replyToOutbox(ctx, ws, channel, user, thread, text)
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replyTimeout)
		defer cancel()
		go func() {
			select {
			case <-s.bgStop: // shutting down: give up on the reply
				cancel()
			case <-ctx.Done():
			}
		}()
		opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
		if thread != "" {
			opts = append(opts, slack.MsgOptionTS(thread))
		}
		_, err := s.slack.For(ws).PostEphemeralContext(ctx, channel, user, opts...)
		s.countSlackCall("chat.postEphemeral", err)
		if err != nil {
			s.log.Warn("slack ephemeral reply", "team", ws.TeamID, "channel", channel, "err", err)
		}
	}()
}

// slackMessage is what lookupMessage found; zero if nothing.
type slackMessage struct {
	ThreadTS string
	User     string
	Text     string
}

// lookupMessage fetches one message (conversations.replies on its ts, the
// one method that finds thread replies too), bounded by
// SlackCallTimeout. It is best effort: on any failure the zero value.
func (s *Server) lookupMessage(ctx context.Context, ws slackapp.Workspace, channel, ts string) slackMessage {
	if ws.BotToken == "" {
		return slackMessage{}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SlackCallTimeout)
	defer cancel()
	msgs, _, _, err := s.slack.For(ws).GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: channel, Timestamp: ts, Latest: ts, Oldest: ts, Inclusive: true, Limit: 1,
	})
	s.countSlackCall("conversations.replies", err)
	if err != nil {
		s.log.Info("slack message lookup for pin", "team", ws.TeamID, "channel", channel, "err", err)
		return slackMessage{}
	}
	for _, m := range msgs {
		if m.Timestamp == ts {
			return slackMessage{ThreadTS: m.ThreadTimestamp, User: m.User, Text: m.Text}
		}
	}
	return slackMessage{}
}

func (s *Server) countSlackCall(method string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	s.metrics.slackCalls.WithLabelValues(method, result).Inc()
}

// Declare form identifiers: the modal's callback_id and its inputs'
// block and action ids.
const (
	declareCallbackID = "incident_declare"
	declareTitle      = "title"
	declareSeverity   = "severity"
)

// openDeclareForm opens the declare modal with the trigger of a slash
// command, bounded by SlackCallTimeout. The channel rides along in
// private_metadata.
func (s *Server) openDeclareForm(ctx context.Context, ws slackapp.Workspace, triggerID, channel string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SlackCallTimeout)
	defer cancel()
	var opts []*slack.OptionBlockObject
	for _, sev := range s.cfg.Policy.Severities {
		opts = append(opts, slack.NewOptionBlockObject(sev, slack.NewTextBlockObject(slack.PlainTextType, sev, false, false), nil))
	}
	title := slack.NewInputBlock(declareTitle, slack.NewTextBlockObject(slack.PlainTextType, "Title", false, false), nil,
		slack.NewPlainTextInputBlockElement(slack.NewTextBlockObject(slack.PlainTextType, "What is broken?", false, false), declareTitle))
	sevSel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, slack.NewTextBlockObject(slack.PlainTextType, "Severity", false, false), declareSeverity, opts...)
	sevSel.InitialOption = opts[len(opts)-1]
	sev := slack.NewInputBlock(declareSeverity, slack.NewTextBlockObject(slack.PlainTextType, "Severity", false, false), nil, sevSel)
	view := slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      declareCallbackID,
		Title:           slack.NewTextBlockObject(slack.PlainTextType, "Declare an incident", false, false),
		Submit:          slack.NewTextBlockObject(slack.PlainTextType, "Declare", false, false),
		Close:           slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false),
		PrivateMetadata: channel,
		Blocks:          slack.Blocks{BlockSet: []slack.Block{title, sev}},
	}
	_, err := s.slack.For(ws).OpenViewContext(ctx, triggerID, view)
	s.countSlackCall("views.open", err)
	return err
}

// replyToOutbox writes an ephemeral reply to the local outbox (OutboxPath),
// where the dashboard shows it to the workspace's tenant: without a bot
// token nothing can reach Slack. Without an outbox it is only logged.
func (s *Server) replyToOutbox(ctx context.Context, ws slackapp.Workspace, channel, user, thread, text string) {
	if s.cfg.OutboxPath == "" {
		s.log.Info("slack reply not sent: workspace has no bot token and there is no outbox", "team", ws.TeamID)
		return
	}
	s.outboxMu.Lock()
	defer s.outboxMu.Unlock()
	if s.outbox == nil {
		o, err := notifier.OpenOutbox(s.cfg.OutboxPath, s.cfg.Now)
		if err != nil {
			s.log.Warn("open outbox for a reply", "err", err)
			return
		}
		s.outbox = o
	}
	_, _, err := s.outbox.Send(ctx, notifier.Call{Method: notifier.MethodPostEphemeral, Channel: channel, User: user,
		ThreadTS: thread, Tenant: ws.Tenant, Text: text})
	if err != nil {
		s.log.Warn("reply to outbox", "team", ws.TeamID, "err", err)
	}
}
