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

// nameServer answers the cluster's names (every guest address in the
// record, forward and reverse) on each bridge's gateway, port 53, from
// the latest node manager view. Every listener answers from the same
// zone; a new view swaps it in at once.
type nameServer struct {
	ttl uint32
	log *slog.Logger

	mu      sync.Mutex
	zone    *dns.Zone
	servers map[*dns.Server]bool
}

func newNameServer(ttl time.Duration, log *slog.Logger) *nameServer {
	return &nameServer{ttl: uint32(ttl / time.Second), log: log, servers: map[*dns.Server]bool{}}
}

// serve starts answering on ip:53; the returned func stops it.
func (ns *nameServer) serve(ip net.IP) (func(), error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	srv := dns.NewServer(ns.zone, ns.log)
	if _, err := srv.Start(net.JoinHostPort(ip.String(), "53")); err != nil {
		_ = srv.Close()
		return nil, err
	}
	ns.servers[srv] = true
	return func() {
		ns.mu.Lock()
		delete(ns.servers, srv)
		ns.mu.Unlock()
		_ = srv.Close()
	}, nil
}

// set builds the zone of a view and gives it to every listener.
func (ns *nameServer) set(v api.NMView) {
	z, err := zoneOf(v, ns.ttl)
	if err != nil {
		ns.log.Error("build the dns zone from the view", "err", err)
		return
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.zone = z
	for srv := range ns.servers {
		srv.Set(z)
	}
}

// zoneOf is the cluster's names as a zone: a forward domain per network
// domain, a reverse zone per network CIDR.
func zoneOf(v api.NMView, ttl uint32) (*dns.Zone, error) {
	cfg := dns.ZoneConfig{TTL: ttl, Serial: uint32(v.Index)}
	seen := map[string]bool{}
	for _, n := range v.Networks {
		d := api.FQDN("x", n.Domain)[2:]
		if !seen[d] {
			seen[d] = true
			cfg.Domains = append(cfg.Domains, d)
		}
		if n.CIDR != "" {
			cfg.ReverseCIDRs = append(cfg.ReverseCIDRs, n.CIDR)
		}
	}
	if len(cfg.Domains) == 0 {
		cfg.Domains = []string{api.DefaultDomain + "."}
	}
	cfg.Domains = outermost(cfg.Domains)
	recs := make([]dns.Record, 0, len(v.Names))
	for _, r := range v.Names {
		recs = append(recs, dns.Record{Name: r.FQDN, IP: net.ParseIP(r.IP)})
	}
	z, err := dns.NewZone(cfg, recs)
	if err != nil {
		return nil, fmt.Errorf("zone of view %d: %w", v.Index, err)
	}
	return z, nil
}

// outermost drops domains inside another of the list (a.b. inside b.),
// since a zone may not nest forward domains.
func outermost(ds []string) []string {
	var out []string
	for _, d := range ds {
		inner := false
		for _, o := range ds {
			if o != d && len(d) > len(o) && d[len(d)-len(o)-1:] == "."+o {
				inner = true
			}
		}
		if !inner {
			out = append(out, d)
		}
	}
	return out
}
