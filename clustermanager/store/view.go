package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

// NMView is what node managers follow, read in one repeatable-read
// transaction with its watch index (as Snapshot): the tunnel addresses of
// every host that has one (the VXLAN peers), the networks, and every
// leased address with its guest's DNS name on that network's domain.
func (s *Store) NMView(ctx context.Context) (api.NMView, error) {
	var v api.NMView
	err := s.readIndexed(ctx, func(tx pgx.Tx, index uint64, _ time.Time) error {
		v.Index = index
		var err error
		if v.Peers, err = tunnelPeers(ctx, tx); err != nil {
			return err
		}
		if v.Networks, err = s.networks(ctx, tx); err != nil {
			return err
		}
		v.Names, err = nameRecords(ctx, tx)
		return err
	})
	return v, err
}

func tunnelPeers(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT tunnel_address FROM hosts WHERE tunnel_address <> ''
		ORDER BY tunnel_address`)
	if err != nil {
		return nil, fmt.Errorf("list tunnel addresses: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func nameRecords(ctx context.Context, tx pgx.Tx) ([]api.NameRecord, error) {
	rows, err := tx.Query(ctx, `SELECT i.name, n.domain, host(l.address), i.id, n.id, l.mac::text,
			coalesce(i.host_id, 0), coalesce(i.target_host_id, 0)
		FROM leases l JOIN instances i ON i.id = l.instance_id JOIN networks n ON n.id = l.network_id
		ORDER BY l.network_id, l.address`)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	defer rows.Close()
	out := []api.NameRecord{}
	for rows.Next() {
		var domain string
		var r api.NameRecord
		if err := rows.Scan(&r.Name, &domain, &r.IP, &r.InstanceID, &r.Network, &r.MAC, &r.Host, &r.Target); err != nil {
			return nil, fmt.Errorf("read lease: %w", err)
		}
		r.FQDN = api.FQDN(r.Name, domain)
		out = append(out, r)
	}
	return out, rows.Err()
}
