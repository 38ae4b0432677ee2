package nodemanager

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/plugins/dns"
)

// nameServer answers guests' names on each bridge's gateway, port 53,
// from the latest node manager view. The server on a network's gateway
// answers that network's names only (forward in its domain, reverse in
// its cidr): a guest learns no names of networks it is not on. A new view
// swaps every network's zone in at once.
type nameServer struct {
	ttl uint32
	log *slog.Logger

	mu      sync.Mutex
	zones   map[int64]*dns.Zone // by network id
	servers map[*dns.Server]int64
}

func newNameServer(ttl time.Duration, log *slog.Logger) *nameServer {
	return &nameServer{ttl: uint32(ttl / time.Second), log: log, zones: map[int64]*dns.Zone{},
		servers: map[*dns.Server]int64{}}
}

// serve starts answering network netID's names on ip:53; the returned
// func stops it.
func (ns *nameServer) serve(netID int64, ip net.IP) (func(), error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	srv := dns.NewServer(ns.zones[netID], ns.log)
	if _, err := srv.Start(net.JoinHostPort(ip.String(), "53")); err != nil {
		_ = srv.Close()
		return nil, err
	}
	ns.servers[srv] = netID
	return func() {
		ns.mu.Lock()
		delete(ns.servers, srv)
		ns.mu.Unlock()
		_ = srv.Close()
	}, nil
}

// set builds every network's zone from a view and gives each listener
// its network's.
func (ns *nameServer) set(v api.NMView) {
	zones := map[int64]*dns.Zone{}
	for _, n := range v.Networks {
		z, err := ns.zoneOf(v, n)
		if err != nil {
			ns.log.Error("build a network's dns zone from the view", "network", n.Name, "err", err)
			continue
		}
		zones[n.ID] = z
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.zones = zones
	for srv, id := range ns.servers {
		srv.Set(zones[id])
	}
}

// zoneOf is one network's names as a zone: its domain forward, its cidr
// reverse. A name DNS cannot carry (an underscore, say) is left out and
// logged rather than costing every other name its answer.
func (ns *nameServer) zoneOf(v api.NMView, n api.Network) (*dns.Zone, error) {
	cfg := dns.ZoneConfig{TTL: ns.ttl, Serial: uint32(v.Index), Domains: []string{api.DomainFQDN(n.Domain)}}
	if n.CIDR != "" {
		cfg.ReverseCIDRs = []string{n.CIDR}
	}
	var recs []dns.Record
	for _, r := range v.Names {
		if r.Network != n.ID {
			continue
		}
		if _, err := dns.CanonicalName(r.FQDN); err != nil {
			ns.log.Warn("a guest name DNS cannot carry; left out", "name", r.FQDN, "err", err)
			continue
		}
		recs = append(recs, dns.Record{Name: r.FQDN, IP: net.ParseIP(r.IP)})
	}
	z, err := dns.NewZone(cfg, recs)
	if err != nil {
		return nil, fmt.Errorf("zone of network %s at view %d: %w", n.Name, v.Index, err)
	}
	return z, nil
}
