package dhcp

import (
	"net"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	testServerID = net.IPv4(10, 0, 0, 1).To4()
	otherServer  = net.IPv4(10, 0, 0, 2).To4()
	leasedIP     = net.IPv4(10, 0, 0, 5).To4()
	wrongIP      = net.IPv4(10, 0, 0, 99).To4()
	relayIP      = net.IPv4(10, 9, 0, 1).To4()
	knownMAC     = net.HardwareAddr{0x02, 0x54, 0, 0, 0, 0x05}
	unknownMAC   = net.HardwareAddr{0x02, 0x54, 0, 0, 0, 0x99}
	testXID      = dhcpv4.TransactionID{1, 2, 3, 4}
)

// testLease is the record's lease for knownMAC, with every option set. It
// shares no memory with the package variables.
func testLease() Lease {
	return Lease{
		MAC:       slices.Clone(knownMAC),
		IP:        net.IPv4(10, 0, 0, 5),
		Mask:      net.CIDRMask(24, 32),
		Router:    net.IPv4(10, 0, 0, 1),
		DNS:       []net.IP{net.IPv4(10, 0, 0, 53), net.IPv4(10, 0, 0, 54)},
		Domain:    "cluster.test",
		Hostname:  "vm-42",
		MTU:       1450,
		LeaseTime: 2 * time.Hour,
	}
}

// lookupOf returns a lookup over a table holding leases.
func lookupOf(leases ...Lease) func(net.HardwareAddr) (Lease, bool) {
	var t Table
	for _, l := range leases {
		if err := t.Set(l); err != nil {
			panic(err)
		}
	}
	return t.Lookup
}

// request builds a client packet of type mt from knownMAC with testXID.
func request(mt dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	base := []dhcpv4.Modifier{
		dhcpv4.WithTransactionID(testXID),
		dhcpv4.WithHwAddr(knownMAC),
		dhcpv4.WithMessageType(mt),
	}
	d, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		panic(err)
	}
	return d
}

func withServerID(ip net.IP) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip))
}

func withRequested(ip net.IP) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip))
}
