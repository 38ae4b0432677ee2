package netsetup

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

var (
	local = net.ParseIP("10.254.9.1").To4()
	peer2 = net.ParseIP("10.254.9.2").To4()
	peer3 = net.ParseIP("10.254.9.3").To4()
)

func vxNet(id int64, vni int) Network {
	return Network{ID: id, Name: "net", Kind: KindVXLAN, SegmentID: vni, CIDR: "10.61.0.0/24", Gateway: "10.61.0.1"}
}

func TestEnsureNetworkIdempotent(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, local, "")
	n := vxNet(7, 4242)
	for i := range 2 {
		br, err := h.EnsureNetwork(n, []net.IP{peer2, peer3, local})
		if err != nil || br != l.pfx+"b7" {
			t.Fatalf("EnsureNetwork #%d = %q, %v", i+1, br, err)
		}
	}
	// A restarted node manager (a new Host) finds it all in place, and
	// puts back what was changed behind its back.
	attrs := netlink.NewLinkAttrs()
	attrs.Name = l.pfx + "b7"
	if err := l.nl(ns).BridgeSetMcastSnoop(&netlink.Bridge{LinkAttrs: attrs}, true); err != nil {
		t.Fatal(err)
	}
	if err := l.nl(ns).LinkSetMTU(l.link(ns, l.pfx+"x7"), 1400); err != nil {
		t.Fatal(err)
	}
	if _, err := l.host(ns, local, "").EnsureNetwork(n, []net.IP{peer2, peer3}); err != nil {
		t.Fatalf("EnsureNetwork from a new Host: %v", err)
	}
	if got, want := l.linkNames(ns), sorted([]string{l.pfx + "b7", l.pfx + "x7", "lo"}); !slices.Equal(got, want) {
		t.Fatalf("links %v; want %v", got, want)
	}
	br := l.checkBridge(ns, l.pfx+"b7", 7, 1450)
	l.checkVXLAN(ns, l.pfx+"x7", 4242, br)
	l.checkGateway(ns, br, "10.61.0.1/24")
	l.checkPeers(ns, l.pfx+"x7", peer2, peer3)
}

func TestEnsureBridgeNetwork(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, nil, "")
	n := Network{ID: 9, Kind: KindBridge, CIDR: "10.63.0.0/24", Gateway: "10.63.0.254", MTU: 9000}
	for range 2 {
		if _, err := h.EnsureNetwork(n, nil); err != nil {
			t.Fatalf("EnsureNetwork: %v", err)
		}
	}
	if got, want := l.linkNames(ns), sorted([]string{l.pfx + "b9", "lo"}); !slices.Equal(got, want) {
		t.Fatalf("links %v; want %v", got, want)
	}
	br := l.checkBridge(ns, l.pfx+"b9", 9, 9000)
	l.checkGateway(ns, br, "10.63.0.254/24")
	if err := h.SetPeers(9, []net.IP{peer2}); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("SetPeers on a bridge network: %v; want ErrNoNetwork", err)
	}
}

func (l *lab) checkBridge(ns netns.NsHandle, name string, id int64, mtu int) netlink.Link {
	l.t.Helper()
	br := l.link(ns, name)
	a := br.Attrs()
	if br.Type() != "bridge" || a.HardwareAddr.String() != GatewayMAC(id).String() || a.MTU != mtu || a.RawFlags&unix.IFF_UP == 0 {
		l.t.Errorf("bridge %s: type %s mac %s mtu %d flags %#x; want an up bridge, mac %s, mtu %d",
			name, br.Type(), a.HardwareAddr, a.MTU, a.RawFlags, GatewayMAC(id), mtu)
	}
	if b, ok := br.(*netlink.Bridge); !ok || b.MulticastSnooping == nil || *b.MulticastSnooping {
		l.t.Errorf("bridge %s: multicast snooping not off", name)
	}
	if v6, err := l.nl(ns).AddrList(br, netlink.FAMILY_V6); err != nil || len(v6) > 0 {
		l.t.Errorf("bridge %s: ipv6 addresses %v, %v; want none (same MAC on every host)", name, v6, err)
	}
	return br
}

