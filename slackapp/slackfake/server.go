package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultMessageInterval is the per-channel spacing Slack asks of
// chat.postMessage: about one message per second.
const DefaultMessageInterval = time.Second

// Team is a workspace the server knows, with its bot's token.
type Team struct {
	ID        string // T...
	Name      string
	Token     string // xoxb-...
	BotUserID string // U...
	BotID     string // B...
}

// Call is one request the server received, in arrival order.
type Call struct {
	Seq    int
	At     time.Time
	Method string     // "chat.postMessage"
	Team   string     // team id of the token, "" if the token was refused
	Params url.Values // form fields, or a JSON body's top-level fields (non-strings as JSON)
	Body   []byte     // the raw request body
	Status int        // HTTP status answered
	Error  string     // Slack error code when ok was false, "ratelimited" on 429
}

// OK reports whether the call succeeded.
func (c Call) OK() bool { return c.Status == http.StatusOK && c.Error == "" }

// Message is a message as the channel shows it after every call.
type Message struct {
	Team      string
	Channel   string
	TS        string
	ThreadTS  string // parent's ts for a thread reply
	Text      string
	Blocks    json.RawMessage // as last posted or updated; nil without blocks
	Metadata  json.RawMessage // chat.postMessage's metadata (event_type, event_payload); nil without
	Updates   int             // successful chat.update calls on it
	Ephemeral bool            // posted with chat.postEphemeral
	User      string          // recipient of an ephemeral message
	From      string          // author of a person's message (AddMessage); "" for the bot's own
	Seq       int             // Call.Seq of the call that created it; 0 for AddMessage
}

// Option configures a Server.
type Option func(*Server)

// WithTeams registers the workspaces whose tokens the server accepts.
func WithTeams(teams ...Team) Option {
	return func(s *Server) {
		for _, t := range teams {
			s.teams[t.Token] = t
		}
	}
}

// WithMessageInterval sets the per-channel spacing of chat.postMessage and
// chat.update (DefaultMessageInterval if not set); 0 turns the limit off.
func WithMessageInterval(d time.Duration) Option {
	return func(s *Server) { s.interval = d }
}

// WithListener serves on l (a chosen address) instead of a kernel-chosen
// loopback port; the server closes l.
func WithListener(l net.Listener) Option {
	return func(s *Server) { s.listener = l }
}

// Server is a running fake Slack Web API.
type Server struct {
	srv      *httptest.Server
	interval time.Duration
	listener net.Listener

	mu        sync.Mutex
	teams     map[string]Team // by token
	calls     []Call
	msgs      map[string]*Message // by channel+"/"+ts
	order     []string            // message keys in creation order
	lastSend  map[string]time.Time
	chanErrs  map[string]string
	failNext  map[string][]int           // method -> HTTP statuses still to answer
	lateNext  map[string][]time.Duration // method -> delays of answers still to give late
	tsCounter int64
	views     int
}

// New starts a server on a loopback port (or WithListener's). Close stops it.
func New(opts ...Option) *Server {
	s := &Server{
		interval: DefaultMessageInterval,
		teams:    map[string]Team{},
		msgs:     map[string]*Message{},
		lastSend: map[string]time.Time{},
		chanErrs: map[string]string{},
		failNext: map[string][]int{},
		lateNext: map[string][]time.Duration{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if s.listener != nil {
		_ = s.srv.Listener.Close()
		s.srv.Listener = s.listener
	}
	s.srv.Start()
	return s
}

// Start is New for a test: the server closes when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s
}

// URL is the server's base URL; slack-go wants URL()+"/api/".
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the value for slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Close stops the server and closes client connections.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// AddTeam registers one more workspace.
func (s *Server) AddTeam(t Team) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teams[t.Token] = t
}

// AddMessage puts a message a person posted (From, Text; ThreadTS for a
// thread reply) into its channel, where conversations.replies finds it.
// Team, Channel and TS are required.
func (s *Server) AddMessage(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.Seq, m.Ephemeral, m.Updates = 0, false, 0
	s.add(&m)
}

// SetChannelError makes every message call on channel fail with the Slack
// error code (channel_not_found, not_in_channel, is_archived, ...); an
// empty code clears it.
func (s *Server) SetChannelError(channel, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.chanErrs, channel)
		return
	}
	s.chanErrs[channel] = code
}

