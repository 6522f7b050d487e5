package processor

import "github.com/incidentd/incidentd/incident"

// stateCacheSize bounds the decoded states kept between steps: at most
// twice this many. Incidents are busy in bursts; the cache saves a Pebble
// read and a decode for each command of a busy incident.
const stateCacheSize = 4096

// stateCache holds recently committed states, decoded. It holds only
// states that are in Pebble (it is filled after the Pebble write), so
// dropping it loses nothing. It is a two-generation approximation of LRU:
// when the current generation is full it becomes the previous one, and
// the previous one is dropped. Only Run's goroutine uses it.
type stateCache struct {
	cur, prev map[string]incident.State
}

func newStateCache() *stateCache {
	return &stateCache{cur: map[string]incident.State{}, prev: map[string]incident.State{}}
}

func (c *stateCache) get(id string) (incident.State, bool) {
	if s, ok := c.cur[id]; ok {
		return s, true
	}
	s, ok := c.prev[id]
	if ok {
		c.put(id, s)
	}
	return s, ok
}

func (c *stateCache) put(id string, s incident.State) {
	if len(c.cur) >= stateCacheSize {
		c.prev, c.cur = c.cur, make(map[string]incident.State, stateCacheSize)
	}
	c.cur[id] = s
}

// reset drops everything, when Pebble was written behind the cache's back
// (a restore).
func (c *stateCache) reset() {
	clear(c.cur)
	clear(c.prev)
}
