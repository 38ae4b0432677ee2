package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

// usageSQL sums what instances hold on each host: where they run, and
// where they are migrating to.
const usageSQL = `SELECT hid, sum(cores) AS cores, sum(memory) AS memory FROM (
	SELECT host_id AS hid, cores, memory FROM instances WHERE host_id IS NOT NULL
	UNION ALL
	SELECT target_host_id, cores, memory FROM instances WHERE target_host_id IS NOT NULL) x
	GROUP BY hid`

const hostCols = `h.id, h.name, h.state, h.cores, h.memory, h.version, h.notes, h.last_heartbeat,
	h.stats, h.nm_address, h.tunnel_address, coalesce(u.cores, 0)::int, coalesce(u.memory, 0)::int,
	coalesce((SELECT array_agg(r.user_id ORDER BY r.user_id) FROM reservations r WHERE r.host_id = h.id), '{}')`

func (s *Store) scanHost(r pgx.Row) (api.Host, error) {
	var h api.Host
	err := r.Scan(&h.ID, &h.Name, &h.State, &h.Cores, &h.Memory, &h.Version, &h.Notes,
		&h.LastHeartbeat, &h.Stats, &h.Address, &h.TunnelAddress, &h.UsedCores, &h.UsedMemory, &h.Reserved)
	h.Up = api.HostUp(h.LastHeartbeat, s.now(), s.limits.ExpireHostTime)
	return h, err
}

func (s *Store) queryHosts(ctx context.Context, q querier, where string, args ...any) ([]api.Host, error) {
	rows, err := q.Query(ctx, `SELECT `+hostCols+` FROM hosts h LEFT JOIN (`+usageSQL+`) u
		ON u.hid = h.id `+where+` ORDER BY h.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	defer rows.Close()
	out := []api.Host{}
	for rows.Next() {
		h, err := s.scanHost(rows)
		if err != nil {
			return nil, fmt.Errorf("read host: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Hosts is getHosts.
func (s *Store) Hosts(ctx context.Context) ([]api.Host, error) {
	return s.queryHosts(ctx, s.pool, ``)
}

// lockHost locks a host row (by id or name) and returns it with its usage.
func (s *Store) lockHost(ctx context.Context, tx pgx.Tx, ref string) (api.Host, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM hosts WHERE id = $2 OR name = $1
		ORDER BY (name = $1) DESC LIMIT 1 FOR NO KEY UPDATE`, ref, refID(ref)).Scan(&id)
	if err == pgx.ErrNoRows {
		return api.Host{}, notFound("host", ref)
	}
	if err != nil {
		return api.Host{}, fmt.Errorf("lock host %q: %w", ref, err)
	}
	hs, err := s.queryHosts(ctx, tx, `WHERE h.id = $1`, id)
	if err != nil || len(hs) == 0 {
		return api.Host{}, fmt.Errorf("read host %q: %w", ref, err)
	}
	return hs[0], nil
}

// fits says why an instance of this size and owner cannot go on h, or "".
func (s *Store) fits(h api.Host, cores, memory int, user int64) string {
	switch {
	case !h.Up:
		return "host is down"
	case h.State != api.HostNormal:
		return "host is " + string(h.State)
	case len(h.Reserved) > 0 && !slices.Contains(h.Reserved, user):
		return "host is reserved for other users"
	case h.UsedCores+cores > h.Cores:
		return fmt.Sprintf("not enough cores (%d of %d used, %d asked)", h.UsedCores, h.Cores, cores)
	case h.UsedMemory+memory > h.Memory:
		return fmt.Sprintf("not enough memory (%d of %d MiB used, %d asked)", h.UsedMemory, h.Memory, memory)
	}
	return ""
}

// AddHost is addHost: a new host in state Normal, down until its node
// manager registers.
func (s *Store) AddHost(ctx context.Context, a Actor, key string, r api.AddHostRequest) (Answer, error) {
	if err := api.ValidName("host", r.Name); err != nil {
		return Answer{}, err
	}
	if r.Cores < 0 || r.Cores > 4096 || r.Memory < 0 || r.Memory > 1<<26 {
		return Answer{}, api.Errorf(api.CodeInvalid, "cores", "cores must be 0..4096 and memory 0..%d MiB", 1<<26)
	}
	return s.Mutate(ctx, a, key, 201, func(ctx context.Context, tx pgx.Tx) (any, error) {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO hosts (name, cores, memory) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING RETURNING id`, r.Name, r.Cores, r.Memory).Scan(&id)
		if err == pgx.ErrNoRows {
			return nil, api.Errorf(api.CodeDuplicate, "host", "host %q already exists", r.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("add host %s: %w", r.Name, err)
		}
		if err := logEvent(ctx, tx, a, nil, &id, "addHost", map[string]any{"name": r.Name}); err != nil {
			return nil, err
		}
		return s.lockHost(ctx, tx, fmt.Sprint(id))
	})
}

// DelHost is delHost; refused while any instance is on or bound for it.
func (s *Store) DelHost(ctx context.Context, a Actor, key, ref string) (Answer, error) {
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		h, err := s.lockHost(ctx, tx, ref)
		if err != nil {
			return nil, err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM instances WHERE host_id = $1 OR target_host_id = $1`,
			h.ID).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, api.Errorf(api.CodeConflict, "host", "host %s still has %d instances; drain it and move or destroy them first", h.Name, n)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM hosts WHERE id = $1`, h.ID); err != nil {
			return nil, fmt.Errorf("delete host %s: %w", h.Name, err)
		}
		return api.Message{Message: fmt.Sprintf("Host %s removed.", h.Name)},
			logEvent(ctx, tx, a, nil, &h.ID, "delHost", map[string]any{"name": h.Name})
	})
}

// SetHostState is setHostState: Normal or Drained, through the host table.
func (s *Store) SetHostState(ctx context.Context, a Actor, key, ref, state string) (Answer, error) {
	ev, err := api.ParseHostState(state)
	if err != nil {
		return Answer{}, err
	}
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		h, err := s.lockHost(ctx, tx, ref)
		if err != nil {
			return nil, err
		}
		to, err := api.HostTransition(h.State, ev)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE hosts SET state = $2 WHERE id = $1`, h.ID, to); err != nil {
			return nil, fmt.Errorf("set state of host %s: %w", h.Name, err)
		}
		return api.Message{Message: fmt.Sprintf("Host state set to %s.", to)},
			logEvent(ctx, tx, a, nil, &h.ID, "setHostState", map[string]any{"from": h.State, "to": to})
	})
}

