package netsetup

import (
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Host wires networks on one host (in one network namespace).
type Host struct {
	cfg Config
	nl  *netlink.Handle
	log *slog.Logger
	mu  sync.Mutex // serializes every change
}

// New opens a netlink handle in cfg.NS. Close it when done.
func New(cfg Config) (*Host, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("configure network setup: %w", err)
	}
	nl, err := netlink.NewHandleAt(cfg.NS, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink in network namespace %s: %w", cfg.NS, err)
	}
	log := cfg.Log.With("subsystem", "netsetup")
	return &Host{cfg: cfg, nl: nl, log: log}, nil
}

// Close releases the netlink handle; what was made stays.
func (h *Host) Close() { h.nl.Close() }

// names are a network's device names.
type names struct{ bridge, uplink string }

// check validates n and derives its names.
func (h *Host) check(n Network) (names, error) {
	if err := n.validate(h.cfg); err != nil {
		return names{}, fmt.Errorf("network %d (%s): %w", n.ID, n.Name, err)
	}
	var nm names
	var err error
	if nm.bridge, err = h.BridgeName(n.ID); err != nil {
		return names{}, err
	}
	switch n.Kind {
	case KindVXLAN:
		nm.uplink, err = h.VXLANName(n.ID)
	case KindVLAN:
		nm.uplink, err = h.VLANName(n.ID)
	}
	return nm, err
}

// EnsureNetwork makes network n's bridge with its gateway address and, for
// vxlan and vlan networks, its uplink device as a port, with peers (other
// hosts' tunnel addresses) as VXLAN flood destinations. It returns the
// bridge's name. It is idempotent; on failure it removes what it made.
func (h *Host) EnsureNetwork(n Network, peers []net.IP) (bridge string, err error) {
	nm, err := h.check(n)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	u := &undo{log: h.log}
	defer u.runIf(&err)
	if err := h.ensureNetwork(n, nm, peers, u); err != nil {
		return "", fmt.Errorf("ensure network %d (%s): %w", n.ID, n.Name, err)
	}
	return nm.bridge, nil
}

func (h *Host) ensureNetwork(n Network, nm names, peers []net.IP, u *undo) error {
	br, err := h.ensureBridge(n, nm.bridge, u)
	if err != nil {
		return err
	}
	if err := h.ensureGateway(br, n, u); err != nil {
		return err
	}
	if err := h.ensureUplink(n, nm.uplink, br, peers, u); err != nil {
		return err
	}
	if br, err = h.nl.LinkByIndex(br.Attrs().Index); err != nil { // fresh MTU and flags
		return fmt.Errorf("look up bridge %s: %w", nm.bridge, err)
	}
	if err := h.setMTU(br, n.mtu()); err != nil {
		return err
	}
	return h.setUp(br)
}

func (h *Host) ensureUplink(n Network, name string, br netlink.Link, peers []net.IP, u *undo) error {
	switch n.Kind {
	case KindVXLAN:
		return h.ensureVXLAN(n, name, br, peers, u)
	case KindVLAN:
		return h.ensureVLAN(n, name, br, u)
	}
	return nil
}

// in6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE (linux/if_link.h).
const in6AddrGenModeNone = 1

// ensureBridge finds or makes the bridge, with the anycast gateway MAC.
func (h *Host) ensureBridge(n Network, name string, u *undo) (netlink.Link, error) {
	br, err := h.linkByName(name)
	if err != nil {
		return nil, err
	}
	mac := GatewayMAC(n.ID)
	if br != nil {
		if br.Type() != "bridge" {
			return nil, fmt.Errorf("bridge %s: the name is a %s link: %w", name, br.Type(), ErrConflict)
		}
		if err := h.noSnooping(br); err != nil {
			return nil, err
		}
		return br, h.setMAC(br, mac)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU, attrs.HardwareAddr = name, n.mtu(), mac
	snooping := false
	if err := h.nl.LinkAdd(&netlink.Bridge{LinkAttrs: attrs, MulticastSnooping: &snooping}); err != nil {
		return nil, fmt.Errorf("create bridge %s: %w", name, err)
	}
	u.add("delete bridge "+name, func() error { return h.deleteLink(name) })
	h.log.Info("created bridge", "bridge", name, "network_id", n.ID, "mac", mac.String())
	if br, err = h.nl.LinkByName(name); err != nil {
		return nil, fmt.Errorf("look up new bridge %s: %w", name, err)
	}
	// Same MAC on every host: same IPv6 link-local address; see doc.go.
	if err := h.nl.LinkSetIP6AddrGenMode(br, in6AddrGenModeNone); err != nil {
		h.log.Debug("turn off ipv6 link-local address", "bridge", name, "err", err)
	}
	return br, nil
}

// noSnooping turns multicast snooping off: multicast floods like broadcast
// (to every peer over VXLAN), and the bridge sends no IGMP/MLD reports from
// the anycast MAC to other hosts.
func (h *Host) noSnooping(br netlink.Link) error {
	if b, ok := br.(*netlink.Bridge); ok && b.MulticastSnooping != nil && !*b.MulticastSnooping {
		return nil
	}
	// A fresh Bridge: the looked-up one carries every bridge attribute,
	// some (vlan_filtering) refused by kernels without them.
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.Index = br.Attrs().Name, br.Attrs().Index
	if err := h.nl.BridgeSetMcastSnoop(&netlink.Bridge{LinkAttrs: attrs}, false); err != nil {
		return fmt.Errorf("turn off multicast snooping on %s: %w", br.Attrs().Name, err)
	}
	return nil
}

func (h *Host) setMAC(l netlink.Link, mac net.HardwareAddr) error {
	if l.Attrs().HardwareAddr.String() == mac.String() {
		return nil
	}
	if err := h.nl.LinkSetHardwareAddr(l, mac); err != nil {
		return fmt.Errorf("set mac of %s to %s: %w", l.Attrs().Name, mac, err)
	}
	return nil
}

// ensureGateway gives the bridge the gateway address with the CIDR's mask.
func (h *Host) ensureGateway(br netlink.Link, n Network, u *undo) error {
	if n.Gateway == "" {
		return nil
	}
	gw, _, err := n.gatewayNet()
	if err != nil {
		return err
	}
	addrs, err := h.nl.AddrList(br, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", br.Attrs().Name, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == gw.String() {
			return nil
		}
	}
	addr := &netlink.Addr{IPNet: gw}
	if err := h.nl.AddrAdd(br, addr); err != nil {
		return fmt.Errorf("give bridge %s gateway address %s: %w", br.Attrs().Name, gw, err)
	}
	u.add("remove address "+gw.String(), func() error { return h.nl.AddrDel(br, addr) })
	return nil
}