// FailNext makes the next n calls of method answer with the HTTP status
// (500, 502, 503) and an HTML body, as Slack's edge does.
func (s *Server) FailNext(method string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext[method] = append(s.failNext[method], status)
	}
}

// AnswerLate makes the next n calls of method take effect at once and be
// answered only after d, as when Slack's answer is lost or slow: a client
// that gives up before d does not know that the call was made.
func (s *Server) AnswerLate(method string, n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.lateNext[method] = append(s.lateNext[method], d)
	}
}

// Calls returns every call received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsTo returns the calls of one method.
func (s *Server) CallsTo(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns the messages of a channel ("" for all), in the order
// they were created, as they look now.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, k := range s.order {
		m := s.msgs[k]
		if channel == "" || m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns one message as it looks now.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[channel+"/"+ts]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// response is what every method answers; fields are merged in per method.
type response map[string]any

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || r.Method != http.MethodPost && r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	params, perr := parseParams(r, body)

	s.mu.Lock()
	var late time.Duration
	if q := s.lateNext[method]; len(q) > 0 {
		late, s.lateNext[method] = q[0], q[1:]
	}
	call := Call{Seq: len(s.calls) + 1, At: time.Now(), Method: method, Params: params, Body: body, Status: http.StatusOK}
	status, resp := s.handle(&call, r, perr)
	call.Status = status
	switch status {
	case http.StatusOK:
		if okv, _ := resp["ok"].(bool); !okv {
			call.Error, _ = resp["error"].(string)
		}
	case http.StatusTooManyRequests:
		call.Error = "ratelimited"
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()

	if late > 0 {
		// The call has taken effect; its answer comes late, or never to
		// a client that gave up.
		t := time.NewTimer(late)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if status >= 500 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body>%d</body></html>", status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", resp["retry_after"].(string))
		delete(resp, "retry_after")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}

func fail(code string) (int, response) {
	return http.StatusOK, response{"ok": false, "error": code}
}

// handle runs one call with s.mu held.
func (s *Server) handle(c *Call, r *http.Request, perr error) (int, response) {
	if q := s.failNext[c.Method]; len(q) > 0 {
		s.failNext[c.Method] = q[1:]
		return q[0], nil
	}
	token := c.Params.Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		bearer, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return fail("invalid_auth")
		}
		token = bearer
	}
	if token == "" {
		return fail("not_authed")
	}
	team, ok := s.teams[token]
	if !ok {
		return fail("invalid_auth")
	}
	c.Team = team.ID
	if perr != nil {
		return fail("invalid_arguments")
	}
	switch c.Method {
	case "auth.test":
		return http.StatusOK, response{"ok": true, "url": "https://" + team.Name + ".slack.com/",
			"team": team.Name, "user": "incidentd", "team_id": team.ID, "user_id": team.BotUserID, "bot_id": team.BotID}
	case "chat.postMessage":
		return s.postMessage(c, team)
	case "chat.update":
		return s.update(c, team)
	case "chat.postEphemeral":
		return s.postEphemeral(c, team)
	case "views.open":
		return s.viewsOpen(c, team)
	case "conversations.replies":
		return s.replies(c, team)
	case "conversations.history":
		return s.history(c, team)
	}
	return fail("unknown_method")
}

// content checks a message's text and blocks as Slack does.
func content(p url.Values) (text string, blocks json.RawMessage, code string) {
	text = p.Get("text")
	if b := p.Get("blocks"); b != "" {
		var arr []map[string]any
		if err := json.Unmarshal([]byte(b), &arr); err != nil {
			return "", nil, "invalid_blocks"
		}
		if len(arr) > 50 {
			return "", nil, "invalid_blocks"
		}
		for _, blk := range arr {
			if t, _ := blk["type"].(string); t == "" {
				return "", nil, "invalid_blocks"
			}
			if id, ok := blk["block_id"].(string); ok && len(id) > 255 {
				return "", nil, "invalid_blocks"
			}
		}
		if len(arr) > 0 {
			blocks = json.RawMessage(b)
		}
	}
	if strings.TrimSpace(text) == "" && blocks == nil && p.Get("attachments") == "" {
		return "", nil, "no_text"
	}
	if len(text) > 40000 {
		return "", nil, "msg_too_long"
	}
	return text, blocks, ""
}

