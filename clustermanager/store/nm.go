package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

// Register is registerNodeManager: the host must have been added by an
// admin; its capacity and version come from the node manager, and a
// version other than the CM's puts it in VersionMismatch unless
// allowMismatchedVersions.
func (s *Store) Register(ctx context.Context, a Actor, r api.RegisterRequest) (api.RegisterResponse, error) {
	var out api.RegisterResponse
	if err := api.ValidName("name", r.Name); err != nil {
		return out, err
	}
	if r.TunnelAddress != "" && net.ParseIP(r.TunnelAddress).To4() == nil {
		return out, api.Errorf(api.CodeInvalid, "tunnelAddress", "tunnel address %q is not valid; accepted: an IPv4 address or empty", r.TunnelAddress)
	}
	if r.Cores < 1 || r.Memory < 1 || r.Version == "" {
		return out, api.Errorf(api.CodeInvalid, "cores", "a node manager must report cores >= 1, memory >= 1 MiB and a version")
	}
	_, err := s.Mutate(ctx, a, "", 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		h, err := s.lockHost(ctx, tx, r.Name)
		if api.IsCode(err, api.CodeNotFound) {
			return nil, api.Errorf(api.CodeNotFound, "name", "host %q is not in the record; an admin adds it with: tashi addHost --host %s", r.Name, r.Name)
		}
		if err != nil {
			return nil, err
		}
		ev := api.HostEvVersionFixed
		if r.Version != s.limits.Version && !s.limits.AllowMismatched {
			ev = api.HostEvVersionBad
		}
		to, err := api.HostTransition(h.State, ev)
		if err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `UPDATE hosts SET state = $2, cores = $3, memory = $4, version = $5,
			stats = $6, nm_address = $7, tunnel_address = $8, last_heartbeat = now() WHERE id = $1`,
			h.ID, to, r.Cores, r.Memory, r.Version, r.Stats, r.Address, r.TunnelAddress)
		if err != nil {
			return nil, fmt.Errorf("register host %s: %w", r.Name, err)
		}
		out = api.RegisterResponse{HostID: h.ID, State: to}
		return out, logEvent(ctx, tx, a, nil, &h.ID, "register",
			map[string]any{"version": r.Version, "state": to, "wasUp": h.Up})
	})
	return out, err
}

