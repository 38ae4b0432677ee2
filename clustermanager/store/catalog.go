package store

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

// Networks is getNetworks.
func (s *Store) Networks(ctx context.Context) ([]api.Network, error) {
	return s.networks(ctx, s.pool)
}

func (s *Store) networks(ctx context.Context, q querier) ([]api.Network, error) {
	rows, err := q.Query(ctx, `SELECT id, name, kind, segment_id, coalesce(cidr::text, ''),
		coalesce(host(gateway), ''), domain, mtu, is_default,
		coalesce((SELECT array_agg(CASE WHEN first_addr = last_addr THEN host(first_addr)
			ELSE host(first_addr) || '-' || host(last_addr) END ORDER BY first_addr)
			FROM address_ranges r WHERE r.network_id = n.id), '{}')
		FROM networks n ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	defer rows.Close()
	out := []api.Network{}
	for rows.Next() {
		var n api.Network
		if err := rows.Scan(&n.ID, &n.Name, &n.Kind, &n.SegmentID, &n.CIDR, &n.Gateway,
			&n.Domain, &n.MTU, &n.Default, &n.Ranges); err != nil {
			return nil, err
		}
		n.Default = n.Default || n.Name == s.limits.DefaultNetwork
		out = append(out, n)
	}
	return out, rows.Err()
}

func validNetwork(n api.Network) error {
	if err := api.ValidName("name", n.Name); err != nil {
		return err
	}
	if !slices.Contains(api.NetworkKinds, n.Kind) {
		return api.Errorf(api.CodeInvalid, "kind", "network kind %q is not valid; accepted: %v", n.Kind, api.NetworkKinds)
	}
	if n.SegmentID < 0 || (n.Kind == "vlan" && n.SegmentID > 4094) || n.SegmentID > 1<<24-1 {
		return api.Errorf(api.CodeInvalid, "segmentId", "segment id %d is out of range; accepted: vlan 1..4094, vxlan 1..16777215", n.SegmentID)
	}
	_, cidr, err := net.ParseCIDR(n.CIDR)
	if err != nil || cidr.IP.To4() == nil {
		return api.Errorf(api.CodeInvalid, "cidr", "cidr %q is not valid; accepted: an IPv4 network like 10.1.0.0/24", n.CIDR)
	}
	if n.Gateway != "" && !cidr.Contains(net.ParseIP(n.Gateway)) {
		return api.Errorf(api.CodeInvalid, "gateway", "gateway %q is not an address in %s", n.Gateway, n.CIDR)
	}
	if n.MTU != 0 && (n.MTU < 576 || n.MTU > 9000) {
		return api.Errorf(api.CodeInvalid, "mtu", "mtu %d is out of range; accepted: 0 (default) or 576..9000", n.MTU)
	}
	if n.Kind != "bridge" && n.SegmentID == 0 {
		return api.Errorf(api.CodeInvalid, "segmentId", "a %s network needs a segment id; accepted: vlan 1..4094, vxlan 1..16777215", n.Kind)
	}
	if n.Domain != "" {
		if _, ok := dns.IsDomainName(n.Domain); !ok || strings.Contains(n.Domain, " ") {
			return api.Errorf(api.CodeInvalid, "domain", "domain %q is not a DNS domain; accepted: labels of letters, digits and hyphens separated by dots, like lab.example.org", n.Domain)
		}
	}
	_, err = parseRanges(n.Ranges, cidr)
	return err
}

// AddNetwork records a network.
func (s *Store) AddNetwork(ctx context.Context, a Actor, key string, n api.Network) (Answer, error) {
	if err := validNetwork(n); err != nil {
		return Answer{}, err
	}
	var gw *string
	if n.Gateway != "" {
		gw = &n.Gateway
	}
	return s.Mutate(ctx, a, key, 201, func(ctx context.Context, tx pgx.Tx) (any, error) {
		if n.Default {
			if _, err := tx.Exec(ctx, `UPDATE networks SET is_default = false WHERE is_default`); err != nil {
				return nil, err
			}
		}
		err := tx.QueryRow(ctx, `INSERT INTO networks (name, kind, segment_id, cidr, gateway, domain, mtu, is_default)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING RETURNING id`,
			n.Name, n.Kind, n.SegmentID, n.CIDR, gw, n.Domain, n.MTU, n.Default).Scan(&n.ID)
		if err == pgx.ErrNoRows {
			return nil, api.Errorf(api.CodeDuplicate, "name", "network %q already exists", n.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("add network %s: %w", n.Name, err)
		}
		_, cidr, _ := net.ParseCIDR(n.CIDR)
		rs, _ := parseRanges(n.Ranges, cidr)
		if err := insertRanges(ctx, tx, n.ID, rs); err != nil {
			return nil, err
		}
		if err := createCursor(ctx, tx, n.ID); err != nil {
			return nil, err
		}
		n.Ranges = rangeStrings(rs)
		return n, logEvent(ctx, tx, a, nil, nil, "addNetwork", map[string]any{"name": n.Name})
	})
}

func rangeStrings(rs []addrRange) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = ip4(r.first)
		if r.last != r.first {
			out[i] += "-" + ip4(r.last)
		}
	}
	return out
}

// DelNetwork removes a network that no instance's NIC uses.
func (s *Store) DelNetwork(ctx context.Context, a Actor, key, ref string) (Answer, error) {
	return s.Mutate(ctx, a, key, 200, func(ctx context.Context, tx pgx.Tx) (any, error) {
		var id int64
		var name string
		err := tx.QueryRow(ctx, `SELECT id, name FROM networks WHERE id = $2 OR name = $1
			ORDER BY (name = $1) DESC LIMIT 1 FOR UPDATE`, ref, refID(ref)).Scan(&id, &name)
		if err == pgx.ErrNoRows {
			return nil, notFound("network", ref)
		}
		if err != nil {
			return nil, err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM instances, jsonb_array_elements(nics) nic
			WHERE nic->>'network' IN ($1, $2)`, name, fmt.Sprint(id)).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, api.Errorf(api.CodeConflict, "network", "network %s is used by %d NICs", name, n)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM networks WHERE id = $1`, id); err != nil {
			return nil, fmt.Errorf("remove network %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "DROP SEQUENCE IF EXISTS "+cursorSeq(id)); err != nil {
			return nil, fmt.Errorf("remove the address cursor of network %s: %w", name, err)
		}
		return api.Message{Message: fmt.Sprintf("Network %s removed.", name)},
			logEvent(ctx, tx, a, nil, nil, "delNetwork", map[string]any{"name": name})
	})
}

// Images is getImages.
func (s *Store) Images(ctx context.Context) ([]api.Image, error) {
	rows, err := s.pool.Query(ctx, `SELECT i.id, i.name, i.size, p.instance_id FROM images i
		LEFT JOIN persistent_holds p ON p.image_id = i.id ORDER BY i.id`)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	defer rows.Close()
	out := []api.Image{}
	for rows.Next() {
		var im api.Image
		if err := rows.Scan(&im.ID, &im.Name, &im.Size, &im.HeldBy); err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, rows.Err()
}

// AddImage registers a base image by name.
func (s *Store) AddImage(ctx context.Context, a Actor, key string, r api.AddImageRequest) (Answer, error) {
	if err := validImageName(r.Name); err != nil {
		return Answer{}, err
	}
	if r.Size < 0 {
		return Answer{}, api.Errorf(api.CodeInvalid, "size", "size %d is negative", r.Size)
	}
	return s.Mutate(ctx, a, key, 201, func(ctx context.Context, tx pgx.Tx) (any, error) {
		im := api.Image{Name: r.Name, Size: r.Size}
		err := tx.QueryRow(ctx, `INSERT INTO images (name, size) VALUES ($1, $2)
			ON CONFLICT (name) DO NOTHING RETURNING id`, r.Name, r.Size).Scan(&im.ID)
		if err == pgx.ErrNoRows {
			return nil, api.Errorf(api.CodeDuplicate, "name", "image %q already exists", r.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("add image %s: %w", r.Name, err)
		}
		return im, logEvent(ctx, tx, a, nil, nil, "addImage", map[string]any{"name": r.Name})
	})
}

func validImageName(name string) error {
	return validateDisk(api.Disk{URI: name})
}

func validateDisk(d api.Disk) error {
	return api.ValidateSpec(api.InstanceSpec{Name: "x", Cores: 1, Memory: 1, Disks: []api.Disk{d}}, 1, 1)
}

// SyncImages records the base images of the image store (as listed by
// package images) that the record does not know yet, and their sizes.
func (s *Store) SyncImages(ctx context.Context, found []api.Image) (int, error) {
	names := make([]string, len(found))
	sizes := make([]int64, len(found))
	for i, im := range found {
		names[i], sizes[i] = im.Name, im.Size
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO images (name, size) SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (name) DO UPDATE SET size = EXCLUDED.size WHERE images.size <> EXCLUDED.size`, names, sizes)
	if err != nil {
		return 0, fmt.Errorf("record images of the store: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
