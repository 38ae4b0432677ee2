package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

const instanceCols = `i.id, i.name, i.user_id, u.name, i.state, i.host_id, coalesce(h.name, ''),
	i.cores, i.memory, i.disks, i.nics, i.hints, i.group_id, i.version, i.vm_id, i.error,
	i.created_at, i.updated_at, h.last_heartbeat, i.target_host_id, i.placement, i.failed_hosts`

const instanceFrom = ` FROM instances i JOIN users u ON u.id = i.user_id
	LEFT JOIN hosts h ON h.id = i.host_id`

// scanInstance reads one row of instanceCols and derives the displayed state.
func (s *Store) scanInstance(row pgx.Row) (api.Instance, error) {
	var in api.Instance
	var last *time.Time
	err := row.Scan(&in.ID, &in.Name, &in.UserID, &in.UserName, &in.State, &in.HostID,
		&in.HostName, &in.Cores, &in.Memory, &in.Disks, &in.NICs, &in.Hints, &in.GroupID,
		&in.Version, &in.VMID, &in.Error, &in.CreatedAt, &in.UpdatedAt, &last, &in.TargetID,
		&in.Placement, &in.FailedHosts)
	if err != nil {
		return in, err
	}
	up := api.HostUp(last, s.now(), s.limits.ExpireHostTime)
	in.State = api.Displayed(in.State, in.HostID != nil, up)
	return in, nil
}

