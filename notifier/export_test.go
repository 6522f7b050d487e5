package notifier

import (
	"log/slog"
	"path/filepath"
)

// SkipTo makes the store of a stopped notifier in dir resume partition p
// at offset next: the records before it are never folded, as if lost.
func SkipTo(dir string, p int32, next int64) error {
	st, err := openStore(filepath.Join(dir, "store"), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.close()
	b := st.batch()
	if err := b.putOffset(p, next); err != nil {
		b.discard()
		return err
	}
	return b.commit()
}
