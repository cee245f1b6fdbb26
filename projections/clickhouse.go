// Package projections folds the event log into ClickHouse for queries and
// analytics: the schema, one projector per table (a durable JetStream pull
// consumer → batched inserts), and the read side.
package projections

import (
	"context"
	"crypto/tls"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Database is the ClickHouse database Argus writes; its table names are part
// of the public contract.
const Database = "argus"

// ConnectOption configures Connect.
type ConnectOption func(*clickhouse.Options)

// WithAuth connects as user with password (default: "default" without).
func WithAuth(user, password string) ConnectOption {
	return func(o *clickhouse.Options) { o.Auth.Username, o.Auth.Password = user, password }
}

// WithTLS connects over TLS.
func WithTLS(c *tls.Config) ConnectOption { return func(o *clickhouse.Options) { o.TLS = c } }

// Connect opens a native-protocol connection pool to addr (host:port).
// Native only: Debian's 18.16 rejects the HTTP protocol of clickhouse-go.
func Connect(ctx context.Context, addr string, opts ...ConnectOption) (driver.Conn, error) {
	o := &clickhouse.Options{
		Addr:         []string{addr},
		Auth:         clickhouse.Auth{Username: "default"},
		DialTimeout:  3 * time.Second,
		ReadTimeout:  60 * time.Second,
		MaxOpenConns: 8,
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	}
	for _, opt := range opts {
		opt(o)
	}
	conn, err := clickhouse.Open(o)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", addr, err)
	}
	return conn, nil
}

// schema is idempotent DDL for the database db that works on ClickHouse
// 18.16 and 25.x: no DateTime64, TTL or LowCardinality. Rows carry the stream
// sequence and ReplacingMergeTree keeps one row per key, so redelivered
// events are harmless; read with FINAL.
func schema(db string) []string {
	return []string{
		`CREATE DATABASE IF NOT EXISTS ` + db,
		`CREATE TABLE IF NOT EXISTS ` + db + `.events (
		seq UInt64,
		time DateTime,
		time_ms UInt64,
		type String,
		aggregate_kind String,
		aggregate_id String,
		version UInt64,
		node String,
		event_id String,
		causation_id String,
		correlation_id String,
		data String
	) ENGINE = ReplacingMergeTree(seq)
	PARTITION BY toYYYYMM(time)
	ORDER BY seq`,
		`CREATE TABLE IF NOT EXISTS ` + db + `.devices (
		id String,
		name String,
		url String,
		username String,
		channels UInt32,
		label_keys Array(String),
		label_values Array(String),
		status String,
		version UInt64,
		removed UInt8,
		created_at DateTime,
		updated_at DateTime,
		seq UInt64
	) ENGINE = ReplacingMergeTree(seq)
	ORDER BY id`,
		`CREATE TABLE IF NOT EXISTS ` + db + `.recordings (
		device String,
		channel UInt32,
		start DateTime,
		` + "`end`" + ` DateTime,
		start_ms UInt64,
		end_ms UInt64,
		duration_ms UInt64,
		bytes UInt64,
		key String,
		recovered UInt8,
		deleted UInt8,
		seq UInt64
	) ENGINE = ReplacingMergeTree(seq)
	PARTITION BY toYYYYMM(start)
	ORDER BY (device, channel, start_ms, key)`,
		`CREATE TABLE IF NOT EXISTS ` + db + `.device_status (
		device String,
		status String,
		start_ms UInt64,
		end_ms UInt64,
		seq UInt64
	) ENGINE = ReplacingMergeTree(seq)
	ORDER BY (device, start_ms)`,
		`CREATE TABLE IF NOT EXISTS ` + db + `.stream_sessions (
		device String,
		channel UInt32,
		node String,
		start_ms UInt64,
		end_ms UInt64,
		peak_readers UInt32,
		bytes UInt64,
		reason String,
		seq UInt64
	) ENGINE = ReplacingMergeTree(seq)
	ORDER BY (device, channel, start_ms)`,
		`CREATE TABLE IF NOT EXISTS ` + db + `.audit (
		kind String,
		device String,
		channel UInt32,
		key_id String,
		client String,
		protocol String,
		start DateTime,
		start_ms UInt64,
		end_ms UInt64,
		bytes UInt64,
		from_ms UInt64,
		to_ms UInt64,
		node String,
		seq UInt64
	) ENGINE = ReplacingMergeTree(seq)
	PARTITION BY toYYYYMM(start)
	ORDER BY (device, channel, start_ms, seq)`,
		`CREATE TABLE IF NOT EXISTS ` + db + `.alarms (
		id String,
		device String,
		channel UInt32,
		type String,
		source String,
		severity String,
		message String,
		state String,
		active UInt8,
		raised_at DateTime,
		raised_at_ms UInt64,
		last_at_ms UInt64,
		ended_at_ms UInt64,
		count UInt32,
		acked_by String,
		acked_at_ms UInt64,
		note String,
		cleared_by String,
		cleared_at_ms UInt64,
		clear_reason String,
		snapshot_key String,
		raised_by String,
		trigger String,
		seq UInt64
	) ENGINE = ReplacingMergeTree(seq)
	PARTITION BY toYYYYMM(raised_at)
	ORDER BY (device, id)`,
		// One row per task; never its callback secret.
		`CREATE TABLE IF NOT EXISTS ` + db + `.tasks (
		id String,
		type String,
		state String,
		progress Float64,
		worker String,
		attempt UInt32,
		attempts UInt32,
		device String,
		channel UInt32,
		from_ms UInt64,
		to_ms UInt64,
		source String,
		` + "`group`" + ` String,
		priority Int32,
		queue String,
		key_id String,
		max_attempts UInt32,
		param_timestamp UInt8,
		param_speed UInt32,
		param_renditions Array(String),
		param_width UInt32,
		callback_url String,
		created_by String,
		created_at DateTime,
		created_at_ms UInt64,
		started_at_ms UInt64,
		finished_at_ms UInt64,
		progress_at_ms UInt64,
		has_result UInt8,
		result_key String,
		result_bytes Int64,
		duration_ms Int64,
		content_type String,
		result_files Array(String),
		error String,
		dead_letter UInt8,
		version UInt64,
		created_seq UInt64,
		seq UInt64
	) ENGINE = ReplacingMergeTree(seq)
	PARTITION BY toYYYYMM(created_at)
	ORDER BY id`,
	}
}

// dbName is what MigrateInto accepts as a database name: a plain identifier
// that needs no quoting.
var dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Migrate creates the database and tables when missing.
func Migrate(ctx context.Context, conn driver.Conn) error {
	return MigrateInto(ctx, conn, Database)
}

// MigrateInto creates database and the Argus tables (events, devices, recordings, device_status, stream_sessions, audit, alarms, tasks) in it
// when missing: the schema of Migrate under another database name (tests,
// side-by-side installs).
func MigrateInto(ctx context.Context, conn driver.Conn, database string) error {
	if !dbName.MatchString(database) {
		return fmt.Errorf("migrate: invalid database name %q", database)
	}
	for _, q := range schema(database) {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("migrate: %w\n%s", err, q)
		}
	}
	return nil
}
