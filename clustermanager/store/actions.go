package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

// row is the part of an instance a transition needs, read under lock.
type row struct {
	id      int64
	name    string
	userID  int64
	state   api.InstanceState
	hostID  *int64
	version int64
	hints   map[string]string
}

func lockInstance(ctx context.Context, tx pgx.Tx, id int64) (row, error) {
	var r row
	err := tx.QueryRow(ctx, `SELECT id, name, user_id, state, host_id, version, hints
		FROM instances WHERE id = $1 FOR UPDATE`, id).
		Scan(&r.id, &r.name, &r.userID, &r.state, &r.hostID, &r.version, &r.hints)
	if err == pgx.ErrNoRows {
		return r, notFound("instance", fmt.Sprint(id))
	}
	return r, err
}

// lockOwned resolves ref, locks the instance and checks the actor may act on it.
func (s *Store) lockOwned(ctx context.Context, tx pgx.Tx, a Actor, ref string) (row, error) {
	id, err := s.resolveInstance(ctx, tx, ref)
	if err != nil {
		return row{}, err
	}
	r, err := lockInstance(ctx, tx, id)
	if err != nil {
		return r, err
	}
	return r, mayAct(a, r)
}

func mayAct(a Actor, r row) error {
	if a.IsAdmin() || a.UserID == r.userID {
		return nil
	}
	return api.Errorf(api.CodeForbidden, "instance", "instance %s belongs to another user", r.name)
}

var actionMessages = map[api.Event]string{
	api.EvShutdown: "%s is shutting down.", api.EvDestroy: "%s is being destroyed.",
	api.EvSuspend: "%s is suspending.", api.EvResume: "%s is resuming.",
	api.EvPause: "%s is pausing.", api.EvUnpause: "%s is unpausing.",
}

// UserActions are the events users may request by name.
var UserActions = []api.Event{api.EvShutdown, api.EvDestroy, api.EvSuspend,
	api.EvResume, api.EvPause, api.EvUnpause}

// Act applies a user's lifecycle request to one instance.
func (s *Store) Act(ctx context.Context, a Actor, key, ref string, ev api.Event) (Answer, error) {
	if _, ok := actionMessages[ev]; !ok {
		return Answer{}, api.Errorf(api.CodeInvalid, "action", "unknown action %q; accepted: %v", ev, UserActions)
	}
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		id, err := s.resolveInstance(ctx, tx, ref)
		if err != nil {
			return nil, err
		}
		name, err := s.actOne(ctx, tx, a, id, ev)
		if err != nil {
			return nil, err
		}
		return api.Message{Message: fmt.Sprintf(actionMessages[ev], name)}, nil
	})
}

func (s *Store) actOne(ctx context.Context, tx pgx.Tx, a Actor, id int64, ev api.Event) (string, error) {
	r, err := lockInstance(ctx, tx, id)
	if err != nil {
		return "", err
	}
	if err := mayAct(a, r); err != nil {
		return "", err
	}
	to, err := api.Transition(r.state, ev)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", ev, r.name, err)
	}
	if ev == api.EvResume {
		r.hints["__resume_source"] = fmt.Sprintf("suspend/%d_%s", r.id, r.name)
	}
	return r.name, s.setState(ctx, tx, a, r, to, string(ev), nil)
}

