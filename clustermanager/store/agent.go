package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

// Snapshot reads hosts, instances and reservations in one repeatable-read
// transaction, with its watch index: the oldest transaction still running
// when the snapshot was taken. Any change this snapshot misses comes from
// a transaction at or after that index, so its NOTIFY wakes a watch.
func (s *Store) Snapshot(ctx context.Context) (api.Snapshot, error) {
	var snap api.Snapshot
	err := s.readIndexed(ctx, func(tx pgx.Tx, index uint64, now time.Time) error {
		snap.Index, snap.Now = index, now
		var err error
		if snap.Hosts, err = s.queryHosts(ctx, tx, ``); err != nil {
			return err
		}
		if snap.Instances, err = s.queryInstances(ctx, tx, ``); err != nil {
			return err
		}
		if snap.Networks, err = s.networks(ctx, tx); err != nil {
			return err
		}
		snap.Reservations = map[int64][]int64{}
		for _, h := range snap.Hosts {
			if len(h.Reserved) > 0 {
				snap.Reservations[h.ID] = h.Reserved
			}
		}
		return nil
	})
	return snap, err
}

// readIndexed runs fn in one read-only repeatable-read transaction with
// its watch index (the oldest transaction still running when it began:
// a change it misses comes from a transaction at or after it, so its
// NOTIFY wakes a watch) and the database's clock.
func (s *Store) readIndexed(ctx context.Context, fn func(tx pgx.Tx, index uint64, now time.Time) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var idx int64
			var now time.Time
			if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, now()`).
				Scan(&idx, &now); err != nil {
				return fmt.Errorf("read the snapshot index: %w", err)
			}
			return fn(tx, uint64(idx), now)
		})
}

// CurrentIndex is the index a fresh snapshot would have.
func (s *Store) CurrentIndex(ctx context.Context) (uint64, error) {
	var idx int64
	err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&idx)
	return uint64(idx), err
}

// ApplyPlan re-verifies every placement against the current record in one
// transaction (instance version and state, host state, liveness,
// reservations and room) and commits the ones that still hold. With
// Atomic, one rejection rejects them all. It is set-based: the plan's
// instances are locked in one statement (skipping those another plan
// holds: they are rejected at once instead of waited for), then its
// hosts; the checks run here; the accepted ones are written with one
// UPDATE and one INSERT into the event log. Instances are locked before
// hosts, the order migrateVm uses too.
func (s *Store) ApplyPlan(ctx context.Context, a Actor, p api.Plan) (api.PlanResult, error) {
	var res api.PlanResult
	if len(p.Placements) == 0 || len(p.Placements) > 10000 {
		return res, api.Errorf(api.CodeInvalid, "placements", "a plan has 1..10000 placements, not %d", len(p.Placements))
	}
	pl := slices.Clone(p.Placements)
	slices.SortFunc(pl, func(x, y api.Placement) int { return cmp.Compare(x.InstanceID, y.InstanceID) })
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		insts, err := lockPlanInstances(ctx, tx, pl)
		if err != nil {
			return err
		}
		hosts, err := s.lockPlanHosts(ctx, tx, lockedOnly(pl, insts))
		if err != nil {
			return err
		}
		var ok []placed
		res.Results, ok = s.verify(pl, insts, hosts)
		if p.Atomic && anyRejected(res.Results) {
			res.Results = gangRejected(res.Results)
			return errRollback
		}
		if len(ok) == 0 {
			return errRollback // nothing to write or announce
		}
		if err := writePlacements(ctx, tx, a, ok); err != nil {
			return err
		}
		return notify(ctx, tx)
	})
	if err == errRollback {
		err = nil
	}
	return res, mapErr(err)
}

var errRollback = fmt.Errorf("rollback")

// planInstance is what verifying a placement needs of its instance.
type planInstance struct {
	state         api.InstanceState
	version, user int64
	cores, memory int
	resume        bool
}

// placed is an accepted placement, ready to write.
type placed struct {
	id, host int64
	to       api.InstanceState
}

// lockPlanInstances locks the plan's instances in id order, skipping
// rows another transaction holds (they are missing from the result).
func lockPlanInstances(ctx context.Context, tx pgx.Tx, pl []api.Placement) (map[int64]planInstance, error) {
	ids := make([]int64, len(pl))
	for i, x := range pl {
		ids[i] = x.InstanceID
	}
	rows, err := tx.Query(ctx, `SELECT id, state, version, user_id, cores, memory,
		coalesce(hints->>'__resume_source', '') <> '' FROM instances
		WHERE id = ANY($1) ORDER BY id FOR UPDATE SKIP LOCKED`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock plan instances: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]planInstance, len(ids))
	for rows.Next() {
		var id int64
		var in planInstance
		if err := rows.Scan(&id, &in.state, &in.version, &in.user, &in.cores, &in.memory, &in.resume); err != nil {
			return nil, err
		}
		out[id] = in
	}
	return out, rows.Err()
}

// lockedOnly keeps the placements whose instances this plan holds, so a
// plan that lost every instance to another does not wait for host locks.
func lockedOnly(pl []api.Placement, insts map[int64]planInstance) []api.Placement {
	out := make([]api.Placement, 0, len(insts))
	for _, x := range pl {
		if _, ok := insts[x.InstanceID]; ok {
			out = append(out, x)
		}
	}
	return out
}

// lockPlanHosts locks the plan's hosts in id order and reads their usage.
func (s *Store) lockPlanHosts(ctx context.Context, tx pgx.Tx, pl []api.Placement) (map[int64]*api.Host, error) {
	var ids []int64
	for _, x := range pl {
		ids = append(ids, x.HostID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return map[int64]*api.Host{}, nil
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM hosts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids); err != nil {
		return nil, fmt.Errorf("lock plan hosts: %w", err)
	}
	hs, err := s.queryHosts(ctx, tx, `WHERE h.id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*api.Host, len(hs))
	for i := range hs {
		out[hs[i].ID] = &hs[i]
	}
	return out, nil
}