func (l *lab) checkVXLAN(ns netns.NsHandle, name string, vni int, br netlink.Link) {
	l.t.Helper()
	vx, ok := l.link(ns, name).(*netlink.Vxlan)
	if !ok {
		l.t.Fatalf("%s is not a vxlan device", name)
	}
	if vx.VxlanId != vni || vx.Port != 4789 || !vx.SrcAddr.Equal(local) || !vx.Learning ||
		vx.MasterIndex != br.Attrs().Index || vx.MTU != 1450 || vx.RawFlags&unix.IFF_UP == 0 {
		l.t.Errorf("vxlan %s: vni %d port %d local %s learning %v master %d mtu %d flags %#x; want vni %d port 4789 local %s learning, master %d, mtu 1450, up",
			name, vx.VxlanId, vx.Port, vx.SrcAddr, vx.Learning, vx.MasterIndex, vx.MTU, vx.RawFlags, vni, local, br.Attrs().Index)
	}
}

// checkGateway checks that the bridge has the address exactly once.
func (l *lab) checkGateway(ns netns.NsHandle, br netlink.Link, cidr string) {
	l.t.Helper()
	addrs, err := l.nl(ns).AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		l.t.Fatalf("list addresses: %v", err)
	}
	var got []string
	for _, a := range addrs {
		got = append(got, a.IPNet.String())
	}
	if !slices.Equal(got, []string{cidr}) {
		l.t.Errorf("addresses of %s: %v; want [%s]", br.Attrs().Name, got, cidr)
	}
}

// checkPeers reads the vxlan device's FDB with netlink and checks that
// its all-zero entries are exactly the peers, permanent and self.
func (l *lab) checkPeers(ns netns.NsHandle, vxName string, peers ...net.IP) {
	l.t.Helper()
	vx := l.link(ns, vxName)
	entries, err := l.nl(ns).NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		l.t.Fatalf("fdb of %s: %v", vxName, err)
	}
	var got []string
	for _, e := range entries {
		if e.HardwareAddr.String() != zeroMAC.String() {
			continue
		}
		if e.State != netlink.NUD_PERMANENT || e.Flags&netlink.NTF_SELF == 0 {
			l.t.Errorf("fdb entry %s dst %s: state %#x flags %#x; want permanent, self", e.HardwareAddr, e.IP, e.State, e.Flags)
		}
		got = append(got, e.IP.String())
	}
	var want []string
	for _, p := range peers {
		want = append(want, p.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		l.t.Errorf("flood entries of %s: %v; want %v", vxName, got, want)
	}
}

func TestSetPeers(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, local, "")
	if _, err := h.EnsureNetwork(vxNet(3, 300), nil); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	vx := l.pfx + "x3"
	l.checkPeers(ns, vx)
	steps := []struct{ set, want []net.IP }{
		{[]net.IP{peer2, local, peer2}, []net.IP{peer2}},
		{[]net.IP{peer2, peer3}, []net.IP{peer2, peer3}},
		{[]net.IP{peer3}, []net.IP{peer3}},
		{nil, nil},
	}
	for _, s := range steps {
		if err := h.SetPeers(3, s.set); err != nil {
			t.Fatalf("SetPeers(%v): %v", s.set, err)
		}
		l.checkPeers(ns, vx, s.want...)
		if got, err := h.Peers(3); err != nil || len(got) != len(s.want) {
			t.Errorf("Peers = %v, %v; want %v", got, err, s.want)
		}
	}
	if err := h.SetPeers(3, []net.IP{net.ParseIP("fd00::2")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an IPv6 peer: %v; want ErrInvalid", err)
	}
	if err := h.SetPeers(4, []net.IP{peer2}); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("SetPeers on a missing network: %v; want ErrNoNetwork", err)
	}
}