// setState records a transition: Exited removes the row (the event log
// keeps its history), anything else bumps the version.
func (s *Store) setState(ctx context.Context, tx pgx.Tx, a Actor, r row, to api.InstanceState, why string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["from"], detail["to"] = r.state, to
	if err := logEvent(ctx, tx, a, &r.id, r.hostID, why, detail); err != nil {
		return err
	}
	if to == api.Exited {
		_, err := tx.Exec(ctx, `DELETE FROM instances WHERE id = $1`, r.id)
		return wrap(err, "remove exited instance %s", r.name)
	}
	hostID := r.hostID
	if to == api.Pending || to == api.Held || to == api.Suspended {
		hostID = nil // not on any host any more
	}
	_, err := tx.Exec(ctx, `UPDATE instances SET state = $2, host_id = $3, hints = $4,
		version = version + 1, updated_at = now(), target_host_id = CASE WHEN $2 IN ('MigratePrep','MigrateTrans','Destroying') THEN target_host_id END
		WHERE id = $1`, r.id, to, hostID, r.hints)
	return wrap(err, "record %s of %s", to, r.name)
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// ActMany is shutdownMany/destroyMany: every instance named basename-N
// that the actor may act on, all in one transaction.
func (s *Store) ActMany(ctx context.Context, a Actor, key, basename string, ev api.Event) (Answer, error) {
	if ev != api.EvShutdown && ev != api.EvDestroy {
		return Answer{}, api.Errorf(api.CodeInvalid, "action", "unknown action %q; accepted: shutdown, destroy", ev)
	}
	if err := api.ValidName("basename", basename); err != nil {
		return Answer{}, err
	}
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		ids, names, err := s.byBasename(ctx, tx, a, basename)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if _, err := s.actOne(ctx, tx, a, id, ev); err != nil {
				return nil, err
			}
		}
		return api.Message{Message: fmt.Sprintf("%s: %s", ev, strings.Join(names, ", "))}, nil
	})
}

func (s *Store) byBasename(ctx context.Context, tx pgx.Tx, a Actor, basename string) ([]int64, []string, error) {
	pattern := "^" + regexp.QuoteMeta(basename) + "-[0-9]+$"
	rows, err := tx.Query(ctx, `SELECT id, name FROM instances WHERE name ~ $1
		AND (user_id = $2 OR $3) ORDER BY id`, pattern, a.UserID, a.IsAdmin())
	if err != nil {
		return nil, nil, fmt.Errorf("find %s-N: %w", basename, err)
	}
	var ids []int64
	var names []string
	for rows.Next() {
		var id int64
		var n string
		if err := rows.Scan(&id, &n); err != nil {
			return nil, nil, err
		}
		ids, names = append(ids, id), append(names, n)
	}
	if len(ids) == 0 {
		return nil, nil, api.Errorf(api.CodeNotFound, "basename", "%s is an unused basename", basename)
	}
	return ids, names, rows.Err()
}

// Migrate is migrateVm: the target must be up, Normal and have room; the
// instance holds room there until the move finishes.
func (s *Store) Migrate(ctx context.Context, a Actor, key, ref, hostRef string) (Answer, error) {
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		// Hosts before instances, as plans and heartbeats lock them (an
		// unknown host is reported below, after the instance's state).
		_, _ = s.lockHost(ctx, tx, hostRef)
		r, err := s.lockOwned(ctx, tx, a, ref)
		if err != nil {
			return nil, err
		}
		id := r.id
		to, err := api.Transition(r.state, api.EvMigrate)
		if err != nil {
			return nil, err
		}
		target, err := s.migrationTarget(ctx, tx, r, id, hostRef)
		if err != nil {
			return nil, err
		}
		if err := s.setState(ctx, tx, a, r, to, "migrate", map[string]any{"target": target}); err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `UPDATE instances SET target_host_id = $2 WHERE id = $1`, id, target)
		return api.Message{Message: fmt.Sprintf("%s is migrating to %s.", r.name, hostRef)}, wrap(err, "record target")
	})
}

func (s *Store) migrationTarget(ctx context.Context, tx pgx.Tx, r row, id int64, hostRef string) (int64, error) {
	h, err := s.lockHost(ctx, tx, hostRef)
	if err != nil {
		return 0, err
	}
	if r.hostID != nil && *r.hostID == h.ID {
		return 0, api.Errorf(api.CodeInvalid, "host", "instance %s is already on host %s", r.name, h.Name)
	}
	var cores, memory int
	if err := tx.QueryRow(ctx, `SELECT cores, memory FROM instances WHERE id = $1`, id).Scan(&cores, &memory); err != nil {
		return 0, err
	}
	if reason := s.fits(h, cores, memory, r.userID); reason != "" {
		return 0, api.Errorf(api.CodeConflict, "host", "cannot migrate %s to %s: %s", r.name, h.Name, reason)
	}
	return h.ID, nil
}

