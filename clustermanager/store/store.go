package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/tashi-go/tashi/api"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Channel is the LISTEN/NOTIFY channel every committed change is announced
// on; the payload is the transaction id.
const Channel = "tashi_changes"

// Limits are the cluster-wide rules from config.
type Limits struct {
	MaxCores            int           // per VM
	MaxMemory           int           // MiB per VM
	AllowDuplicateNames bool          // Tashi's allowDuplicateNames
	ExpireHostTime      time.Duration // a host is down after this long without a heartbeat
	AllowMismatched     bool          // allowMismatchedVersions
	DefaultNetwork      string        // name or id
	Version             string        // the CM's version; NMs must match
	ClaimTTL            time.Duration
}

// DefaultLimits are Tashi's defaults.
func DefaultLimits() Limits {
	return Limits{MaxCores: 8, MaxMemory: 8192, ExpireHostTime: 30 * time.Second,
		DefaultNetwork: "default", Version: "dev", ClaimTTL: time.Minute}
}

// Store is the record. All methods are safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	limits Limits
	now    func() time.Time
	pools  sync.Map // network id -> its address pool (ranges never change)
}

// Open connects to dsn and applies the schema migrations.
func Open(ctx context.Context, dsn string, l Limits) (*Store, error) {
	if err := Migrate(ctx, dsn); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database dsn: %w", err)
	}
	cfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the record: %w", err)
	}
	return &Store{pool: pool, limits: l, now: time.Now}, nil
}

// Migrate applies the versioned schema migrations (tern; it takes an
// advisory lock, so several CMs may start at once).
func Migrate(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to migrate the record: %w", err)
	}
	defer conn.Close(ctx)
	m, err := migrate.NewMigrator(ctx, conn, "schema_version")
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() { s.pool.Close() }

// Pool exposes the pool for the watch listener and tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Limits returns the configured limits.
func (s *Store) Limits() Limits { return s.limits }

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Actor is who makes a request.
type Actor struct {
	UserID int64
	Name   string
	Role   api.Role
}

// IsAdmin reports whether the actor may act on everything.
func (a Actor) IsAdmin() bool { return a.Role == api.RoleAdmin }

// Answer is a committed answer to a mutating request.
type Answer struct {
	Status int
	Body   json.RawMessage
}

// mutation is the body of one write transaction. It returns the value to
// answer with; the wrapper records it under the idempotency key.
type mutation func(ctx context.Context, tx pgx.Tx) (any, error)

// Mutate runs fn in one transaction, announces the change, and remembers
// the answer under key, so that a retry with the same key gets the first
// answer and changes nothing. An empty key disables the memory.
//
// A transaction PostgreSQL aborts as a deadlock victim or for a
// serialization failure is run again, up to 3 times: two admissions that
// drew each other's addresses after the cursor wrapped, for one.
func (s *Store) Mutate(ctx context.Context, a Actor, key string, status int, fn mutation) (Answer, error) {
	for try := 1; ; try++ {
		ans, err := s.mutateOnce(ctx, a, key, status, fn)
		if try == 3 || !retryable(err) {
			return ans, mapErr(err)
		}
		select {
		case <-ctx.Done():
			return ans, mapErr(err)
		case <-time.After(time.Duration(try*(1+mrand.IntN(5))) * time.Millisecond):
		}
	}
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

func (s *Store) mutateOnce(ctx context.Context, a Actor, key string, status int, fn mutation) (Answer, error) {
	var ans Answer
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if key != "" {
			prev, found, err := claimKey(ctx, tx, a.UserID, key)
			if err != nil || found {
				ans = prev
				return err
			}
		}
		out, err := fn(ctx, tx)
		if err != nil {
			return err
		}
		body, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode answer: %w", err)
		}
		ans = Answer{Status: status, Body: body}
		if key != "" {
			if _, err := tx.Exec(ctx, `UPDATE requests SET status=$3, response=$4
				WHERE user_id=$1 AND key=$2`, a.UserID, key, status, body); err != nil {
				return fmt.Errorf("remember answer: %w", err)
			}
		}
		return notify(ctx, tx)
	})
	return ans, err
}

// claimKey inserts the key; if another transaction already committed it,
// it returns that transaction's answer. A concurrent holder of the same
// key makes this wait until it commits or rolls back.
func claimKey(ctx context.Context, tx pgx.Tx, user int64, key string) (Answer, bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO requests (key, user_id, status, response)
		VALUES ($1, $2, 0, 'null') ON CONFLICT DO NOTHING`, key, user)
	if err != nil {
		return Answer{}, false, fmt.Errorf("record request key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return Answer{}, false, nil
	}
	var a Answer
	err = tx.QueryRow(ctx, `SELECT status, response FROM requests WHERE user_id=$1 AND key=$2`,
		user, key).Scan(&a.Status, &a.Body)
	if err != nil {
		return a, false, fmt.Errorf("read remembered answer: %w", err)
	}
	return a, true, nil
}

func notify(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, pg_current_xact_id()::text)`, Channel)
	if err != nil {
		return fmt.Errorf("announce change: %w", err)
	}
	return nil
}

// PruneRequests forgets idempotency keys older than ttl.
func (s *Store) PruneRequests(ctx context.Context, ttl time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM requests WHERE created_at < now() - $1::interval`,
		fmt.Sprintf("%d seconds", int64(ttl.Seconds())))
	if err != nil {
		return 0, fmt.Errorf("prune request keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// logEvent appends one line to the event log.
func logEvent(ctx context.Context, tx pgx.Tx, a Actor, inst, host *int64, kind string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO events (instance_id, host_id, actor, kind, detail)
		VALUES ($1, $2, $3, $4, $5)`, inst, host, a.Name, kind, detail)
	if err != nil {
		return fmt.Errorf("log event %s: %w", kind, err)
	}
	return nil
}

// mapErr turns database errors that users can cause into API errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return api.Errorf(api.CodeDuplicate, pgErr.ColumnName, "already exists (%s)", pgErr.ConstraintName)
		case "40001", "40P01":
			return api.Errorf(api.CodeUnavailable, "", "concurrent update, try again")
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return api.Errorf(api.CodeNotFound, "", "not found")
	}
	return err
}

func i64p(v int64) *int64 { return &v }

// refID is the numeric reading of a reference that may be an id or a
// name, or nil: queries say `id = $2 OR name = $1`, which use the indexes.
func refID(ref string) *int64 {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return nil
	}
	return &id
}
