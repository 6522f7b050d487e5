package slackapp

import "regexp"

// IsUserID reports whether s looks like a Slack user id: U or W, then
// capital letters and digits.
func IsUserID(s string) bool {
	if len(s) < 2 || (s[0] != 'U' && s[0] != 'W') {
		return false
	}
	for _, r := range s[1:] {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Mention is message text that mentions a user: "<@U123>".
func Mention(userID string) string { return "<@" + userID + ">" }

// ParseMention reads a mention as Slack sends it in message and command
// text, "<@U123>" or "<@U123|name>", and returns the user id.
func ParseMention(s string) (userID string, ok bool) {
	m := mention.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}

var mention = regexp.MustCompile(`^<@([A-Z0-9]+)(\|[^>]*)?>$`)
