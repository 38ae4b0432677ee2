package dns

import (
	"net"
	"testing"

	mdns "github.com/miekg/dns"
)

// testConfig is the zone config the tests share: cluster.test. and
// 10.88.0.0/24, TTL 60, serial 7.
func testConfig() ZoneConfig {
	return ZoneConfig{
		Domains:      []string{"cluster.test."},
		ReverseCIDRs: []string{"10.88.0.0/24"},
		TTL:          60,
		Serial:       7,
	}
}

// testRecords: vm1 one address, vm2 two, vm3 in a subdomain, dup sharing
// vm1's address (vm1 keeps the PTR), ns for the glue, and far outside the
// reverse CIDR, and vm1 again.
func testRecords() []Record {
	return []Record{
		rec("vm1.cluster.test.", "10.88.0.11"),
		rec("VM2.Cluster.Test", "10.88.0.12"),
		rec("vm2.cluster.test.", "10.88.0.13"),
		rec("vm3.sub.cluster.test.", "10.88.0.14"),
		rec("dup.cluster.test.", "10.88.0.11"),
		rec("ns.cluster.test.", "10.88.0.1"),
		rec("far.cluster.test.", "192.0.2.9"),
		rec("vm1.cluster.test", "10.88.0.11"), // a duplicate, answered once
	}
}

func rec(name, ip string) Record { return Record{Name: name, IP: net.ParseIP(ip)} }

func testZone(t testing.TB) *Zone {
	t.Helper()
	z, err := NewZone(testConfig(), testRecords())
	if err != nil {
		t.Fatalf("NewZone: %v", err)
	}
	return z
}

// query builds a QUERY for name and type with recursion desired, as dig
// sends it.
func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 4242
	return m
}
