// Package slackapp is incidentd's contract with Slack, in one place for
// every part that speaks to it (ingress receives from Slack, the notifier
// posts to it, cmd/incidentd configures both):
//
//   - Workspace: an installation of the app (team id, tenant, bot token,
//     incidents channel) and the workspaces file that lists them
//     (LoadWorkspaces);
//   - the incident card's block and action ids (ActionAcknowledge, BlockID,
//     ...): the notifier renders them, ingress's interaction receiver parses
//     them, so the two cannot drift apart;
//   - request signing (Sign, Signature) and its verification (Verify, with
//     slack-go's SecretsVerifier);
//   - the Web API clients, one per workspace (Clients);
//   - text: escaping for message text and mrkdwn (Escape, Unescape) and
//     user mentions (Mention, ParseMention, IsUserID).
//
// Its subpackage slackfake is the stand-in for the Slack Web API the tests
// run against.
package slackapp
