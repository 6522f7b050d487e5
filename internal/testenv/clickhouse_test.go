package testenv_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/internal/testenv"
)

func TestClickHouse(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := ch.Open(t)

	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatalf("select version: %v", err)
	}
	if !strings.HasPrefix(version, "18.") {
		t.Logf("clickhouse-server version %s, tests target 18.16", version)
	}

	if err := conn.Exec(ctx, `CREATE TABLE t (id String, n UInt64) ENGINE = MergeTree ORDER BY id`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	// 18.16 needs the explicit column list for batches.
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO t (id, n)")
	if err != nil {
		t.Fatalf("prepare batch: %v", err)
	}
	for i, id := range []string{"a", "b", "c"} {
		if err := batch.Append(id, uint64(i+1)); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send batch: %v", err)
	}
	if got := sum(ctx, t, ch.Open(t)); got != 6 {
		t.Fatalf("sum(n) = %d, want 6", got)
	}

	ch.Kill(t)
	ch.Start(t)
	if got := sum(ctx, t, ch.Open(t)); got != 6 {
		t.Fatalf("sum(n) after kill and start = %d, want 6", got)
	}
}

func sum(ctx context.Context, t *testing.T, conn interface {
	Select(ctx context.Context, dest any, query string, args ...any) error
}) uint64 {
	t.Helper()
	var rows []struct {
		Total uint64 `ch:"total"`
	}
	if err := conn.Select(ctx, &rows, "SELECT sum(n) AS total FROM t"); err != nil {
		t.Fatalf("select: %v", err)
	}
	if len(rows) != 1 {
		t.Fatalf("select returned %d rows, want 1", len(rows))
	}
	return rows[0].Total
}