// verify checks each placement against the locked record, counting the
// accepted ones against their hosts as it goes.
func (s *Store) verify(pl []api.Placement, insts map[int64]planInstance, hosts map[int64]*api.Host) ([]api.PlacementResult, []placed) {
	out := make([]api.PlacementResult, 0, len(pl))
	var ok []placed
	seen := make(map[int64]bool, len(pl))
	for _, x := range pl {
		r := api.PlacementResult{InstanceID: x.InstanceID}
		in, found := insts[x.InstanceID]
		h := hosts[x.HostID]
		switch {
		case seen[x.InstanceID]:
			r.Reason = "instance appears twice in the plan"
		case !found:
			r.Reason, r.Stale = "instance no longer exists, or another plan is placing it", true
		case in.version != x.Version:
			r.Reason = fmt.Sprintf("instance changed (version %d, plan saw %d)", in.version, x.Version)
		case h == nil:
			r.Reason = "no such host"
		default:
			r.Reason = s.fits(*h, in.cores, in.memory, in.user)
		}
		seen[x.InstanceID] = true
		var to api.InstanceState
		if r.Reason == "" {
			ev := api.EvActivate
			if in.resume {
				ev = api.EvResumeOn
			}
			var err error
			if to, err = api.Transition(in.state, ev); err != nil {
				r.Reason = err.Error()
			}
		}
		if r.Reason == "" {
			r.Accepted = true
			h.UsedCores += in.cores
			h.UsedMemory += in.memory
			ok = append(ok, placed{id: x.InstanceID, host: x.HostID, to: to})
		}
		out = append(out, r)
	}
	return out, ok
}

