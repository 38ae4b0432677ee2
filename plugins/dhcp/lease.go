package dhcp

import (
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// DefaultLeaseTime is the lease time sent when Lease.LeaseTime is 0.
const DefaultLeaseTime = time.Hour

// Lease is what the record says one guest NIC gets.
type Lease struct {
	MAC       net.HardwareAddr
	IP        net.IP
	Mask      net.IPMask
	Router    net.IP        // optional, option 3
	DNS       []net.IP      // optional, option 6
	Domain    string        // optional, option 15
	Hostname  string        // optional, option 12
	MTU       int           // optional, option 26
	LeaseTime time.Duration // 0 means DefaultLeaseTime
}

// validate says why l cannot be served, wrapping ErrInvalidLease.
func (l Lease) validate() error {
	bad := func(field string, v any) error {
		return fmt.Errorf("%w: mac %s: %s %v", ErrInvalidLease, l.MAC, field, v)
	}
	switch {
	case len(l.MAC) != 6:
		return bad("mac length", len(l.MAC))
	case !isUnicast4(l.IP):
		return bad("ip", l.IP)
	case mask4(l.Mask) == nil:
		return bad("mask", l.Mask)
	case l.Router != nil && !isUnicast4(l.Router):
		return bad("router", l.Router)
	case slices.ContainsFunc(l.DNS, func(ip net.IP) bool { return !isUnicast4(ip) }):
		return bad("dns", l.DNS)
	case l.MTU != 0 && (l.MTU < 68 || l.MTU > 65535):
		return bad("mtu (want 68..65535)", l.MTU)
	case l.LeaseTime < 0 || l.LeaseTime > dhcpv4.MaxLeaseTime:
		return bad("lease time", l.LeaseTime)
	case len(l.Hostname) > 255 || len(l.Domain) > 255:
		return bad("name length", max(len(l.Hostname), len(l.Domain)))
	}
	return nil
}

// clone returns a deep copy of l, so table entries share no memory with
// callers.
func (l Lease) clone() Lease {
	c := l
	c.MAC = slices.Clone(l.MAC)
	c.IP = slices.Clone(l.IP)
	c.Mask = slices.Clone(l.Mask)
	c.Router = slices.Clone(l.Router)
	c.DNS = make([]net.IP, len(l.DNS))
	for i, ip := range l.DNS {
		c.DNS[i] = slices.Clone(ip)
	}
	return c
}

func (l Lease) leaseTime() time.Duration {
	if l.LeaseTime == 0 {
		return DefaultLeaseTime
	}
	return l.LeaseTime
}

// isUnicast4 reports whether ip is an IPv4 address a host can hold.
func isUnicast4(ip net.IP) bool {
	v4 := ip.To4()
	return v4 != nil && !v4.IsUnspecified() && !v4.Equal(net.IPv4bcast) && !v4.IsMulticast()
}

// mask4 returns m as a 4-byte canonical (contiguous, non-zero) mask, or nil.
func mask4(m net.IPMask) net.IPMask {
	if len(m) == net.IPv6len {
		m = m[12:]
	}
	if len(m) != net.IPv4len {
		return nil
	}
	if ones, bits := m.Size(); bits == 0 || ones == 0 {
		return nil
	}
	return m
}

// broadcastAddr is the directed broadcast address of ip's subnet.
func broadcastAddr(ip net.IP, m net.IPMask) net.IP {
	ip, m = ip.To4(), mask4(m)
	b := make(net.IP, net.IPv4len)
	for i := range b {
		b[i] = ip[i] | ^m[i]
	}
	return b
}