// HostExists reports whether a host id is in the record.
func (s *Store) HostExists(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hosts WHERE id = $1)`, id).Scan(&ok)
	return ok, err
}

// HostReport is a VM report with the host that sent it.
type HostReport struct {
	HostID int64
	api.VMReport
}

// ApplyHeartbeats writes a batch of heartbeats in one transaction: every
// host's last contact and stats in one statement, then the VM reports the
// caller found changed, reconciled against the record. Hosts that were
// down and came back are logged and announced.
func (s *Store) ApplyHeartbeats(ctx context.Context, a Actor, at time.Time, hbs []api.Heartbeat, changed []HostReport) error {
	ids := make([]int64, len(hbs))
	stats := make([][]byte, len(hbs))
	for i, hb := range hbs {
		ids[i] = hb.HostID
		stats[i], _ = json.Marshal(hb.Stats)
	}
	return mapErr(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		back, err := s.touchHosts(ctx, tx, at, ids, stats)
		if err != nil {
			return err
		}
		for _, id := range back {
			if err := logEvent(ctx, tx, a, nil, &id, "hostUp", nil); err != nil {
				return err
			}
		}
		n, err := s.reconcileReports(ctx, tx, a, changed)
		if err != nil || (len(back) == 0 && n == 0) {
			return err
		}
		return notify(ctx, tx)
	}))
}

// touchHosts updates last contact and stats; it returns the hosts that
// were down before this batch.
func (s *Store) touchHosts(ctx context.Context, tx pgx.Tx, at time.Time, ids []int64, stats [][]byte) ([]int64, error) {
	rows, err := tx.Query(ctx, `WITH v AS (SELECT * FROM unnest($2::bigint[], $3::jsonb[]) AS v(id, stats)),
		old AS (SELECT h.id, h.last_heartbeat FROM hosts h JOIN v ON v.id = h.id ORDER BY h.id FOR NO KEY UPDATE OF h)
		UPDATE hosts h SET last_heartbeat = $1, stats = v.stats FROM v, old
		WHERE h.id = v.id AND old.id = v.id
		RETURNING h.id, old.last_heartbeat IS NULL OR old.last_heartbeat < $1::timestamptz - $4::interval`,
		at, ids, stats, fmt.Sprintf("%f seconds", s.limits.ExpireHostTime.Seconds()))
	if err != nil {
		return nil, fmt.Errorf("record heartbeats: %w", err)
	}
	defer rows.Close()
	var back []int64
	for rows.Next() {
		var id int64
		var wasDown bool
		if err := rows.Scan(&id, &wasDown); err != nil {
			return nil, err
		}
		if wasDown {
			back = append(back, id)
		}
	}
	return back, rows.Err()
}

// reconcileReports applies node managers' reports to the record. One
// query picks the reports that differ from the record; only those are
// locked and reconciled one by one.
func (s *Store) reconcileReports(ctx context.Context, tx pgx.Tx, a Actor, reps []HostReport) (int, error) {
	reps, err := differing(ctx, tx, reps)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rep := range reps {
		ok, err := s.applyReport(ctx, tx, a, rep.HostID, rep.InstanceID, rep.State, rep.VMID, "")
		if err != nil && !api.IsCode(err, api.CodeNotFound) && !api.IsCode(err, api.CodeConflict) {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

func differing(ctx context.Context, tx pgx.Tx, reps []HostReport) ([]HostReport, error) {
	if len(reps) == 0 {
		return nil, nil
	}
	ids, states, hosts := make([]int64, len(reps)), make([]string, len(reps)), make([]int64, len(reps))
	for i, r := range reps {
		ids[i], states[i], hosts[i] = r.InstanceID, string(r.State), r.HostID
	}
	rows, err := tx.Query(ctx, `SELECT r.idx FROM unnest($1::bigint[], $2::text[], $3::bigint[])
		WITH ORDINALITY AS r(id, st, host, idx) JOIN instances i ON i.id = r.id
		WHERE i.state <> r.st OR (i.host_id IS DISTINCT FROM r.host AND i.target_host_id IS DISTINCT FROM r.host)`,
		ids, states, hosts)
	if err != nil {
		return nil, fmt.Errorf("compare reports with the record: %w", err)
	}
	idx, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	out := make([]HostReport, 0, len(idx))
	for _, i := range idx {
		out = append(out, reps[i-1])
	}
	return out, err
}

// applyReport reconciles one reported state; it says whether the record changed.
func (s *Store) applyReport(ctx context.Context, tx pgx.Tx, a Actor, hostID, id int64, st api.InstanceState, vmID, msg string) (bool, error) {
	r, err := lockInstance(ctx, tx, id)
	if err != nil {
		return false, err
	}
	var target *int64
	if err := tx.QueryRow(ctx, `SELECT target_host_id FROM instances WHERE id = $1`, id).Scan(&target); err != nil {
		return false, err
	}
	onHost := r.hostID != nil && *r.hostID == hostID
	toTarget := target != nil && *target == hostID
	if !onHost && !toTarget {
		return false, api.Errorf(api.CodeConflict, "hostId", "instance %d is not on host %d", id, hostID)
	}
	if toTarget && !onHost && st != api.Running {
		return false, nil // the source still owns the instance
	}
	migrating := r.state == api.MigratePrep || r.state == api.MigrateTrans
	if migrating && onHost && st != api.Exited {
		return false, nil // the source's guest runs until the agent lands it
	}
	to, changed := api.Reconcile(r.state, st)
	if !changed {
		return false, nil
	}
	if toTarget {
		r.hostID = &hostID
	}
	detail := map[string]any{"reported": st, "error": msg}
	if err := s.setState(ctx, tx, a, r, to, "report", detail); err != nil || to == api.Exited {
		return true, err
	}
	_, err = tx.Exec(ctx, `UPDATE instances SET vm_id = CASE WHEN $2 = '' THEN vm_id ELSE $2 END,
		error = CASE WHEN $3 = '' THEN error ELSE $3 END, host_id = $4,
		claim_id = NULL, claim_owner = NULL, claim_state = NULL, claim_expires = NULL WHERE id = $1`, id, vmID, msg, hostAfter(r, to))
	return true, wrap(err, "record report on instance %d", id)
}

// StateChange is vmStateChange: a node manager saw a guest change state.
func (s *Store) StateChange(ctx context.Context, a Actor, key string, sc api.StateChange) (Answer, error) {
	if _, err := api.ParseInstanceState(string(sc.New)); err != nil {
		return Answer{}, err
	}
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		if _, err := s.applyReport(ctx, tx, a, sc.HostID, sc.InstanceID, sc.New, sc.VMID, sc.Error); err != nil {
			return nil, err
		}
		got, err := s.queryInstances(ctx, tx, `WHERE i.id = $1`, sc.InstanceID)
		if err != nil || len(got) == 0 {
			return api.Instance{ID: sc.InstanceID, State: api.Exited}, err
		}
		return got[0], nil
	})
}

// RecordedStates returns the recorded state of each instance id.
func (s *Store) RecordedStates(ctx context.Context, ids []int64) (map[int64]api.InstanceState, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, state FROM instances WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read instance states: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]api.InstanceState, len(ids))
	for rows.Next() {
		var id int64
		var st api.InstanceState
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, rows.Err()
}
