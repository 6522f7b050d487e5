package readmodel

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
	if err := ValidIdent(database); err != nil {
		return fmt.Errorf("readmodel: migrate: database: %w", err)
	}
	for _, stmt := range []string{SQLCreateDatabase(database), SQLCreateMigrations(database)} {
		if err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("readmodel: migrate: %w", err)
		}
	}
	applied, err := appliedMigrations(ctx, conn, database)
	if err != nil {
		return err
	}
	for _, m := range Migrations {
		if applied[m.Version] {
			continue
		}
		for _, stmt := range m.Tables(LiveTables(database)) {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("readmodel: migrate: %d %s: %w", m.Version, m.Name, err)
			}
		}
		b, err := conn.PrepareBatch(ctx, SQLInsertMigration(database))
		if err == nil {
			err = AppendColumns(b, []any{[]uint32{m.Version}, []string{m.Name}, []int64{time.Now().UnixMilli()}})
		}
		if err != nil {
			return fmt.Errorf("readmodel: migrate: record %d: %w", m.Version, err)
		}
	}
	return nil
}

func appliedMigrations(ctx context.Context, conn driver.Conn, database string) (map[uint32]bool, error) {
	rows, err := conn.Query(ctx, SQLAppliedMigrations(database))
	if err != nil {
		return nil, fmt.Errorf("readmodel: migrate: applied versions: %w", err)
	}
	defer rows.Close()
	applied := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("readmodel: migrate: applied versions: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: migrate: applied versions: %w", err)
	}
	return applied, nil
}

// CreateTables creates a set of tables with every migration's statements
// (a rebuild's fresh tables).
func CreateTables(ctx context.Context, conn driver.Conn, t Tables) error {
	for _, m := range Migrations {
		for _, stmt := range m.Tables(t) {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d %s: %w", m.Version, m.Name, err)
			}
		}
	}
	return nil
}
