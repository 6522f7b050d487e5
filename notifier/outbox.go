package notifier

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// OutboxFile is the outbox's name inside the notifier's data directory.
const OutboxFile = "outbox.jsonl"

// OutboxEntry is one call the notifier would have made to Slack.
type OutboxEntry struct {
	Time       time.Time       `json:"time"`
	Method     string          `json:"method"`
	Channel    string          `json:"channel"`
	TS         string          `json:"ts,omitempty"`
	ThreadTS   string          `json:"thread_ts,omitempty"`
	User       string          `json:"user,omitempty"`
	IncidentID string          `json:"incident_id"`
	Tenant     string          `json:"tenant,omitempty"` // set on replies outside an incident
	Text       string          `json:"text"`
	Blocks     json.RawMessage `json:"blocks,omitempty"`
}

// Outbox is the Sender used without Slack credentials: it appends each call
// as a JSON line to a file the dashboard shows (ReadOutbox). Posted messages
// get a made-up ts, unique within the file's life, so edits and threads
// refer to them as they would in Slack.
type Outbox struct {
	path string
	now  func() time.Time

	mu  sync.Mutex
	f   *os.File
	seq int64
}

// OpenOutbox opens (creating) the outbox file for appending.
func OpenOutbox(path string, now func() time.Time) (*Outbox, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("notifier: open outbox: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("notifier: open outbox: %w", err)
	}
	return &Outbox{path: path, now: now, f: f}, nil
}

// Close closes the file.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.f.Close()
}

// Send implements Sender. Each call is one line, written and synced before
// Send returns.
func (o *Outbox) Send(ctx context.Context, c Call) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", true, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now().UTC()
	ts := c.TS
	if c.Method != MethodUpdate {
		o.seq++
		ts = strconv.FormatInt(now.Unix(), 10) + "." + fmt.Sprintf("%06d", (now.UnixMicro()+o.seq)%1000000)
	}
	e := OutboxEntry{Time: now, Method: c.Method, Channel: c.Channel, TS: ts, ThreadTS: c.ThreadTS, User: c.User,
		IncidentID: c.IncidentID, Tenant: c.Tenant, Text: c.Text}
	if len(c.Blocks) > 0 {
		b, err := json.Marshal(c.Blocks)
		if err != nil {
			return "", false, fmt.Errorf("notifier: outbox: encode blocks: %w", err)
		}
		e.Blocks = b
	}
	line, err := json.Marshal(e)
	if err != nil {
		return "", false, fmt.Errorf("notifier: outbox: encode: %w", err)
	}
	if _, err := o.f.Write(append(line, '\n')); err != nil {
		return "", true, fmt.Errorf("notifier: outbox: write: %w", err)
	}
	if err := o.f.Sync(); err != nil {
		return "", true, fmt.Errorf("notifier: outbox: sync: %w", err)
	}
	return ts, false, nil
}

// maxOutboxRead bounds ReadOutbox's limit.
const maxOutboxRead = 10000

// ReadOutbox returns the newest limit entries of an outbox file, newest
// first. A missing file is an empty outbox. A torn last line (a crash in
// the middle of a write) is skipped; any other malformed line is an error
// naming it.
func ReadOutbox(path string, limit int) ([]OutboxEntry, error) {
	if limit < 1 || limit > maxOutboxRead {
		return nil, fmt.Errorf("notifier: read outbox: limit %d, want 1 to %d", limit, maxOutboxRead)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("notifier: read outbox: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	ring := make([]OutboxEntry, 0, min(limit, 256))
	start := 0 // index of the oldest entry once the ring is full
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil && len(line) == 0 {
			if !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("notifier: read outbox: %w", err)
			}
			break
		}
		torn := err != nil // no trailing newline: the last write did not finish
		var e OutboxEntry
		if uerr := json.Unmarshal(line, &e); uerr != nil {
			if torn {
				break
			}
			return nil, fmt.Errorf("notifier: read outbox %s line %d: %w", path, n, uerr)
		}
		if len(ring) < limit {
			ring = append(ring, e)
		} else {
			ring[start] = e
			start = (start + 1) % limit
		}
		if torn {
			break
		}
	}
	out := append(ring[start:len(ring):len(ring)], ring[:start]...)
	slices.Reverse(out)
	return out, nil
}
