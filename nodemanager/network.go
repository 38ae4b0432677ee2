package nodemanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/nodemanager/netsetup"
	"github.com/tashi-go/tashi/plugins/dhcp"
)

// netstack is the host side of the guests' networks: per network a
// bridge and its uplink (netsetup: a VXLAN device towards the other
// hosts, a VLAN sub-interface, or nothing), a tap per NIC, and on the
// bridge our DHCP server, answering this host's guests with the record's
// addresses, and our DNS server, answering the cluster's names. A network
// and its servers go away with the last tap on it.
type netstack struct {
	host      *netsetup.Host
	cfg       NetConfig
	tapPrefix string
	log       *slog.Logger

	mu     sync.Mutex
	peers  []net.IP                  // VXLAN peers, from the record
	guests map[int64][]guestNIC      // instance -> its NICs here
	nets   map[int64]*hostedNet      // network id -> what runs for it here
	names  *nameServer               // the cluster's names, shared by every bridge
	ctx    context.Context           // lives as long as the node manager
	closed bool                      // the node manager stopped: wire nothing more
	infos  map[int64]api.NetworkInfo // latest known details per network id
}

// NetConfig is the node manager's network configuration beyond the
// bridge and tap prefixes.
type NetConfig struct {
	// TunnelAddress is this host's VXLAN underlay address ("" for none:
	// vxlan networks then fail at setup with a clear error).
	TunnelAddress string
	// Uplink is the parent device of VLAN sub-interfaces.
	Uplink string
	// NoDHCP turns off our DHCP server (on each bridge that has a
	// gateway): guests then get their address on the kernel command line.
	NoDHCP bool
	// NoDNS turns off our DNS server (the cluster's names, on each
	// bridge's gateway, port 53).
	NoDNS bool
	// DNSTTL is the TTL of our DNS answers (Tashi's dnsExpire) and
	// LeaseTime the DHCP lease time.
	DNSTTL    time.Duration
	LeaseTime time.Duration
}

type guestNIC struct {
	tap   string
	netID int64
	mac   net.HardwareAddr
}

// hostedNet is one network with guests on this host.
type hostedNet struct {
	info    api.NetworkInfo
	bridge  string
	ports   int // this host's guest NICs on it
	leases  dhcp.Table
	stop    []func()
	serving bool // servers started (after a restart: once the view gives the details)
}

func newNetstack(bridgePrefix, tapPrefix string, cfg NetConfig, log *slog.Logger) (*netstack, error) {
	nc := netsetup.Config{BridgePrefix: bridgePrefix, TapPrefix: tapPrefix, Uplink: cfg.Uplink, Log: log}
	if cfg.TunnelAddress != "" {
		if nc.Local = net.ParseIP(cfg.TunnelAddress).To4(); nc.Local == nil {
			return nil, fmt.Errorf("tunnelAddress %q is not an IPv4 address", cfg.TunnelAddress)
		}
	}
	h, err := netsetup.New(nc)
	if err != nil {
		return nil, fmt.Errorf("network setup: %w", err)
	}
	if tapPrefix == "" {
		tapPrefix = "tashi" // netsetup's default
	}
	return &netstack{host: h, cfg: cfg, tapPrefix: tapPrefix, log: log, guests: map[int64][]guestNIC{}, nets: map[int64]*hostedNet{},
		infos: map[int64]api.NetworkInfo{}, names: newNameServer(cfg.DNSTTL, log), ctx: context.Background()}, nil
}

// close stops every network's servers and releases the netlink handle,
// when the node manager stops; bridges, taps and guests stay.
func (s *netstack) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, hn := range s.nets {
		s.stopServers(hn)
	}
	s.host.Close()
}

func toSetup(n api.NetworkInfo) netsetup.Network {
	return netsetup.Network{ID: n.ID, Name: n.Name, Kind: n.Kind, SegmentID: n.SegmentID,
		CIDR: n.CIDR, Gateway: n.Gateway, MTU: n.MTU}
}