// limited applies the per-channel message limit; it returns the 429 to
// answer, if any, and otherwise counts the call.
func (s *Server) limited(c *Call, channel string) (int, response, bool) {
	if s.interval <= 0 {
		return 0, nil, false
	}
	if last, ok := s.lastSend[channel]; ok {
		if wait := s.interval - c.At.Sub(last); wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			return http.StatusTooManyRequests, response{"ok": false, "error": "ratelimited", "retry_after": strconv.Itoa(secs)}, true
		}
	}
	s.lastSend[channel] = c.At
	return 0, nil, false
}

func (s *Server) channelOK(channel string) string {
	if channel == "" {
		return "channel_not_found"
	}
	return s.chanErrs[channel]
}

func (s *Server) nextTS() string {
	s.tsCounter++
	return fmt.Sprintf("1700000000.%06d", s.tsCounter)
}

func (s *Server) postMessage(c *Call, team Team) (int, response) {
	ch := c.Params.Get("channel")
	if code := s.channelOK(ch); code != "" {
		return fail(code)
	}
	text, blocks, code := content(c.Params)
	if code != "" {
		return fail(code)
	}
	var meta json.RawMessage
	if v := c.Params.Get("metadata"); v != "" {
		var md struct {
			EventType string         `json:"event_type"`
			Payload   map[string]any `json:"event_payload"`
		}
		if json.Unmarshal([]byte(v), &md) != nil || md.EventType == "" || md.Payload == nil {
			return fail("invalid_metadata_format")
		}
		meta = json.RawMessage(v)
	}
	if st, resp, ok := s.limited(c, ch); ok {
		return st, resp
	}
	m := &Message{Team: team.ID, Channel: ch, TS: s.nextTS(), ThreadTS: c.Params.Get("thread_ts"), Text: text, Blocks: blocks,
		Metadata: meta, Seq: c.Seq}
	s.add(m)
	return http.StatusOK, response{"ok": true, "channel": ch, "ts": m.TS, "message": messageJSON(m, team, true)}
}

func (s *Server) update(c *Call, team Team) (int, response) {
	ch, ts := c.Params.Get("channel"), c.Params.Get("ts")
	if code := s.channelOK(ch); code != "" {
		return fail(code)
	}
	m, ok := s.msgs[ch+"/"+ts]
	if ts == "" || !ok || m.Ephemeral {
		return fail("message_not_found")
	}
	if m.Team != team.ID {
		return fail("cant_update_message")
	}
	text, blocks, code := content(c.Params)
	if code != "" {
		return fail(code)
	}
	if st, resp, ok := s.limited(c, ch); ok {
		return st, resp
	}
	m.Text, m.Blocks = text, blocks
	m.Updates++
	return http.StatusOK, response{"ok": true, "channel": ch, "ts": ts, "text": text, "message": messageJSON(m, team, false)}
}

func (s *Server) postEphemeral(c *Call, team Team) (int, response) {
	ch := c.Params.Get("channel")
	if code := s.channelOK(ch); code != "" {
		return fail(code)
	}
	user := c.Params.Get("user")
	if user == "" {
		return fail("user_not_in_channel")
	}
	text, blocks, code := content(c.Params)
	if code != "" {
		return fail(code)
	}
	m := &Message{Team: team.ID, Channel: ch, TS: s.nextTS(), ThreadTS: c.Params.Get("thread_ts"), Text: text,
		Blocks: blocks, Ephemeral: true, User: user, Seq: c.Seq}
	s.add(m)
	return http.StatusOK, response{"ok": true, "message_ts": m.TS}
}

func (s *Server) viewsOpen(c *Call, team Team) (int, response) {
	if c.Params.Get("trigger_id") == "" {
		return fail("invalid_arguments")
	}
	var view map[string]any
	if err := json.Unmarshal([]byte(c.Params.Get("view")), &view); err != nil || view["type"] != "modal" {
		return fail("invalid_arguments")
	}
	s.views++
	view["id"] = fmt.Sprintf("V%08d", s.views)
	view["team_id"] = team.ID
	return http.StatusOK, response{"ok": true, "view": view}
}