// Events returns an instance's event log (even after it exited, by id).
func (s *Store) Events(ctx context.Context, ref string) ([]api.LogEntry, error) {
	id, err := s.resolveInstance(ctx, nil, ref)
	if err != nil {
		var n int64
		if _, scanErr := fmt.Sscan(ref, &n); scanErr != nil {
			return nil, err
		}
		id = n
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, instance_id, host_id, actor, kind, detail
		FROM events WHERE instance_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", ref, err)
	}
	defer rows.Close()
	out := []api.LogEntry{}
	for rows.Next() {
		var e api.LogEntry
		if err := rows.Scan(&e.ID, &e.At, &e.InstanceID, &e.HostID, &e.Actor, &e.Kind, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RecordCall records a vmmSpecificCall for an agent to carry out.
func (s *Store) RecordCall(ctx context.Context, a Actor, key, ref, arg string) (Answer, error) {
	if arg == "" || len(arg) > 1024 {
		return Answer{}, api.Errorf(api.CodeInvalid, "arg", "arg must be 1..1024 characters, e.g. startVnc, stopVnc, reset, changeCdrom:ISO, startConsole, info")
	}
	return s.Mutate(ctx, a, key, 202, func(ctx context.Context, tx pgx.Tx) (any, error) {
		r, err := s.lockOwned(ctx, tx, a, ref)
		if err != nil {
			return nil, err
		}
		id := r.id
		var c api.VMMCall
		err = tx.QueryRow(ctx, `INSERT INTO vmm_calls (instance_id, arg) VALUES ($1, $2)
			RETURNING id, instance_id, arg, status, result, created_at`, id, arg).
			Scan(&c.ID, &c.InstanceID, &c.Arg, &c.Status, &c.Result, &c.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("record call: %w", err)
		}
		return c, logEvent(ctx, tx, a, &id, r.hostID, "vmmSpecificCall", map[string]any{"arg": arg})
	})
}

// Call reads a recorded vmmSpecificCall; only its owner or an admin may.
func (s *Store) Call(ctx context.Context, a Actor, id int64) (api.VMMCall, error) {
	var c api.VMMCall
	var owner int64
	err := s.pool.QueryRow(ctx, `SELECT c.id, c.instance_id, c.arg, c.status, c.result, c.created_at, i.user_id
		FROM vmm_calls c JOIN instances i ON i.id = c.instance_id WHERE c.id = $1`, id).
		Scan(&c.ID, &c.InstanceID, &c.Arg, &c.Status, &c.Result, &c.CreatedAt, &owner)
	if err == pgx.ErrNoRows || (err == nil && owner != a.UserID && !a.IsAdmin() && a.Role != api.RoleAgent) {
		return c, notFound("call", fmt.Sprint(id))
	}
	return c, err
}

// PendingCalls lists vmmSpecificCalls no agent has answered yet, oldest first.
func (s *Store) PendingCalls(ctx context.Context) ([]api.VMMCall, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, instance_id, arg, status, result, created_at
		FROM vmm_calls WHERE status = 'pending' ORDER BY id LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("list pending calls: %w", err)
	}
	defer rows.Close()
	out := []api.VMMCall{}
	for rows.Next() {
		var c api.VMMCall
		if err := rows.Scan(&c.ID, &c.InstanceID, &c.Arg, &c.Status, &c.Result, &c.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// AnswerCall records an agent's answer to a vmmSpecificCall, once.
func (s *Store) AnswerCall(ctx context.Context, a Actor, id int64, status, result string) (Answer, error) {
	if status != "done" && status != "failed" {
		return Answer{}, api.Errorf(api.CodeInvalid, "status", "status %q is not valid; accepted: done, failed", status)
	}
	return s.Mutate(ctx, a, "", 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		var c api.VMMCall
		err := tx.QueryRow(ctx, `UPDATE vmm_calls SET status = $2, result = $3 WHERE id = $1 AND status = 'pending'
			RETURNING id, instance_id, arg, status, result, created_at`, id, status, result).
			Scan(&c.ID, &c.InstanceID, &c.Arg, &c.Status, &c.Result, &c.CreatedAt)
		if err == pgx.ErrNoRows {
			return nil, api.Errorf(api.CodeConflict, "id", "call %d is not pending", id)
		}
		return c, err
	})
}
