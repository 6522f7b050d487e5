// Package deploy holds how incidentd runs: the compose file for local
// development, and the topic definitions that both compose and incidentd's
// admin code read.
package deploy

import _ "embed"

// Topics is deploy/topics.txt: one line per topic, "suffix partitions configs".
//
//go:embed topics.txt
var Topics string
