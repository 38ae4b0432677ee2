package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

// NewToken returns a fresh random API token.
func NewToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "tashi_" + hex.EncodeToString(b[:])
}

// HashToken is how tokens are stored: never in the clear.
func HashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Authenticate finds the user a token belongs to.
func (s *Store) Authenticate(ctx context.Context, token string) (Actor, error) {
	var a Actor
	err := s.pool.QueryRow(ctx, `SELECT id, name, role FROM users WHERE token_hash = $1`,
		HashToken(token)).Scan(&a.UserID, &a.Name, &a.Role)
	if err == pgx.ErrNoRows {
		return a, api.Errorf(api.CodeUnauthenticated, "token", "the token is not valid")
	}
	return a, err
}

const userCols = `id, name, role, max_instances, max_cores, max_memory`

func scanUser(r pgx.Row) (api.User, error) {
	var u api.User
	err := r.Scan(&u.ID, &u.Name, &u.Role, &u.MaxInstances, &u.MaxCores, &u.MaxMemory)
	return u, err
}

// Users is getUsers (never with tokens).
func (s *Store) Users(ctx context.Context) ([]api.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	out := []api.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Store) userByRef(ctx context.Context, tx pgx.Tx, ref string) (api.User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users
		WHERE id = $2 OR name = $1 ORDER BY (name = $1) DESC LIMIT 1`, ref, refID(ref)))
	if err == pgx.ErrNoRows {
		return u, notFound("user", ref)
	}
	return u, err
}

func validQuota(field string, v int) error {
	if v < 0 || v > 1<<30 {
		return api.Errorf(api.CodeInvalid, field, "%s %d is out of range; accepted: 0 (unlimited)..%d", field, v, 1<<30)
	}
	return nil
}

// AddUser creates a user with a fresh token, returned once.
func (s *Store) AddUser(ctx context.Context, a Actor, key string, r api.AddUserRequest) (Answer, error) {
	if r.Role == "" {
		r.Role = api.RoleUser
	}
	if err := validUser(r); err != nil {
		return Answer{}, err
	}
	tok := NewToken()
	return s.Mutate(ctx, a, key, 201, func(ctx context.Context, tx pgx.Tx) (any, error) {
		u, err := insertUser(ctx, tx, r, tok)
		if err != nil {
			return nil, err
		}
		return u, logEvent(ctx, tx, a, nil, nil, "addUser", map[string]any{"name": r.Name, "role": r.Role})
	})
}

func validUser(r api.AddUserRequest) error {
	if err := api.ValidName("name", r.Name); err != nil {
		return err
	}
	if !slices.Contains(api.Roles, r.Role) {
		return api.Errorf(api.CodeInvalid, "role", "role %q is not valid; accepted: %v", r.Role, api.Roles)
	}
	for f, v := range map[string]int{"maxInstances": r.MaxInstances, "maxCores": r.MaxCores, "maxMemory": r.MaxMemory} {
		if err := validQuota(f, v); err != nil {
			return err
		}
	}
	return nil
}

func insertUser(ctx context.Context, tx pgx.Tx, r api.AddUserRequest, tok string) (api.User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `INSERT INTO users (name, role, token_hash, max_instances, max_cores, max_memory)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING `+userCols,
		r.Name, r.Role, HashToken(tok), r.MaxInstances, r.MaxCores, r.MaxMemory))
	if err == pgx.ErrNoRows {
		return u, api.Errorf(api.CodeDuplicate, "name", "user %q already exists", r.Name)
	}
	if err != nil {
		return u, fmt.Errorf("add user %s: %w", r.Name, err)
	}
	u.Token = tok
	return u, nil
}

// DelUser removes a user that owns no instances.
func (s *Store) DelUser(ctx context.Context, a Actor, key, ref string) (Answer, error) {
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		u, err := s.userByRef(ctx, tx, ref)
		if err != nil {
			return nil, err
		}
		if u.ID == a.UserID {
			return nil, api.Errorf(api.CodeConflict, "user", "you cannot remove yourself")
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM instances WHERE user_id = $1`, u.ID).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, api.Errorf(api.CodeConflict, "user", "user %s still owns %d instances", u.Name, n)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM instance_groups WHERE user_id = $1`, u.ID); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, u.ID); err != nil {
			return nil, fmt.Errorf("remove user %s: %w", u.Name, err)
		}
		return api.Message{Message: fmt.Sprintf("User %s removed.", u.Name)},
			logEvent(ctx, tx, a, nil, nil, "delUser", map[string]any{"name": u.Name})
	})
}

// SetQuota changes the given parts of a user's quota.
func (s *Store) SetQuota(ctx context.Context, a Actor, key, ref string, q api.Quota) (Answer, error) {
	for f, v := range map[string]*int{"maxInstances": q.MaxInstances, "maxCores": q.MaxCores, "maxMemory": q.MaxMemory} {
		if v != nil {
			if err := validQuota(f, *v); err != nil {
				return Answer{}, err
			}
		}
	}
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		u, err := s.userByRef(ctx, tx, ref)
		if err != nil {
			return nil, err
		}
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET
			max_instances = coalesce($2, max_instances), max_cores = coalesce($3, max_cores),
			max_memory = coalesce($4, max_memory) WHERE id = $1 RETURNING `+userCols,
			u.ID, q.MaxInstances, q.MaxCores, q.MaxMemory))
		if err != nil {
			return nil, fmt.Errorf("set quota of %s: %w", ref, err)
		}
		return u, logEvent(ctx, tx, a, nil, nil, "setQuota", map[string]any{"user": u.Name})
	})
}

// EnsureAdmin creates the first admin if there is no admin at all, and
// returns its token ("" if an admin already existed).
func (s *Store) EnsureAdmin(ctx context.Context, name string) (string, error) {
	tok := NewToken()
	var created bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(42)`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&n); err != nil || n > 0 {
			return err
		}
		created = true
		_, err := insertUser(ctx, tx, api.AddUserRequest{Name: name, Role: api.RoleAdmin}, tok)
		return err
	})
	if err != nil || !created {
		return "", mapErr(err)
	}
	return tok, nil
}

// ResetToken gives a user a new token (used by the CM to rewrite the admin
// token file when it was lost).
func (s *Store) ResetToken(ctx context.Context, name string) (string, error) {
	tok := NewToken()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET token_hash = $2 WHERE name = $1`, name, HashToken(tok))
	if err != nil {
		return "", fmt.Errorf("reset token of %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return "", notFound("user", name)
	}
	return tok, nil
}

// EnsureUser gives the named user (created with role if missing) a fresh
// token and returns it.
func (s *Store) EnsureUser(ctx context.Context, name string, role api.Role) (string, error) {
	if err := validUser(api.AddUserRequest{Name: name, Role: role}); err != nil {
		return "", err
	}
	tok := NewToken()
	_, err := s.pool.Exec(ctx, `INSERT INTO users (name, role, token_hash) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET token_hash = EXCLUDED.token_hash`, name, role, HashToken(tok))
	if err != nil {
		return "", fmt.Errorf("ensure user %s: %w", name, err)
	}
	return tok, nil
}