func (s *Store) queryInstances(ctx context.Context, q pgx.Tx, where string, args ...any) ([]api.Instance, error) {
	sql := `SELECT ` + instanceCols + instanceFrom + ` ` + where + ` ORDER BY i.id`
	var rows pgx.Rows
	var err error
	if q != nil {
		rows, err = q.Query(ctx, sql, args...)
	} else {
		rows, err = s.pool.Query(ctx, sql, args...)
	}
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	out := []api.Instance{}
	for rows.Next() {
		in, err := s.scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("read instance: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// Instances lists instances; with mine, only the actor's.
func (s *Store) Instances(ctx context.Context, a Actor, mine bool) ([]api.Instance, error) {
	if mine {
		return s.queryInstances(ctx, nil, `WHERE i.user_id = $1`, a.UserID)
	}
	return s.queryInstances(ctx, nil, ``)
}

// Instance looks one instance up by id or name.
func (s *Store) Instance(ctx context.Context, ref string) (api.Instance, error) {
	id, err := s.resolveInstance(ctx, nil, ref)
	if err != nil {
		return api.Instance{}, err
	}
	got, err := s.queryInstances(ctx, nil, `WHERE i.id = $1`, id)
	if err != nil {
		return api.Instance{}, err
	}
	if len(got) == 0 {
		return api.Instance{}, notFound("instance", ref)
	}
	return got[0], nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// resolveInstance turns an id or a unique name into an id.
func (s *Store) resolveInstance(ctx context.Context, tx pgx.Tx, ref string) (int64, error) {
	var q querier = s.pool
	if tx != nil {
		q = tx
	}
	rows, err := q.Query(ctx, `SELECT id FROM instances WHERE id = $2 OR name = $1 ORDER BY (id = $2) DESC NULLS LAST`, ref, refID(ref))
	if err != nil {
		return 0, fmt.Errorf("look up instance %q: %w", ref, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("look up instance %q: %w", ref, err)
	}
	switch {
	case len(ids) == 0:
		return 0, notFound("instance", ref)
	case len(ids) > 1 && strconv.FormatInt(ids[0], 10) != ref:
		return 0, api.Errorf(api.CodeInvalid, "instance", "name %q is used by %d instances; give the id", ref, len(ids))
	}
	return ids[0], nil
}

func notFound(field, ref string) *api.Error {
	return api.Errorf(api.CodeNotFound, field, "no %s %q", field, ref)
}

// CreateVM admits one instance: validation, quota, names, images,
// networks and fixed addresses are checked in the same transaction.
func (s *Store) CreateVM(ctx context.Context, a Actor, key string, spec api.InstanceSpec) (Answer, error) {
	if err := api.ValidateSpec(spec, s.limits.MaxCores, s.limits.MaxMemory); err != nil {
		return Answer{}, err
	}
	return s.Mutate(ctx, a, key, 201, func(ctx context.Context, tx pgx.Tx) (any, error) {
		ids, err := s.admit(ctx, tx, a, spec, []string{spec.Name}, nil)
		if err != nil {
			return nil, err
		}
		got, err := s.queryInstances(ctx, tx, `WHERE i.id = $1`, ids[0])
		if err != nil {
			return nil, err
		}
		return got[0], nil
	})
}

// CreateMany admits Count instances named basename-0..N-1 in one group and
// one transaction: all are admitted, or none.
func (s *Store) CreateMany(ctx context.Context, a Actor, key string, m api.ManySpec) (Answer, error) {
	if m.Count < 1 || m.Count > api.MaxCount {
		return Answer{}, api.Errorf(api.CodeInvalid, "count", "count %d is out of range; accepted: 1..%d", m.Count, api.MaxCount)
	}
	spec := m.Spec
	spec.Name = fmt.Sprintf("%s-%d", m.Basename, m.Count-1)
	if err := api.ValidName("basename", m.Basename); err != nil {
		return Answer{}, err
	}
	if err := api.ValidateSpec(spec, s.limits.MaxCores, s.limits.MaxMemory); err != nil {
		return Answer{}, err
	}
	for i, n := range spec.NICs {
		if n.IP != "" && m.Count > 1 {
			return Answer{}, api.Errorf(api.CodeInvalid, "nics", "nic %d asks for the fixed address %s for %d instances; accepted: no fixed address in createMany (each instance gets its own from the network)", i, n.IP, m.Count)
		}
	}
	names := make([]string, m.Count)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", m.Basename, i)
	}
	return s.Mutate(ctx, a, key, 201, func(ctx context.Context, tx pgx.Tx) (any, error) {
		owner, err := s.owner(ctx, tx, a, spec.UserID)
		if err != nil {
			return nil, err
		}
		var gid int64
		if err := tx.QueryRow(ctx, `INSERT INTO instance_groups (basename, user_id, count)
			VALUES ($1, $2, $3) RETURNING id`, m.Basename, owner, m.Count).Scan(&gid); err != nil {
			return nil, fmt.Errorf("record group %s: %w", m.Basename, err)
		}
		if _, err := s.admit(ctx, tx, a, spec, names, &gid); err != nil {
			return nil, err
		}
		insts, err := s.queryInstances(ctx, tx, `WHERE i.group_id = $1`, gid)
		if err != nil {
			return nil, err
		}
		return api.Group{ID: gid, Basename: m.Basename, Instances: insts}, nil
	})
}

// owner returns the user the instances will belong to.
func (s *Store) owner(ctx context.Context, tx pgx.Tx, a Actor, userID int64) (int64, error) {
	if userID == 0 || userID == a.UserID {
		return a.UserID, nil
	}
	if !a.IsAdmin() {
		return 0, api.Errorf(api.CodeForbidden, "userId", "only an admin may create instances for user %d", userID)
	}
	var role string
	err := tx.QueryRow(ctx, `SELECT role FROM users WHERE id = $1`, userID).Scan(&role)
	if err == pgx.ErrNoRows {
		return 0, notFound("userId", strconv.FormatInt(userID, 10))
	}
	return userID, err
}

// admit inserts one instance per name, after every check.
func (s *Store) admit(ctx context.Context, tx pgx.Tx, a Actor, spec api.InstanceSpec, names []string, gid *int64) ([]int64, error) {
	owner, err := s.owner(ctx, tx, a, spec.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.checkQuota(ctx, tx, owner, len(names), spec.Cores, spec.Memory); err != nil {
		return nil, err
	}
	if err := s.checkNames(ctx, tx, names); err != nil {
		return nil, err
	}
	images, err := s.resolveImages(ctx, tx, spec.Disks, len(names))
	if err != nil {
		return nil, err
	}
	nets, err := s.resolveNICNetworks(ctx, tx, spec.NICs)
	if err != nil {
		return nil, err
	}
	addrs, err := s.drawAll(ctx, tx, nets, len(names))
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(names))
	for k, name := range names {
		id, err := s.insertInstance(ctx, tx, a, owner, name, spec, gid, withCandidates(nets, addrs, k))
		if err != nil {
			return nil, err
		}
		if err := holdPersistent(ctx, tx, id, images); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// checkQuota holds the owner's row in share mode (a concurrent setQuota
// waits for us) and, when the user has a quota, a per-user transaction
// lock, so parallel admissions for one user are serialized and cannot
// together exceed it. Users without a quota are not serialized.
func (s *Store) checkQuota(ctx context.Context, tx pgx.Tx, owner int64, n, cores, memory int) error {
	var maxI, maxC, maxM int
	err := tx.QueryRow(ctx, `SELECT max_instances, max_cores, max_memory FROM users
		WHERE id = $1 FOR SHARE`, owner).Scan(&maxI, &maxC, &maxM)
	if err != nil {
		return fmt.Errorf("read quota of user %d: %w", owner, err)
	}
	if maxI == 0 && maxC == 0 && maxM == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(1, $1::int)`, owner); err != nil {
		return fmt.Errorf("lock quota of user %d: %w", owner, err)
	}
	var useI, useC, useM int
	err = tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(cores),0), coalesce(sum(memory),0)
		FROM instances WHERE user_id = $1`, owner).Scan(&useI, &useC, &useM)
	if err != nil {
		return fmt.Errorf("sum usage of user %d: %w", owner, err)
	}
	switch {
	case maxI > 0 && useI+n > maxI:
		return quotaErr("instances", useI, n, maxI)
	case maxC > 0 && useC+n*cores > maxC:
		return quotaErr("cores", useC, n*cores, maxC)
	case maxM > 0 && useM+n*memory > maxM:
		return quotaErr("memory", useM, n*memory, maxM)
	}
	return nil
}

func quotaErr(field string, used, asked, max int) *api.Error {
	return api.Errorf(api.CodeQuotaExceeded, field,
		"quota exceeded: %s in use %d + asked %d > quota %d", field, used, asked, max)
}

// checkNames refuses names in use unless allowDuplicateNames. An advisory
// lock per name keeps two transactions from taking the same name at once.
func (s *Store) checkNames(ctx context.Context, tx pgx.Tx, names []string) error {
	if s.limits.AllowDuplicateNames {
		return nil
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(n, 7))
		FROM unnest($1::text[]) AS n ORDER BY n`, sorted); err != nil {
		return fmt.Errorf("lock names: %w", err)
	}
	var taken string
	// No LIMIT: with one, the cached generic plan scans the whole table.
	err := tx.QueryRow(ctx, `SELECT name FROM instances WHERE name = ANY($1::text[])`, names).Scan(&taken)
	if err == pgx.ErrNoRows {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check names: %w", err)
	}
	return api.Errorf(api.CodeDuplicate, "name", "name %q is already used (allowDuplicateNames is off)", taken)
}

type imageRef struct {
	id         int64
	persistent bool
}

func (s *Store) resolveImages(ctx context.Context, tx pgx.Tx, disks []api.Disk, count int) ([]imageRef, error) {
	out := make([]imageRef, 0, len(disks))
	for _, d := range disks {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM images WHERE name = $1`, d.URI).Scan(&id)
		if err == pgx.ErrNoRows {
			return nil, s.unknownImage(ctx, tx, d.URI)
		}
		if err != nil {
			return nil, fmt.Errorf("look up image %q: %w", d.URI, err)
		}
		if d.Persistent && count > 1 {
			return nil, api.Errorf(api.CodeInvalid, "disks",
				"persistent image %q cannot be shared by %d instances; accepted: non-persistent disks in createMany", d.URI, count)
		}
		out = append(out, imageRef{id: id, persistent: d.Persistent})
	}
	return out, nil
}

func (s *Store) unknownImage(ctx context.Context, tx pgx.Tx, name string) error {
	rows, _ := tx.Query(ctx, `SELECT name FROM images ORDER BY name LIMIT 10`)
	known, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	list := strings.Join(known, ", ")
	if list == "" {
		list = "none (add one with tashi addImage)"
	}
	return api.Errorf(api.CodeNotFound, "disks", "unknown image %q; known images: %s", name, list)
}

func holdPersistent(ctx context.Context, tx pgx.Tx, inst int64, images []imageRef) error {
	for _, im := range images {
		if !im.persistent {
			continue
		}
		var holder int64
		err := tx.QueryRow(ctx, `INSERT INTO persistent_holds (image_id, instance_id) VALUES ($1, $2)
			ON CONFLICT (image_id) DO UPDATE SET image_id = EXCLUDED.image_id
			RETURNING instance_id`, im.id, inst).Scan(&holder)
		if err != nil {
			return fmt.Errorf("hold persistent image: %w", err)
		}
		if holder != inst {
			return api.Errorf(api.CodeConflict, "disks",
				"persistent image is already in use by instance %d; accepted: one instance per persistent image", holder)
		}
	}
	return nil
}

// nicNet is a NIC with its network resolved.
type nicNet struct {
	api.NIC
	netID   int64
	cidr    *net.IPNet
	gateway net.IP
	drawn   bool // IP is a candidate from the network's cursor, not the user's
}

func (s *Store) resolveNICNetworks(ctx context.Context, tx pgx.Tx, nics []api.NIC) ([]nicNet, error) {
	if len(nics) == 0 {
		nics = []api.NIC{{}}
	}
	out := make([]nicNet, 0, len(nics))
	for _, n := range nics {
		ref := n.Network
		if ref == "" {
			ref = s.limits.DefaultNetwork
		}
		var nn nicNet
		var cidr *net.IPNet
		var gw *netip.Addr
		// With no network named: the one flagged default, else the
		// configured defaultNetwork.
		// KEY SHARE: a concurrent delNetwork waits for this admission.
		err := tx.QueryRow(ctx, `SELECT id, cidr, gateway, name FROM networks
			WHERE id = $2 OR name = $1 OR ($3 AND is_default)
			ORDER BY ($3 AND is_default) DESC, (name = $1) DESC LIMIT 1 FOR KEY SHARE`,
			ref, refID(ref), n.Network == "").Scan(&nn.netID, &cidr, &gw, &ref)
		if err == pgx.ErrNoRows {
			if n.Network == "" && len(nics) == 1 && n.IP == "" {
				return nil, nil // no default network: the VM gets no NIC
			}
			return nil, api.Errorf(api.CodeNotFound, "nics", "unknown network %q; see tashi getNetworks", ref)
		}
		if err != nil {
			return nil, fmt.Errorf("look up network %q: %w", ref, err)
		}
		nn.NIC, nn.cidr = n, cidr
		if gw != nil {
			nn.gateway = net.IP(gw.AsSlice())
		}
		nn.Network = ref
		out = append(out, nn)
	}
	return out, nil
}

func (s *Store) insertInstance(ctx context.Context, tx pgx.Tx, a Actor, owner int64, name string,
	spec api.InstanceSpec, gid *int64, nets []nicNet) (int64, error) {
	nics := make([]api.NIC, len(nets))
	for i, n := range nets {
		nics[i] = n.NIC
		if nics[i].MAC == "" {
			nics[i].MAC = randomMAC()
		}
	}
	hints := spec.Hints
	if hints == nil {
		hints = map[string]string{}
	}
	for _, n := range nets {
		if n.IP != "" && !n.drawn {
			if err := checkFixed(n); err != nil {
				return 0, err
			}
		}
	}
	id, leased, err := insertWithLeases(ctx, tx, owner, name, spec, hints, gid, nets, nics)
	if err != nil {
		return 0, err
	}
	for i, n := range nets {
		if n.IP == "" || leased[i] {
			continue
		}
		if !n.drawn {
			return 0, api.Errorf(api.CodeDuplicate, "nics", "address %s on network %s is already leased", n.IP, n.Network)
		}
		if _, err := s.redraw(ctx, tx, id, i, n, nics[i].MAC); err != nil {
			return 0, err
		}
	}
	return id, logEvent(ctx, tx, a, &id, nil, "create", map[string]any{"name": name, "state": api.Pending})
}

// insertWithLeases inserts the instance and the leases of its NICs'
// addresses in one statement (one round trip); it says which NICs got
// their address (a held one is left out, not an error).
func insertWithLeases(ctx context.Context, tx pgx.Tx, owner int64, name string, spec api.InstanceSpec,
	hints map[string]string, gid *int64, nets []nicNet, nics []api.NIC) (int64, map[int]bool, error) {
	var netIDs []int64
	var addrs, macs []string
	var idxs []int32
	for i, n := range nets {
		if n.IP != "" {
			netIDs, addrs, macs, idxs = append(netIDs, n.netID), append(addrs, n.IP), append(macs, nics[i].MAC), append(idxs, int32(i))
		}
	}
	var id int64
	var got []int32
	err := tx.QueryRow(ctx, `WITH i AS (
			INSERT INTO instances (name, user_id, state, cores, memory, disks, nics, hints, group_id)
			VALUES ($1, $2, 'Pending', $3, $4, $5, $6, $7, $8) RETURNING id),
		l AS (INSERT INTO leases (network_id, address, instance_id, nic_index, mac)
			SELECT u.n, u.a::inet, i.id, u.x, u.m::macaddr FROM i, unnest($9::bigint[], $10::text[], $11::int[], $12::text[]) u(n, a, x, m)
			ON CONFLICT (network_id, address) DO NOTHING RETURNING nic_index)
		SELECT i.id, coalesce((SELECT array_agg(nic_index) FROM l), '{}') FROM i`,
		name, owner, spec.Cores, spec.Memory, spec.Disks, nics, hints, gid, netIDs, addrs, idxs, macs).Scan(&id, &got)
	if err != nil {
		return 0, nil, fmt.Errorf("insert instance %s: %w", name, err)
	}
	leased := make(map[int]bool, len(got))
	for _, x := range got {
		leased[int(x)] = true
	}
	return id, leased, nil
}

// checkFixed checks a user's fixed address: one of the network's host
// addresses, not its gateway.
func checkFixed(n nicNet) error {
	ip := net.ParseIP(n.IP)
	if n.cidr == nil || !n.cidr.Contains(ip) {
		return api.Errorf(api.CodeInvalid, "nics", "address %s is outside network %s (%v); accepted: an address in %v", n.IP, n.Network, n.cidr, n.cidr)
	}
	if hr := hostRange(n.cidr); u32(ip) < hr.first || u32(ip) > hr.last || ip.Equal(n.gateway) {
		return api.Errorf(api.CodeInvalid, "nics", "address %s is the network, broadcast or gateway address of %s; accepted: %s-%s except the gateway", n.IP, n.Network, ip4(hr.first), ip4(hr.last))
	}
	return nil
}

func randomMAC() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])
}