// replies is conversations.replies: the message at ts and, when it starts
// a thread, the thread's replies, oldest first, within oldest and latest
// (exclusive unless inclusive is true) and at most limit of them.
// Ephemeral messages are nobody's history.
func (s *Server) replies(c *Call, team Team) (int, response) {
	ch, ts := c.Params.Get("channel"), c.Params.Get("ts")
	if code := s.channelOK(ch); code != "" {
		return fail(code)
	}
	parent, ok := s.msgs[ch+"/"+ts]
	if ts == "" || !ok || parent.Ephemeral || parent.Team != team.ID {
		return fail("thread_not_found")
	}
	inclusive := c.Params.Get("inclusive") == "true" || c.Params.Get("inclusive") == "1"
	within := func(m *Message) bool {
		if o := c.Params.Get("oldest"); o != "" && (m.TS < o || m.TS == o && !inclusive) {
			return false
		}
		if l := c.Params.Get("latest"); l != "" && (m.TS > l || m.TS == l && !inclusive) {
			return false
		}
		return true
	}
	thread := []*Message{parent}
	if parent.ThreadTS == "" || parent.ThreadTS == parent.TS {
		for _, k := range s.order {
			if m := s.msgs[k]; m.Channel == ch && m.ThreadTS == ts && m.TS != ts && !m.Ephemeral {
				thread = append(thread, m)
			}
		}
	}
	limit, _ := strconv.Atoi(c.Params.Get("limit"))
	withMeta := flag(c.Params.Get("include_all_metadata"))
	var out []any
	for _, m := range thread {
		if within(m) && (limit <= 0 || len(out) < limit) {
			out = append(out, messageJSON(m, team, withMeta))
		}
	}
	return http.StatusOK, response{"ok": true, "messages": out, "has_more": false}
}

// history is conversations.history: the channel's top-level messages (and
// thread replies also sent to the channel, which the server does not
// model), newest first, within oldest and latest (exclusive unless
// inclusive is true) and at most limit (default 100) of them; metadata
// only with include_all_metadata. Ephemeral messages are nobody's
// history.
func (s *Server) history(c *Call, team Team) (int, response) {
	ch := c.Params.Get("channel")
	if code := s.channelOK(ch); code != "" {
		return fail(code)
	}
	inclusive := flag(c.Params.Get("inclusive"))
	limit, _ := strconv.Atoi(c.Params.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	withMeta := flag(c.Params.Get("include_all_metadata"))
	var out []any
	for i := len(s.order) - 1; i >= 0 && len(out) < limit; i-- {
		m := s.msgs[s.order[i]]
		if m.Channel != ch || m.Ephemeral || m.ThreadTS != "" && m.ThreadTS != m.TS {
			continue
		}
		if o := c.Params.Get("oldest"); o != "" && (m.TS < o || m.TS == o && !inclusive) {
			continue
		}
		if l := c.Params.Get("latest"); l != "" && (m.TS > l || m.TS == l && !inclusive) {
			continue
		}
		out = append(out, messageJSON(m, team, withMeta))
	}
	return http.StatusOK, response{"ok": true, "messages": out, "has_more": false}
}

// flag reads a boolean form field as Slack does ("true" or "1").
func flag(v string) bool { return v == "true" || v == "1" }

func (s *Server) add(m *Message) {
	k := m.Channel + "/" + m.TS
	s.msgs[k] = m
	s.order = append(s.order, k)
}

func messageJSON(m *Message, team Team, withMeta bool) map[string]any {
	out := map[string]any{"type": "message", "user": team.BotUserID, "bot_id": team.BotID, "text": m.Text, "ts": m.TS}
	if m.From != "" {
		out["user"] = m.From
		delete(out, "bot_id")
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if withMeta && m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	return out
}

// parseParams reads a form or JSON body (and the query string) into values.
func parseParams(r *http.Request, body []byte) (url.Values, error) {
	p := r.URL.Query()
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case len(body) == 0:
	case ct == "application/json":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return p, fmt.Errorf("slackfake: json body: %w", err)
		}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				p.Set(k, str)
			} else {
				p.Set(k, string(raw))
			}
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return p, fmt.Errorf("slackfake: form body: %w", err)
		}
		for k, vs := range form {
			p[k] = vs
		}
	}
	return p, nil
}
