package slackapp

import (
	"strings"

	"github.com/slack-go/slack/slackutilsx"
)

// Escape makes user-supplied text safe in a Slack message's text and
// mrkdwn blocks: Slack reads "<...>" as a mention, a special mention
// (<!channel>) or a link, and "&" as the start of an entity, so its
// formatting rules ask for exactly these three characters to be escaped
// (&amp; &lt; &gt;), which slack-go's slackutilsx.EscapeMessage does. Every
// string a person typed goes through it, in the notifier's messages and in
// ingress's replies; plain_text objects (the card's header, button labels)
// are shown as they are and need none.
func Escape(s string) string { return slackutilsx.EscapeMessage(s) }

// Unescape is the inverse of Escape: Slack sends what a person typed
// (message and slash command text) escaped this way. slack-go has no
// helper for this direction.
func Unescape(s string) string { return unescaper.Replace(s) }

var unescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")
