package nodemanager

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/tashi-go/tashi/api"
)

// wiring makes a bridge per network and a tap per NIC, with netlink.
// Every step is idempotent and undone on failure; a bridge goes away
// with its last tap. Isolation across hosts (VXLAN, VLAN), DHCP and DNS
// come with the networking issue; here every network is a local bridge.
type wiring struct {
	bridgePrefix, tapPrefix string
	log                     *slog.Logger
	mu                      sync.Mutex
	taps                    map[int64][]string // instance -> its taps
}

var errExist = syscall.EEXIST

func newWiring(bridgePrefix, tapPrefix string, log *slog.Logger) *wiring {
	if bridgePrefix == "" {
		bridgePrefix = "tashibr"
	}
	if tapPrefix == "" {
		tapPrefix = "tashi"
	}
	return &wiring{bridgePrefix: bridgePrefix, tapPrefix: tapPrefix, log: log, taps: map[int64][]string{}}
}

func (w *wiring) bridgeName(netID int64) string { return fmt.Sprintf("%s%d", w.bridgePrefix, netID) }

func (w *wiring) tapName(id int64, nic int) string {
	return fmt.Sprintf("%s%d.%d", w.tapPrefix, id, nic)
}

// attach makes the taps of an instance's NICs on their networks' bridges.
func (w *wiring) attach(id int64, nics []api.NIC, nets map[string]api.NetworkInfo) (taps []string, err error) {
	defer func() {
		if err != nil {
			w.remove(taps)
			taps = nil
		}
	}()
	for i, nic := range nics {
		info, ok := nets[nic.Network]
		if !ok {
			return taps, fmt.Errorf("nic %d: network %q: no network details in the request", i, nic.Network)
		}
		if info.Kind == "vlan" || info.Kind == "vxlan" {
			return taps, fmt.Errorf("nic %d: network %s is %s; this node manager wires only bridge networks so far", i, info.Name, info.Kind)
		}
		br, err := w.ensureBridge(info)
		if err != nil {
			return taps, err
		}
		tap := w.tapName(id, i)
		if err := w.ensureTap(tap, br); err != nil {
			return taps, err
		}
		taps = append(taps, tap)
	}
	w.mu.Lock()
	w.taps[id] = taps
	w.mu.Unlock()
	return taps, nil
}

func (w *wiring) ensureBridge(n api.NetworkInfo) (netlink.Link, error) {
	name := w.bridgeName(n.ID)
	br, err := netlink.LinkByName(name)
	if err != nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		if n.MTU > 0 {
			attrs.MTU = n.MTU
		}
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, errExist) {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		if br, err = netlink.LinkByName(name); err != nil {
			return nil, fmt.Errorf("find bridge %s: %w", name, err)
		}
	}
	if err := w.gatewayAddr(br, n); err != nil {
		return nil, err
	}
	return br, netlink.LinkSetUp(br)
}

// gatewayAddr gives the bridge the network's gateway address, so the
// host reaches its guests.
func (w *wiring) gatewayAddr(br netlink.Link, n api.NetworkInfo) error {
	if n.Gateway == "" || n.CIDR == "" {
		return nil
	}
	_, cidr, err := net.ParseCIDR(n.CIDR)
	if err != nil {
		return fmt.Errorf("network %s: cidr %q: %w", n.Name, n.CIDR, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(n.Gateway), Mask: cidr.Mask}}
	if err := netlink.AddrReplace(br, addr); err != nil {
		return fmt.Errorf("give bridge %s address %s: %w", br.Attrs().Name, n.Gateway, err)
	}
	return nil
}

func (w *wiring) ensureTap(name string, br netlink.Link) error {
	if _, err := netlink.LinkByName(name); err != nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		tap := &netlink.Tuntap{LinkAttrs: attrs, Mode: netlink.TUNTAP_MODE_TAP,
			Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_ONE_QUEUE}
		if err := netlink.LinkAdd(tap); err != nil {
			return fmt.Errorf("create tap %s: %w", name, err)
		}
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find tap %s: %w", name, err)
	}
	if err := netlink.LinkSetMaster(link, br); err != nil {
		return fmt.Errorf("attach tap %s to %s: %w", name, br.Attrs().Name, err)
	}
	return netlink.LinkSetUp(link)
}

// releaseGuest removes an instance's taps, and bridges left without ports.
func (w *wiring) releaseGuest(id int64) {
	w.mu.Lock()
	taps := w.taps[id]
	delete(w.taps, id)
	w.mu.Unlock()
	if taps == nil {
		taps = w.findTaps(id)
	}
	w.remove(taps)
}

// findTaps finds taps by name, after a node manager restart.
func (w *wiring) findTaps(id int64) []string {
	var out []string
	for i := 0; i < 8; i++ {
		if _, err := netlink.LinkByName(w.tapName(id, i)); err == nil {
			out = append(out, w.tapName(id, i))
		}
	}
	return out
}

func (w *wiring) remove(taps []string) {
	for _, name := range taps {
		link, err := netlink.LinkByName(name)
		if err != nil {
			continue
		}
		master := link.Attrs().MasterIndex
		if err := netlink.LinkDel(link); err != nil {
			w.log.Warn("remove tap", "tap", name, "err", err)
		}
		w.removeEmptyBridge(master)
	}
}

func (w *wiring) removeEmptyBridge(index int) {
	if index == 0 {
		return
	}
	links, err := netlink.LinkList()
	if err != nil {
		return
	}
	for _, l := range links {
		if l.Attrs().MasterIndex == index {
			return // still in use
		}
	}
	br, err := netlink.LinkByIndex(index)
	if err == nil && strings.HasPrefix(br.Attrs().Name, w.bridgePrefix) { // only bridges we made
		_ = netlink.LinkDel(br)
	}
}
