package slackapp

import (
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Clients makes the Web API client of each workspace, with its bot token,
// once, and keeps it: a slack.Client holds no connection of its own, all
// of them share one http.Client. It is safe for concurrent use.
type Clients struct {
	apiURL string
	hc     *http.Client

	mu      sync.Mutex
	clients map[string]*slack.Client // by team id
}

// NewClients returns the clients for the Web API at apiURL (empty means
// slack.com; tests give a slackfake server's APIURL()), each call bounded
// by timeout.
func NewClients(apiURL string, timeout time.Duration) *Clients {
	return &Clients{apiURL: apiURL, hc: &http.Client{Timeout: timeout}, clients: map[string]*slack.Client{}}
}

// For returns the client of a workspace, made on first use. Workspaces
// are configuration: a team's token does not change while it runs.
func (c *Clients) For(w Workspace) *slack.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.clients[w.TeamID]
	if !ok {
		opts := []slack.Option{slack.OptionHTTPClient(c.hc)}
		if c.apiURL != "" {
			opts = append(opts, slack.OptionAPIURL(c.apiURL))
		}
		cl = slack.New(w.BotToken, opts...)
		c.clients[w.TeamID] = cl
	}
	return cl
}