// writePlacements records the accepted placements and their events.
func writePlacements(ctx context.Context, tx pgx.Tx, a Actor, ok []placed) error {
	ids, hosts, states := make([]int64, len(ok)), make([]int64, len(ok)), make([]string, len(ok))
	for i, x := range ok {
		ids[i], hosts[i], states[i] = x.id, x.host, string(x.to)
	}
	if _, err := tx.Exec(ctx, `UPDATE instances i SET state = v.state, host_id = v.host,
		version = i.version + 1, updated_at = now(), error = ''
		FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS v(id, state, host) WHERE i.id = v.id`,
		ids, states, hosts); err != nil {
		return fmt.Errorf("record placements: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO events (instance_id, host_id, actor, kind, detail)
		SELECT v.id, v.host, $4, 'place', jsonb_build_object('from', 'Pending', 'to', v.state)
		FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS v(id, state, host)`, ids, states, hosts, a.Name)
	if err != nil {
		return fmt.Errorf("log placements: %w", err)
	}
	return nil
}

func anyRejected(rs []api.PlacementResult) bool {
	return slices.ContainsFunc(rs, func(r api.PlacementResult) bool { return !r.Accepted })
}

func gangRejected(rs []api.PlacementResult) []api.PlacementResult {
	var why string
	for _, r := range rs {
		if !r.Accepted {
			why = fmt.Sprintf("instance %d: %s", r.InstanceID, r.Reason)
			break
		}
	}
	out := make([]api.PlacementResult, len(rs))
	for i, r := range rs {
		out[i] = api.PlacementResult{InstanceID: r.InstanceID, Reason: "gang rejected: " + why}
	}
	return out
}

// transitional are the states an agent carries out by claiming them.
var transitional = []string{string(api.Activating), string(api.Pausing), string(api.Unpausing),
	string(api.Suspending), string(api.Resuming), string(api.MigratePrep), string(api.MigrateTrans),
	string(api.ShuttingDown), string(api.Destroying)}

// Claim grants an agent the right to carry out an instance's transition
// until the claim expires. A claim that expired may be taken over.
func (s *Store) Claim(ctx context.Context, a Actor, r api.ClaimRequest) (api.Claim, error) {
	ttl := time.Duration(r.TTLSeconds) * time.Second
	if r.TTLSeconds == 0 {
		ttl = s.limits.ClaimTTL
	}
	if ttl < time.Second || ttl > time.Hour {
		return api.Claim{}, api.Errorf(api.CodeInvalid, "ttlSeconds", "ttlSeconds %d is out of range; accepted: 1..3600", r.TTLSeconds)
	}
	c := api.Claim{ID: NewToken()[6:]}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE instances SET claim_id = $3, claim_owner = $4, claim_state = state,
			claim_expires = now() + $5::interval WHERE id = $1 AND version = $2 AND state = ANY($6)
			AND (claim_id IS NULL OR claim_expires < now())`,
			r.InstanceID, r.Version, c.ID, r.Owner, fmt.Sprintf("%f seconds", ttl.Seconds()), transitional)
		if err != nil {
			return fmt.Errorf("claim instance %d: %w", r.InstanceID, err)
		}
		if tag.RowsAffected() == 0 {
			return api.Errorf(api.CodeConflict, "instanceId",
				"instance %d is not claimable: it changed, is not in a transitional state, or another agent holds it", r.InstanceID)
		}
		got, err := s.queryInstances(ctx, tx, `WHERE i.id = $1`, r.InstanceID)
		if err != nil {
			return err
		}
		c.Instance = got[0]
		return tx.QueryRow(ctx, `SELECT claim_expires FROM instances WHERE id = $1`, r.InstanceID).Scan(&c.Expires)
	})
	return c, mapErr(err)
}

// FinishClaim records the outcome of a claimed transition, if the
// instance is still in the state it was claimed in; if it moved on (a
// destroy came during an activation, say), the claim is dropped, the
// outcome is not applied, and the new state is free for an agent.
func (s *Store) FinishClaim(ctx context.Context, a Actor, key, claimID string, o api.ClaimOutcome) (Answer, error) {
	if !slices.Contains([]api.Event{api.EvOpFinished, api.EvPausedDone, api.EvOpFailed, api.EvMigrateGo, api.EvExited}, o.Event) {
		return Answer{}, api.Errorf(api.CodeInvalid, "event", "event %q is not valid; accepted: opFinished, pausedDone, opFailed, migrateGo, exited", o.Event)
	}
	if err := s.dropIfMoved(ctx, claimID); err != nil {
		return Answer{}, err
	}
	ans, err := s.finishClaim(ctx, a, key, claimID, o)
	if api.IsCode(err, api.CodeConflict) {
		if moved := s.dropIfMoved(ctx, claimID); moved != nil {
			return Answer{}, moved // it moved after the first look: released now
		}
	}
	return ans, err
}

func (s *Store) finishClaim(ctx context.Context, a Actor, key, claimID string, o api.ClaimOutcome) (Answer, error) {
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		var id int64
		var now, then api.InstanceState
		err := tx.QueryRow(ctx, `SELECT id, state, coalesce(claim_state, state) FROM instances
			WHERE claim_id = $1 FOR UPDATE`, claimID).Scan(&id, &now, &then)
		if err == pgx.ErrNoRows {
			return nil, api.Errorf(api.CodeConflict, "claim", "claim %s is not held (expired and taken over, or the instance is gone)", claimID)
		}
		if err != nil {
			return nil, err
		}
		if now != then {
			return nil, movedErr(id, then, now)
		}
		return s.finish(ctx, tx, a, id, o)
	})
}

// dropIfMoved releases a claim whose instance left the claimed state.
func (s *Store) dropIfMoved(ctx context.Context, claimID string) error {
	var id int64
	var then, now api.InstanceState
	err := s.pool.QueryRow(ctx, `WITH old AS (SELECT id, claim_state FROM instances
			WHERE claim_id = $1 AND state <> claim_state FOR UPDATE)
		UPDATE instances i SET claim_id = NULL, claim_owner = NULL, claim_expires = NULL, claim_state = NULL
		FROM old WHERE i.id = old.id RETURNING i.id, i.state, old.claim_state`, claimID).Scan(&id, &now, &then)
	if err == pgx.ErrNoRows {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check claim %s: %w", claimID, err)
	}
	return movedErr(id, then, now)
}

