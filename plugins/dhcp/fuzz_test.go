package dhcp

import (
	"bytes"
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzReply feeds packets through FromBytes, Reply, Destination and
// ToBytes. Every 6-byte MAC is known, so the fuzzer reaches the lease
// paths. The seeds in testdata/fuzz/FuzzReply are packets captured from
// busybox udhcpc and ISC dhclient talking to this server.
func FuzzReply(f *testing.F) {
	for _, c := range replyCases() {
		f.Add(c.req.ToBytes())
	}
	lookup := func(mac net.HardwareAddr) (Lease, bool) {
		l := testLease()
		l.MAC = mac
		return l, true
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		reply, reason := Reply(req, testServerID, lookup)
		if reply == nil {
			if reason == ReasonOffer || reason == ReasonAck || reason == ReasonNak || reason == ReasonInform {
				t.Fatalf("no reply but reason %q", reason)
			}
			return
		}
		checkFuzzedReply(t, req, reply, reason)
	})
}

func checkFuzzedReply(t *testing.T, req, reply *dhcpv4.DHCPv4, reason string) {
	r, err := dhcpv4.FromBytes(reply.ToBytes())
	if err != nil {
		t.Fatalf("reply (%s) does not parse back: %v", reason, err)
	}
	if r.OpCode != dhcpv4.OpcodeBootReply || r.TransactionID != req.TransactionID ||
		!bytes.Equal(r.ClientHWAddr, req.ClientHWAddr) || !r.ServerIdentifier().Equal(testServerID) {
		t.Fatalf("reply (%s) does not echo the request: %s", reason, r.Summary())
	}
	wantYI := map[string]net.IP{ReasonOffer: leasedIP, ReasonAck: leasedIP,
		ReasonNak: net.IPv4zero, ReasonInform: net.IPv4zero}
	if want, ok := wantYI[reason]; !ok || !r.YourIPAddr.Equal(want) {
		t.Fatalf("reason %q with yiaddr %s", reason, r.YourIPAddr)
	}
	dst := Destination(req, r)
	if dst.IP.To4() == nil || (dst.Port != 67 && dst.Port != 68) {
		t.Fatalf("destination %s", dst)
	}
}
