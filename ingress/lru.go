package ingress

// lru is a bounded map that forgets its least recently written entry. It
// is not safe for concurrent use; the tracker guards it.
type lru[K comparable, V any] struct {
	max        int
	items      map[K]*lruNode[K, V]
	head, tail *lruNode[K, V] // head: most recent
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruNode[K, V]
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, items: make(map[K]*lruNode[K, V])}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	n, ok := l.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	return n.val, true
}

func (l *lru[K, V]) put(k K, v V) {
	if n, ok := l.items[k]; ok {
		n.val = v
		l.unlink(n)
		l.pushFront(n)
		return
	}
	n := &lruNode[K, V]{key: k, val: v}
	l.items[k] = n
	l.pushFront(n)
	for len(l.items) > l.max {
		old := l.tail
		l.unlink(old)
		delete(l.items, old.key)
	}
}

func (l *lru[K, V]) len() int { return len(l.items) }

func (l *lru[K, V]) unlink(n *lruNode[K, V]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

func (l *lru[K, V]) pushFront(n *lruNode[K, V]) {
	n.next = l.head
	if l.head != nil {
		l.head.prev = n
	}
	l.head = n
	if l.tail == nil {
		l.tail = n
	}
}