// attach wires an instance's NICs: network, tap, DHCP lease. On failure
// it undoes what it did.
func (s *netstack) attach(in api.Instance, nets map[string]api.NetworkInfo) (taps []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("the node manager is stopping")
	}
	if old, ok := s.guests[in.ID]; ok { // taps left by an earlier life of this guest
		delete(s.guests, in.ID)
		s.detachLocked(old)
	}
	var done []guestNIC
	defer func() {
		if err != nil {
			s.detachLocked(done)
			taps = nil
		}
	}()
	for i, nic := range in.NICs {
		info, ok := nets[nic.Network]
		if !ok {
			return nil, fmt.Errorf("nic %d: network %q: no network details in the request", i, nic.Network)
		}
		g, err := s.attachNIC(in, i, info)
		if err != nil {
			return nil, fmt.Errorf("nic %d on network %s: %w", i, info.Name, err)
		}
		done = append(done, g)
		taps = append(taps, g.tap)
	}
	s.guests[in.ID] = done
	return taps, nil
}

func (s *netstack) attachNIC(in api.Instance, i int, info api.NetworkInfo) (guestNIC, error) {
	g := guestNIC{netID: info.ID}
	var err error
	if g.tap, err = s.host.TapName(in.ID, i); err != nil {
		return g, err
	}
	if g.mac, err = net.ParseMAC(in.NICs[i].MAC); err != nil {
		return g, fmt.Errorf("mac %q: %w", in.NICs[i].MAC, err)
	}
	hn, err := s.ensureNet(info)
	if err != nil {
		return g, err
	}
	hn.ports++
	if err := s.host.AttachTap(toSetup(info), g.tap); err != nil {
		s.unport(info.ID)
		return g, err
	}
	if err := s.lease(hn, in.Name, in.NICs[i].IP, g.mac); err != nil {
		_ = s.host.Detach(g.tap)
		s.unport(info.ID)
		return g, err
	}
	return g, nil
}

// ensureNet makes the network's bridge and uplink here and starts its
// servers, once. An entry whose bridge went away is made again; one taken
// over after a restart gets its details and servers now if the view has
// not brought them yet.
func (s *netstack) ensureNet(info api.NetworkInfo) (*hostedNet, error) {
	s.infos[info.ID] = info
	if hn := s.nets[info.ID]; hn != nil && linkExists(hn.bridge) {
		if !hn.serving {
			hn.info = info
			if err := s.startServers(hn); err != nil {
				return nil, err
			}
		}
		return hn, nil
	} else if hn != nil {
		s.stopServers(hn)
		delete(s.nets, info.ID)
	}
	br, err := s.host.EnsureNetwork(toSetup(info), s.peers)
	if err != nil {
		return nil, err
	}
	hn := &hostedNet{info: info, bridge: br}
	if err := s.startServers(hn); err != nil {
		return nil, errors.Join(err, s.removeBridge(info.ID))
	}
	s.nets[info.ID] = hn
	s.log.Info("network up", "network", info.Name, "kind", info.Kind, "bridge", br)
	return hn, nil
}

// removeBridge undoes EnsureNetwork for a network whose bridge has no
// port left (netsetup's Detach already removes it with its last tap).
func (s *netstack) removeBridge(netID int64) error {
	states, err := s.host.Networks()
	if err != nil {
		return err
	}
	for _, st := range states {
		if st.ID == netID && len(st.Ports) == 0 {
			_, err = s.host.Sweep(func(id int64) bool { return id != netID })
		}
	}
	return err
}

// serveDHCP says whether guests of this network get their address from
// our DHCP server (else from the kernel command line).
func (s *netstack) serveDHCP(info api.NetworkInfo) bool { return !s.cfg.NoDHCP && info.Gateway != "" }

