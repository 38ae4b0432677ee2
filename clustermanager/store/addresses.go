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
// record's promise that no other NIC has it. Allocations on one network
// are serialized by a lock on the network's row, taken before the first
// free address is looked up: two parallel createMany calls cannot both
// see an address as free (the race CloudStack's allocator had). Leases go
// with their instance's row (ON DELETE CASCADE) when it is destroyed.

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

// lockNetwork serializes address allocation on one network.
func lockNetwork(ctx context.Context, tx pgx.Tx, netID int64) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM networks WHERE id = $1 FOR UPDATE`, netID); err != nil {
		return fmt.Errorf("lock network %d: %w", netID, err)
	}
	return nil
}

// freeAddresses returns the n lowest free addresses of a network's ranges
// above its highest lease, then, if those run out, the lowest free ones
// anywhere in the ranges: next-fit, so that admitting is not a scan of
// every lease while the ranges have room at the top. The caller holds the
// network's lock. Fewer than n means the ranges are full.
func freeAddresses(ctx context.Context, tx pgx.Tx, netID int64, n int) ([]string, error) {
	out, err := freeAbove(ctx, tx, netID, n, true)
	if err != nil || len(out) == n {
		return out, err
	}
	rest, err := freeAbove(ctx, tx, netID, n, false)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, a := range out {
		seen[a] = true
	}
	for _, a := range rest {
		if len(out) < n && !seen[a] {
			out = append(out, a)
		}
	}
	return out, nil
}

func freeAbove(ctx context.Context, tx pgx.Tx, netID int64, n int, aboveMax bool) ([]string, error) {
	rows, err := tx.Query(ctx, `WITH top AS (
			SELECT CASE WHEN $3 THEN max(address) END AS m FROM leases WHERE network_id = $1)
		SELECT host(a) FROM (
			SELECT r.first_addr + g AS a
			FROM address_ranges r, top,
				generate_series(CASE WHEN top.m IS NULL OR top.m < r.first_addr THEN 0 ELSE top.m - r.first_addr + 1 END,
					r.last_addr - r.first_addr) g
			WHERE r.network_id = $1) c, networks w
		WHERE w.id = $1 AND (w.gateway IS NULL OR c.a <> w.gateway)
			AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.network_id = $1 AND l.address = c.a)
		ORDER BY a LIMIT $2`, netID, n, aboveMax)
	if err != nil {
		return nil, fmt.Errorf("find free addresses on network %d: %w", netID, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// allocate fills in an address for every NIC of every instance about to
// be admitted that has none: addrs[i][k] is instance k's NIC i. Fixed
// addresses are checked by leaseFixed when the instance is inserted.
func allocate(ctx context.Context, tx pgx.Tx, nets []nicNet, count int) ([][]string, error) {
	locked := map[int64]bool{}
	for _, n := range nets {
		if !locked[n.netID] {
			if err := lockNetwork(ctx, tx, n.netID); err != nil {
				return nil, err
			}
			locked[n.netID] = true
		}
	}
	want := map[int64]int{} // per network, how many
	for _, n := range nets {
		if n.IP == "" {
			want[n.netID] += count
		}
	}
	free := map[int64][]string{}
	for id, k := range want {
		got, err := freeAddresses(ctx, tx, id, k)
		if err != nil {
			return nil, err
		}
		if len(got) < k {
			return nil, api.Errorf(api.CodeConflict, "nics", "network %s has %d free addresses, %d needed; an admin can add ranges or remove instances", netName(nets, id), len(got), k)
		}
		free[id] = got
	}
	addrs := make([][]string, len(nets))
	for i, n := range nets {
		addrs[i] = make([]string, count)
		for k := range addrs[i] {
			if n.IP == "" {
				addrs[i][k], free[n.netID] = free[n.netID][0], free[n.netID][1:]
			} else {
				addrs[i][k] = n.IP
			}
		}
	}
	return addrs, nil
}

func netName(nets []nicNet, id int64) string {
	for _, n := range nets {
		if n.netID == id {
			return n.Network
		}
	}
	return fmt.Sprint(id)
}