func TestEnsureNetworkUndo(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, local, "")
	if _, err := h.EnsureNetwork(vxNet(1, 77), []net.IP{peer2}); err != nil {
		t.Fatalf("EnsureNetwork 1: %v", err)
	}
	before := l.linkNames(ns)

	// The kernel refuses a second device with VNI 77 after the bridge is made.
	_, err := h.EnsureNetwork(vxNet(2, 77), []net.IP{peer2})
	if !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "create vxlan device "+l.pfx+"x2") {
		t.Errorf("a second network with VNI 77: %v; want the vxlan device refused", err)
	}
	if got := l.linkNames(ns); !slices.Equal(got, before) {
		t.Errorf("links after the failure %v; want %v", got, before)
	}

	// A link of another kind with network 3's vxlan name: conflict, left alone.
	l.veth(ns, l.pfx+"x3", ns, l.pfx+"p3")
	before = l.linkNames(ns)
	if _, err := h.EnsureNetwork(vxNet(3, 78), nil); !errors.Is(err, ErrConflict) {
		t.Errorf("vxlan name taken by a veth: %v; want ErrConflict", err)
	}
	if got := l.linkNames(ns); !slices.Equal(got, before) {
		t.Errorf("links after the conflict %v; want %v", got, before)
	}
	if k := l.link(ns, l.pfx+"x3"); k.Type() != "veth" || k.Attrs().MasterIndex != 0 {
		t.Errorf("the veth was changed: %s master %d", k.Type(), k.Attrs().MasterIndex)
	}

	// Network 1, made before, is intact.
	br := l.checkBridge(ns, l.pfx+"b1", 1, 1450)
	l.checkVXLAN(ns, l.pfx+"x1", 77, br)
	l.checkPeers(ns, l.pfx+"x1", peer2)
	l.deleteLinks(ns, l.pfx+"x3")
}

func (l *lab) deleteLinks(ns netns.NsHandle, names ...string) {
	l.t.Helper()
	for _, name := range names {
		if err := l.nl(ns).LinkDel(l.link(ns, name)); err != nil {
			l.t.Errorf("delete %s: %v", name, err)
		}
	}
}

func TestVLAN(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	uplink := l.pfx + "up"
	l.veth(ns, uplink, ns, l.pfx+"upp")
	l.up(ns, uplink, 0)
	h := l.host(ns, nil, uplink)
	before := l.linkNames(ns)
	n := Network{ID: 5, Kind: KindVLAN, SegmentID: 42, CIDR: "10.64.0.0/24", Gateway: "10.64.0.1"}
	_, err := h.EnsureNetwork(n, nil)
	switch {
	case errors.Is(err, ErrVLANUnsupported):
		if !errors.Is(err, unix.EOPNOTSUPP) || !strings.Contains(err.Error(), "CONFIG_VLAN_8021Q") ||
			!strings.Contains(err.Error(), "vxlan or bridge networks work") {
			t.Errorf("error %q: want EOPNOTSUPP, CONFIG_VLAN_8021Q and the alternatives named", err)
		}
		if got := l.linkNames(ns); !slices.Equal(got, before) {
			t.Errorf("links after the refused vlan %v; want %v", got, before)
		}
	case err == nil:
		t.Log("this kernel has 802.1Q")
		br := l.checkBridge(ns, l.pfx+"b5", 5, 1500)
		v, ok := l.link(ns, l.pfx+"v5").(*netlink.Vlan)
		if !ok || v.VlanId != 42 || v.ParentIndex != l.link(ns, uplink).Attrs().Index || v.MasterIndex != br.Attrs().Index {
			t.Errorf("vlan device: %+v", v)
		}
	default:
		t.Fatalf("EnsureNetwork(vlan): %v; want success or ErrVLANUnsupported", err)
	}
	if _, err := l.host(ns, nil, "").EnsureNetwork(n, nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Config.Uplink") {
		t.Errorf("vlan without an uplink: %v; want ErrInvalid naming Config.Uplink", err)
	}
}

// TestConcurrentAttach: goroutines ensuring one network and attaching
// their own taps at once end with one bridge, one vxlan device and every
// tap on the bridge.
func TestConcurrentAttach(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, local, "")
	n := vxNet(5, 500)
	const workers = 6
	errs := make(chan error, workers)
	for i := range workers {
		go func() {
			tap, err := h.TapName(int64(i), 0)
			if err == nil {
				_, err = h.EnsureNetwork(n, []net.IP{peer2})
			}
			if err == nil {
				err = h.AttachTap(n, tap)
			}
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	states, err := h.Networks()
	if err != nil || len(states) != 1 || states[0].Uplink != l.pfx+"x5" || len(states[0].Ports) != workers {
		t.Errorf("Networks = %+v, %v; want network 5 with its vxlan device and %d taps", states, err, workers)
	}
	l.checkPeers(ns, l.pfx+"x5", peer2)
}