// SetHostNotes is setHostNotes.
func (s *Store) SetHostNotes(ctx context.Context, a Actor, key, ref, notes string) (Answer, error) {
	if len(notes) > 4096 {
		return Answer{}, api.Errorf(api.CodeInvalid, "notes", "notes are longer than 4096 bytes")
	}
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		h, err := s.lockHost(ctx, tx, ref)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE hosts SET notes = $2 WHERE id = $1`, h.ID, notes); err != nil {
			return nil, fmt.Errorf("set notes of host %s: %w", h.Name, err)
		}
		return api.Message{Message: fmt.Sprintf("Host notes set to %q.", notes)},
			logEvent(ctx, tx, a, nil, &h.ID, "setHostNotes", nil)
	})
}

// Reserve adds (or with remove, removes) a user to a host's reservation.
func (s *Store) Reserve(ctx context.Context, a Actor, key, hostRef, userRef string, remove bool) (Answer, error) {
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		h, err := s.lockHost(ctx, tx, hostRef)
		if err != nil {
			return nil, err
		}
		u, err := s.userByRef(ctx, tx, userRef)
		if err != nil {
			return nil, err
		}
		sql := `INSERT INTO reservations (host_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
		verb := "added to"
		if remove {
			sql, verb = `DELETE FROM reservations WHERE host_id = $1 AND user_id = $2`, "removed from"
		}
		if _, err := tx.Exec(ctx, sql, h.ID, u.ID); err != nil {
			return nil, fmt.Errorf("change reservation of host %s: %w", h.Name, err)
		}
		return api.Message{Message: fmt.Sprintf("User %s %s the reservation of host %s.", u.Name, verb, h.Name)},
			logEvent(ctx, tx, a, nil, &h.ID, "reservation", map[string]any{"user": u.Name, "removed": remove})
	})
}

// Reservation is getReservation.
func (s *Store) Reservation(ctx context.Context, hostRef string) (api.Message, error) {
	hs, err := s.queryHosts(ctx, s.pool, `WHERE h.id = $2 OR h.name = $1`, hostRef, refID(hostRef))
	if err != nil {
		return api.Message{}, err
	}
	if len(hs) == 0 {
		return api.Message{}, notFound("host", hostRef)
	}
	rows, _ := s.pool.Query(ctx, `SELECT u.name FROM reservations r JOIN users u ON u.id = r.user_id
		WHERE r.host_id = $1 ORDER BY u.name`, hs[0].ID)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return api.Message{}, fmt.Errorf("read reservation: %w", err)
	}
	if len(names) == 0 {
		return api.Message{Message: fmt.Sprintf("Host %s is not reserved.", hs[0].Name)}, nil
	}
	return api.Message{Message: fmt.Sprintf("Host %s reserved for users %s.", hs[0].Name, strings.Join(names, ", "))}, nil
}

// Layout is getVmLayout: hosts with the names of their instances.
func (s *Store) Layout(ctx context.Context) ([]api.LayoutHost, error) {
	hosts, err := s.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	insts, err := s.queryInstances(ctx, nil, `WHERE i.host_id IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	byHost := map[int64][]string{}
	for _, in := range insts {
		byHost[*in.HostID] = append(byHost[*in.HostID], in.Name)
	}
	out := make([]api.LayoutHost, len(hosts))
	for i, h := range hosts {
		names := byHost[h.ID]
		if names == nil {
			names = []string{}
		}
		out[i] = api.LayoutHost{ID: h.ID, Name: h.Name, State: h.State, Up: h.Up, Instances: names,
			UsedMemory: h.UsedMemory, Memory: h.Memory, UsedCores: h.UsedCores, Cores: h.Cores}
	}
	return out, nil
}

// Slots is getSlots: over hosts that are up and Normal, how many VMs of
// this size fit in what is free now.
func (s *Store) Slots(ctx context.Context, cores, memory int) (api.Slots, error) {
	if cores < 1 || memory < 1 {
		return api.Slots{}, api.Errorf(api.CodeInvalid, "cores", "cores and memory must be at least 1")
	}
	hosts, err := s.Hosts(ctx)
	if err != nil {
		return api.Slots{}, err
	}
	out := api.Slots{Cores: cores, Memory: memory}
	for _, h := range hosts {
		if h.Up && h.State == api.HostNormal {
			out.Slots += max(0, min((h.Cores-h.UsedCores)/cores, (h.Memory-h.UsedMemory)/memory))
		}
	}
	return out, nil
}
