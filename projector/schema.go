package projector

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migrate creates the database and brings its schema up to date: every
// migration not yet recorded in schema_migrations is applied, in order, and
// recorded. It is idempotent and safe to run from several processes at
// once (every statement is IF NOT EXISTS and the record deduplicates).
func Migrate(ctx context.Context, conn driver.Conn, database string) error {
	if err := validIdent(database); err != nil {
		return fmt.Errorf("projector: migrate: database: %w", err)
	}
	for _, stmt := range []string{sqlCreateDatabase(database), sqlCreateMigrations(database), sqlCreateOffsets(database)} {
		if err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("projector: migrate: %w", err)
		}
	}
	applied, err := appliedMigrations(ctx, conn, database)
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		for _, stmt := range m.Tables(liveTables(database)) {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("projector: migrate: %d %s: %w", m.Version, m.Name, err)
			}
		}
		b, err := conn.PrepareBatch(ctx, sqlInsertMigration(database))
		if err == nil {
			err = appendColumns(b, []any{[]uint32{m.Version}, []string{m.Name}, []int64{time.Now().UnixMilli()}})
		}
		if err != nil {
			return fmt.Errorf("projector: migrate: record %d: %w", m.Version, err)
		}
	}
	return nil
}

func appliedMigrations(ctx context.Context, conn driver.Conn, database string) (map[uint32]bool, error) {
	rows, err := conn.Query(ctx, sqlAppliedMigrations(database))
	if err != nil {
		return nil, fmt.Errorf("projector: migrate: applied versions: %w", err)
	}
	defer rows.Close()
	applied := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("projector: migrate: applied versions: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projector: migrate: applied versions: %w", err)
	}
	return applied, nil
}

// createTables creates a table set with every migration's statements, for
// a rebuild's fresh tables.
func createTables(ctx context.Context, conn driver.Conn, t tableSet) error {
	for _, m := range migrations {
		for _, stmt := range m.Tables(t) {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d %s: %w", m.Version, m.Name, err)
			}
		}
	}
	return nil
}