// startServers starts DHCP and DNS on a network's bridge; on failure it
// stops what it started.
func (s *netstack) startServers(hn *hostedNet) (err error) {
	defer func() {
		if err != nil {
			s.stopServers(hn)
		}
	}()
	if s.closed {
		return errors.New("the node manager is stopping")
	}
	gw := net.ParseIP(hn.info.Gateway)
	if s.serveDHCP(hn.info) {
		srv, err := dhcp.New(hn.bridge, gw, &hn.leases, s.log.With("bridge", hn.bridge))
		if err != nil {
			return fmt.Errorf("dhcp on %s: %w", hn.bridge, err)
		}
		ctx, cancel := context.WithCancel(s.ctx)
		go func() { _ = srv.Serve(ctx) }()
		hn.stop = append(hn.stop, func() { cancel(); _ = srv.Close() })
	}
	if !s.cfg.NoDNS && gw != nil {
		stop, err := s.names.serve(hn.info.ID, gw)
		if err != nil {
			return fmt.Errorf("dns on %s: %w", hn.bridge, err)
		}
		hn.stop = append(hn.stop, stop)
	}
	hn.serving = true
	return nil
}

func (s *netstack) stopServers(hn *hostedNet) {
	for _, f := range hn.stop {
		f()
	}
	hn.stop, hn.serving = nil, false
}

// lease puts a guest NIC's record address into its network's DHCP table.
func (s *netstack) lease(hn *hostedNet, name, ip string, mac net.HardwareAddr) error {
	if !s.serveDHCP(hn.info) || ip == "" {
		return nil
	}
	_, cidr, err := net.ParseCIDR(hn.info.CIDR)
	if err != nil {
		return fmt.Errorf("network %s: cidr %q: %w", hn.info.Name, hn.info.CIDR, err)
	}
	l := dhcp.Lease{MAC: mac, IP: net.ParseIP(ip), Mask: cidr.Mask, Router: net.ParseIP(hn.info.Gateway),
		Domain: domainOf(hn.info), Hostname: name, MTU: guestMTU(hn.info), LeaseTime: s.cfg.LeaseTime}
	if !s.cfg.NoDNS {
		l.DNS = []net.IP{l.Router}
	}
	if old, ok := hn.leases.Lookup(mac); ok && !old.IP.Equal(l.IP) {
		hn.leases.Delete(mac)
	}
	return hn.leases.Set(l)
}

func domainOf(n api.NetworkInfo) string {
	if n.Domain == "" {
		return api.DefaultDomain
	}
	return n.Domain
}

// guestMTU is the MTU the guest is told: the network's, or what a VXLAN
// encapsulation leaves of 1500.
func guestMTU(n api.NetworkInfo) int {
	switch {
	case n.MTU > 0:
		return n.MTU
	case n.Kind == "vxlan":
		return netsetup.DefaultVXLANMTU
	}
	return 0
}

// releaseGuest removes an instance's taps and leases, and networks left
// without guests.
func (s *netstack) releaseGuest(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nics := s.guests[id]
	delete(s.guests, id)
	s.detachLocked(nics)
}

func (s *netstack) detachLocked(nics []guestNIC) {
	for _, g := range nics {
		if hn := s.nets[g.netID]; hn != nil && g.mac != nil {
			hn.leases.Delete(g.mac)
		}
		if err := s.host.Detach(g.tap); err != nil {
			s.log.Warn("remove tap", "tap", g.tap, "err", err)
		}
		s.unport(g.netID)
	}
}

// unport counts one NIC off a network; with none left, the network's
// servers stop (netsetup removed its bridge with the last tap).
func (s *netstack) unport(netID int64) {
	hn := s.nets[netID]
	if hn == nil {
		return
	}
	if hn.ports--; hn.ports > 0 {
		return
	}
	s.stopServers(hn)
	delete(s.nets, netID)
	if err := s.removeBridge(netID); err != nil {
		s.log.Warn("remove network", "network", hn.info.Name, "err", err)
	}
	s.log.Info("network down", "network", hn.info.Name, "bridge", hn.bridge)
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}