func movedErr(id int64, then, now api.InstanceState) error {
	from := string(then)
	if from == "" {
		from = "its claimed state"
	}
	return api.Errorf(api.CodeConflict, "claim", "instance %d went from %s to %s while claimed; the outcome was not applied", id, from, now)
}

func (s *Store) finish(ctx context.Context, tx pgx.Tx, a Actor, id int64, o api.ClaimOutcome) (any, error) {
	r, err := lockInstance(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	to, err := api.Transition(r.state, o.Event)
	if err != nil {
		return nil, err
	}
	if r.state == api.MigrateTrans && o.Event == api.EvOpFinished && o.HostID != nil {
		r.hostID = o.HostID
	}
	if to == api.Held && r.hostID != nil {
		if _, err := tx.Exec(ctx, `UPDATE instances SET failed_hosts = array_append(failed_hosts, $2) WHERE id = $1`,
			id, *r.hostID); err != nil {
			return nil, fmt.Errorf("record failed host of %s: %w", r.name, err)
		}
	}
	detail := map[string]any{"error": o.Error}
	if o.Stats != nil {
		detail["stats"] = o.Stats
	}
	if err := s.setState(ctx, tx, a, r, to, string(o.Event), detail); err != nil || to == api.Exited {
		return api.Instance{ID: id, Name: r.name, State: to}, err
	}
	keep := o.Event == api.EvMigrateGo // the agent that prepared the target sends the guest
	_, err = tx.Exec(ctx, `UPDATE instances SET claim_id = CASE WHEN $5 THEN claim_id END,
		claim_owner = CASE WHEN $5 THEN claim_owner END, claim_state = CASE WHEN $5 THEN state END,
		claim_expires = CASE WHEN $5 THEN claim_expires END,
		error = $2, vm_id = CASE WHEN $3 = '' THEN vm_id ELSE $3 END, host_id = $4
		WHERE id = $1`, id, o.Error, o.VMID, hostAfter(r, to), keep)
	if err != nil {
		return nil, fmt.Errorf("finish claim on %s: %w", r.name, err)
	}
	got, err := s.queryInstances(ctx, tx, `WHERE i.id = $1`, id)
	if err != nil {
		return nil, err
	}
	return got[0], nil
}

func hostAfter(r row, to api.InstanceState) *int64 {
	if to == api.Pending || to == api.Held || to == api.Suspended {
		return nil
	}
	return r.hostID
}

// ReleaseClaim hands a claim back without an outcome.
func (s *Store) ReleaseClaim(ctx context.Context, claimID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE instances SET claim_id = NULL, claim_owner = NULL,
		claim_state = NULL, claim_expires = NULL WHERE claim_id = $1`, claimID)
	if err != nil {
		return fmt.Errorf("release claim: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return api.Errorf(api.CodeNotFound, "claim", "claim %s is not held", claimID)
	}
	return nil
}

// Explain records the agents' explanations: why instances are not
// placed, or where they went and the locality of their data (the whole
// api.Explanation is kept in instances.placement). It is advisory: no
// version bump and no announcement, so writing it wakes no agent.
func (s *Store) Explain(ctx context.Context, xs []api.Explanation) error {
	if len(xs) > 10000 {
		return api.Errorf(api.CodeInvalid, "explanations", "%d explanations; accepted: up to 10000", len(xs))
	}
	b := &pgx.Batch{}
	for _, x := range xs {
		if x.At.IsZero() {
			x.At = s.now()
		}
		b.Queue(`UPDATE instances SET placement = $2 WHERE id = $1`, x.InstanceID, x)
	}
	return s.pool.SendBatch(ctx, b).Close()
}

// Release puts a Held instance back to Pending (after the agent's
// back-off), at the version the agent saw.
func (s *Store) Release(ctx context.Context, a Actor, id, version int64) (Answer, error) {
	return s.Mutate(ctx, a, "", 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		r, err := lockInstance(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if r.version != version {
			return nil, api.Errorf(api.CodeConflict, "version", "instance %d changed (version %d, asked %d)", id, r.version, version)
		}
		to, err := api.Transition(r.state, api.EvRelease)
		if err != nil {
			return nil, err
		}
		return api.Message{Message: fmt.Sprintf("%s released to %s.", r.name, to)},
			s.setState(ctx, tx, a, r, to, "release", nil)
	})
}
