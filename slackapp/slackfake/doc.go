// Package slackfake is a local HTTP server that behaves like the Slack Web
// API where incidentd uses it: auth.test, chat.postMessage, chat.update,
// chat.postEphemeral, views.open, conversations.replies and
// conversations.history (with message metadata). Tests point
// slack-go at it with slack.OptionAPIURL(server.APIURL()).
//
// It checks what Slack checks and answers the way Slack answers:
//
//   - the token, from "Authorization: Bearer" or the form field "token":
//     none is not_authed, an unknown one is invalid_auth;
//   - required fields: a missing channel is channel_not_found, a message
//     with neither text nor blocks is no_text, malformed blocks are
//     invalid_blocks, chat.update of an unknown ts is message_not_found and
//     of another team's message cant_update_message, chat.postEphemeral
//     without a user is user_not_in_channel, views.open without a
//     trigger_id or a modal view is invalid_arguments,
//     conversations.replies of an unknown ts is thread_not_found;
//   - errors are HTTP 200 with {"ok":false,"error":"..."}, as Slack does;
//   - rate limits: chat.postMessage and chat.update share a limit of one
//     call per channel per MessageInterval (Slack's documented "about one
//     message per second per channel"); a call over it gets HTTP 429 with
//     Retry-After in whole seconds and {"ok":false,"error":"ratelimited"}.
//     Slack's per-workspace method tiers are not modelled.
//
// Tests can inject failures (SetChannelError for permanent ones such as
// channel_not_found or not_in_channel, FailNext for 5xx answers, AnswerLate
// for a call that takes effect but is answered after the client gave up) and read
// back every call (Calls) and the resulting messages (Messages, Message).
// AddMessage puts in what people post, for conversations.replies to find.
// A Server is safe for concurrent use.
//
// Requests going the other way, from Slack to ingress, are signed with
// slackapp.Sign.
package slackfake
