package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

// This file gives guests their addresses. Each NIC gets one from its
// network's ranges when the instance is admitted, in the admitting
// transaction; the lease row (primary key network + address) is the
// record's promise that no other NIC has it. Candidates come from a
// per-network cursor (a sequence: Tashi's next-fit cursor, wrapping over
// the ranges), so parallel admissions draw different addresses without
// waiting for each other, and an address is taken by inserting its lease:
// two parallel createMany calls cannot both hold one address, whatever
// they read before (the race CloudStack's allocator had). Leases go with
// their instance's row (ON DELETE CASCADE) when it is destroyed.

// addrRange is one inclusive range of IPv4 addresses.
type addrRange struct{ first, last uint32 }

func ip4(u uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return net.IP(b[:]).String()
}

func u32(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }

// hostRange is a CIDR's host addresses: without the network and
// broadcast addresses when the prefix leaves room for them.
func hostRange(cidr *net.IPNet) addrRange {
	ones, bits := cidr.Mask.Size()
	first := u32(cidr.IP)
	last := first | (1<<(bits-ones) - 1)
	if bits-ones >= 2 {
		first, last = first+1, last-1
	}
	return addrRange{first, last}
}

// parseRanges reads a network's ranges ("A-B" or "A"), each inside the
// CIDR's host addresses and not overlapping another; none means the
// CIDR's host addresses.
func parseRanges(in []string, cidr *net.IPNet) ([]addrRange, error) {
	hosts := hostRange(cidr)
	if len(in) == 0 {
		return []addrRange{hosts}, nil
	}
	out := make([]addrRange, 0, len(in))
	for i, s := range in {
		r, err := parseRange(s)
		if err == nil && (r.first < hosts.first || r.last > hosts.last) {
			err = fmt.Errorf("range %q is not inside the host addresses of %s (%s-%s)", s, cidr, ip4(hosts.first), ip4(hosts.last))
		}
		for _, o := range out {
			if err == nil && r.first <= o.last && o.first <= r.last {
				err = fmt.Errorf("range %q overlaps range %s-%s", s, ip4(o.first), ip4(o.last))
			}
		}
		if err != nil {
			return nil, api.Errorf(api.CodeInvalid, "ranges", "ranges[%d]: %v; accepted: FIRST-LAST or one address, inside the cidr, not overlapping", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRange(s string) (addrRange, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		b = a
	}
	first, last := net.ParseIP(strings.TrimSpace(a)).To4(), net.ParseIP(strings.TrimSpace(b)).To4()
	if first == nil || last == nil {
		return addrRange{}, fmt.Errorf("range %q is not two IPv4 addresses", s)
	}
	if u32(first) > u32(last) {
		return addrRange{}, fmt.Errorf("range %q ends before it starts", s)
	}
	return addrRange{u32(first), u32(last)}, nil
}

func insertRanges(ctx context.Context, tx pgx.Tx, netID int64, rs []addrRange) error {
	for _, r := range rs {
		if _, err := tx.Exec(ctx, `INSERT INTO address_ranges (network_id, first_addr, last_addr)
			VALUES ($1, $2, $3)`, netID, ip4(r.first), ip4(r.last)); err != nil {
			return fmt.Errorf("record range %s-%s: %w", ip4(r.first), ip4(r.last), err)
		}
	}
	return nil
}

// cursorSeq names a network's allocation cursor.
func cursorSeq(netID int64) string { return fmt.Sprintf("lease_cursor_%d", netID) }

func createCursor(ctx context.Context, tx pgx.Tx, netID int64) error {
	if _, err := tx.Exec(ctx, "CREATE SEQUENCE IF NOT EXISTS "+cursorSeq(netID)); err != nil {
		return fmt.Errorf("create the address cursor of network %d: %w", netID, err)
	}
	return nil
}

// pool is a network's allocatable addresses: its ranges, in order, less
// the gateway.
type pool struct {
	ranges  []addrRange
	gateway uint32 // 0: none
	size    int64  // addresses in the ranges
}

func loadPool(ctx context.Context, tx pgx.Tx, netID int64) (pool, error) {
	var p pool
	rows, err := tx.Query(ctx, `SELECT host(first_addr), host(last_addr) FROM address_ranges
		WHERE network_id = $1 ORDER BY first_addr`, netID)
	if err != nil {
		return p, fmt.Errorf("read the ranges of network %d: %w", netID, err)
	}
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return p, err
		}
		r := addrRange{u32(net.ParseIP(a)), u32(net.ParseIP(b))}
		p.ranges = append(p.ranges, r)
		p.size += int64(r.last-r.first) + 1
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	var gw *string
	if err := tx.QueryRow(ctx, `SELECT host(gateway) FROM networks WHERE id = $1`, netID).Scan(&gw); err != nil {
		return p, fmt.Errorf("read the gateway of network %d: %w", netID, err)
	}
	if gw != nil {
		p.gateway = u32(net.ParseIP(*gw))
	}
	return p, nil
}

// at is the address at a cursor position (wrapping over the ranges).
func (p pool) at(c int64) uint32 {
	off := (c - 1) % p.size
	for _, r := range p.ranges {
		n := int64(r.last-r.first) + 1
		if off < n {
			return r.first + uint32(off)
		}
		off -= n
	}
	return 0 // not reached: off < size
}

// addressPool is loadPool, cached: a network's ranges and gateway never
// change once it is recorded.
func (s *Store) addressPool(ctx context.Context, tx pgx.Tx, netID int64) (pool, error) {
	if p, ok := s.pools.Load(netID); ok {
		return p.(pool), nil
	}
	p, err := loadPool(ctx, tx, netID)
	if err == nil && p.size > 0 {
		s.pools.Store(netID, p)
	}
	return p, err
}

// drawAll draws, for every NIC with no fixed address, one candidate
// address per instance about to be admitted: addrs[i][k] is instance k's
// NIC i ("" for a fixed one). The candidates are taken when the leases are
// inserted (leaseNIC), which draws again for one someone holds.
func (s *Store) drawAll(ctx context.Context, tx pgx.Tx, nets []nicNet, count int) ([][]string, error) {
	addrs := make([][]string, len(nets))
	for i, n := range nets {
		if n.IP != "" {
			continue
		}
		p, err := s.addressPool(ctx, tx, n.netID)
		if err != nil {
			return nil, err
		}
		if p.usable() < 1 {
			return nil, fullErr(n.Network, count)
		}
		cands, err := draw(ctx, tx, n.netID, p, count)
		if err != nil {
			return nil, err
		}
		for _, c := range cands {
			addrs[i] = append(addrs[i], ip4(c))
		}
	}
	return addrs, nil
}

// withCandidates is nets with instance k's candidate addresses.
func withCandidates(nets []nicNet, addrs [][]string, k int) []nicNet {
	out := make([]nicNet, len(nets))
	for i, n := range nets {
		out[i] = n
		if addrs[i] != nil {
			out[i].IP, out[i].drawn = addrs[i][k], true
		}
	}
	return out
}

// checkRoom says whether the network still has a free address (as far as
// committed leases tell); it is asked only when a drawn candidate was held.
func (s *Store) checkRoom(ctx context.Context, tx pgx.Tx, n nicNet) error {
	p, err := s.addressPool(ctx, tx, n.netID)
	if err != nil {
		return err
	}
	var used int64 // leases inside the ranges: fixed addresses may lie outside them
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM leases l WHERE l.network_id = $1 AND EXISTS (
			SELECT 1 FROM address_ranges r WHERE r.network_id = $1 AND l.address BETWEEN r.first_addr AND r.last_addr)`,
		n.netID).Scan(&used); err != nil {
		return fmt.Errorf("count the leases of network %s: %w", n.Network, err)
	}
	if p.usable()-used < 1 {
		return fullErr(n.Network, 1)
	}
	return nil
}

// usable is how many addresses of the pool a guest may get.
func (p pool) usable() int64 {
	if p.gateway != 0 && p.contains(p.gateway) {
		return p.size - 1
	}
	return p.size
}

func (p pool) contains(a uint32) bool {
	for _, r := range p.ranges {
		if a >= r.first && a <= r.last {
			return true
		}
	}
	return false
}

func fullErr(network string, want int) error {
	return api.Errorf(api.CodeConflict, "nics", "network %s has fewer than %d free addresses; an admin can add ranges or remove instances", network, want)
}

// draw takes n candidate addresses (never the gateway) from the cursor.
func draw(ctx context.Context, tx pgx.Tx, netID int64, p pool, n int) ([]uint32, error) {
	out := make([]uint32, 0, n)
	for len(out) < n {
		rows, err := tx.Query(ctx, `SELECT nextval($1::regclass) FROM generate_series(1, $2)`, cursorSeq(netID), n-len(out))
		if err != nil {
			return nil, fmt.Errorf("draw addresses of network %d: %w", netID, err)
		}
		cs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("draw addresses of network %d: %w", netID, err)
		}
		for _, c := range cs {
			if a := p.at(c); a != p.gateway && len(out) < n {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// redraw leases another address for a NIC whose drawn candidate someone
// holds, and writes it into the instance's NIC. It gives up when the
// network has no free address left.
func (s *Store) redraw(ctx context.Context, tx pgx.Tx, inst int64, idx int, n nicNet, mac string) (string, error) {
	p, err := s.addressPool(ctx, tx, n.netID)
	if err != nil {
		return "", err
	}
	for tries := int64(0); tries <= p.size; tries++ {
		if err := s.checkRoom(ctx, tx, n); err != nil {
			return "", err
		}
		c, err := draw(ctx, tx, n.netID, p, 1)
		if tries >= 8 { // a crowded network: look for a free address instead
			c, err = firstFree(ctx, tx, n.netID, p)
		}
		if err != nil {
			return "", err
		}
		ok, err := insertLease(ctx, tx, inst, idx, n.netID, ip4(c[0]), mac)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		_, err = tx.Exec(ctx, `UPDATE instances SET nics = jsonb_set(nics, ARRAY[$2::int::text, 'ip'], to_jsonb($3::text))
			WHERE id = $1`, inst, idx, ip4(c[0]))
		if err != nil {
			return "", fmt.Errorf("record the address of nic %d: %w", idx, err)
		}
		return ip4(c[0]), nil
	}
	return "", fullErr(n.Network, 1)
}

// firstFree finds the lowest address of the pool no lease holds (one scan
// of the ranges, for a network whose cursor keeps landing on held ones).
func firstFree(ctx context.Context, tx pgx.Tx, netID int64, p pool) ([]uint32, error) {
	for _, r := range p.ranges {
		var a *string
		err := tx.QueryRow(ctx, `SELECT host(c) FROM (SELECT $2::inet + g AS c FROM generate_series(0, $3::bigint) g) x
			WHERE c <> $4::inet AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.network_id = $1 AND l.address = x.c)
			LIMIT 1`, netID, ip4(r.first), int64(r.last-r.first), ip4(p.gateway)).Scan(&a)
		if err != nil && err != pgx.ErrNoRows {
			return nil, fmt.Errorf("find a free address of network %d: %w", netID, err)
		}
		if a != nil {
			return []uint32{u32(net.ParseIP(*a))}, nil
		}
	}
	return nil, api.Errorf(api.CodeConflict, "nics", "network %d has no free address", netID)
}

// insertLease takes an address if no one holds it.
func insertLease(ctx context.Context, tx pgx.Tx, inst int64, idx int, netID int64, ip, mac string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO leases (network_id, address, instance_id, nic_index, mac)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (network_id, address) DO NOTHING`, netID, ip, inst, idx, mac)
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", ip, err)
	}
	return tag.RowsAffected() == 1, nil
}
