package netsetup

import (
	"net"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestDatapath wires two "hosts" (namespaces joined by a veth underlay)
// with two vxlan networks on both, and "guests" (namespaces on veths
// attached with AttachLink): A1 on host1, A2 and B1 on host2, B2 on host1.
// Same-network guests reach each other across hosts and reach the anycast
// gateway; B1, given an address in A's subnet too, reaches no A guest,
// locally or across: isolation is by segment, not by routing.
func TestDatapath(t *testing.T) {
	l := newLab(t)
	ns1, ns2 := l.ns(), l.ns()
	l.veth(ns1, l.pfx+"u1", ns2, l.pfx+"u2")
	l.up(ns1, l.pfx+"u1", 0, "10.254.77.1/24")
	l.up(ns2, l.pfx+"u2", 0, "10.254.77.2/24")
	ip1, ip2 := net.ParseIP("10.254.77.1"), net.ParseIP("10.254.77.2")
	h1 := l.host(ns1, ip1, l.pfx+"u1")
	h2 := l.host(ns2, ip2, l.pfx+"u2")

	a := Network{ID: 11, Name: "A", Kind: KindVXLAN, SegmentID: 111, CIDR: "10.61.0.0/24", Gateway: "10.61.0.1"}
	b := Network{ID: 12, Name: "B", Kind: KindVXLAN, SegmentID: 222, CIDR: "10.62.0.0/24", Gateway: "10.62.0.1"}
	for _, n := range []Network{a, b} {
		if _, err := h1.EnsureNetwork(n, []net.IP{ip2}); err != nil {
			t.Fatalf("host1: %v", err)
		}
		if _, err := h2.EnsureNetwork(n, []net.IP{ip1}); err != nil {
			t.Fatalf("host2: %v", err)
		}
	}
	a1 := l.guest(h1, ns1, a, l.pfx+"a1", "10.61.0.10/24")
	a2 := l.guest(h2, ns2, a, l.pfx+"a2", "10.61.0.20/24")
	b1 := l.guest(h2, ns2, b, l.pfx+"b1g", "10.62.0.10/24", "10.61.0.99/24")
	l.guest(h1, ns1, b, l.pfx+"b2g", "10.62.0.20/24")

	l.reaches("A1 to A2 across hosts", a1, "10.61.0.20")
	l.reaches("A1 to its gateway", a1, "10.61.0.1")
	l.reaches("A2 to its gateway", a2, "10.61.0.1")
	l.reaches("B1 to B2 across hosts", b1, "10.62.0.20")
	l.checkGatewayMAC(a1, "10.61.0.1", GatewayMAC(a.ID))
	l.checkGatewayMAC(a2, "10.61.0.1", GatewayMAC(a.ID))

	l.isolated("B1 (in A's subnet) to A1 on the other host", b1, "10.61.0.10")
	l.isolated("B1 (in A's subnet) to A2 on its own host", b1, "10.61.0.20")
	l.isolated("A2 to B1's A-subnet address", a2, "10.61.0.99")
	l.isolated("A1 to B1's A-subnet address", a1, "10.61.0.99")

	// Flooding follows SetPeers: with no peers, host1 floods nothing, so
	// A1's ARP for A3 (new on host2, never heard from) gets no answer;
	// with host2 back as a peer it does.
	if err := h1.SetPeers(a.ID, nil); err != nil {
		t.Fatalf("SetPeers: %v", err)
	}
	l.guest(h2, ns2, a, l.pfx+"a3", "10.61.0.30/24")
	l.isolated("A1 to A3 with no peers on host1", a1, "10.61.0.30")
	if err := h1.SetPeers(a.ID, []net.IP{ip2}); err != nil {
		t.Fatalf("SetPeers: %v", err)
	}
	l.reaches("A1 to A3 with the peer back", a1, "10.61.0.30")
}

// checkGatewayMAC checks the MAC a guest learned for its gateway.
func (l *lab) checkGatewayMAC(g netns.NsHandle, gw string, want net.HardwareAddr) {
	l.t.Helper()
	h := l.nl(g)
	entries, err := h.NeighList(l.link(g, "eth0").Attrs().Index, unix.AF_INET)
	if err != nil {
		l.t.Fatalf("neighbours: %v", err)
	}
	for _, e := range entries {
		if e.IP.Equal(net.ParseIP(gw)) {
			if e.HardwareAddr.String() != want.String() {
				l.t.Errorf("gateway %s is at %s; want the anycast MAC %s", gw, e.HardwareAddr, want)
			}
			return
		}
	}
	l.t.Errorf("no neighbour entry for gateway %s", gw)
}
