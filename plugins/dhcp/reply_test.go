package dhcp

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

var (
	bcast68  = &net.UDPAddr{IP: net.IPv4bcast.To4(), Port: 68}
	relay67  = &net.UDPAddr{IP: relayIP, Port: 67}
	leased68 = &net.UDPAddr{IP: leasedIP, Port: 68}
)

type replyCase struct {
	name     string
	req      *dhcpv4.DHCPv4
	reason   string
	mt       dhcpv4.MessageType // MessageTypeNone: no reply
	yiaddr   net.IP
	ciaddr   net.IP
	dest     *net.UDPAddr
	withOpts bool // lease options (mask, router, ...) present
	leaseOpt bool // lease time option present
}

func replyCases() []replyCase {
	unicast := dhcpv4.WithBroadcast(false)
	return []replyCase{
		{name: "discover known mac", req: request(dhcpv4.MessageTypeDiscover),
			reason: ReasonOffer, mt: dhcpv4.MessageTypeOffer, yiaddr: leasedIP,
			dest: bcast68, withOpts: true, leaseOpt: true},
		{name: "discover asking for a wrong address still offers the lease",
			req:    request(dhcpv4.MessageTypeDiscover, withRequested(wrongIP)),
			reason: ReasonOffer, mt: dhcpv4.MessageTypeOffer, yiaddr: leasedIP,
			dest: bcast68, withOpts: true, leaseOpt: true},
		{name: "discover unknown mac", req: request(dhcpv4.MessageTypeDiscover, dhcpv4.WithHwAddr(unknownMAC)),
			reason: ReasonUnknownMAC},
		{name: "selecting us, leased address",
			req:    request(dhcpv4.MessageTypeRequest, withServerID(testServerID), withRequested(leasedIP)),
			reason: ReasonAck, mt: dhcpv4.MessageTypeAck, yiaddr: leasedIP, dest: bcast68,
			withOpts: true, leaseOpt: true},
		{name: "selecting us, address in ciaddr only (old clients)",
			req:    request(dhcpv4.MessageTypeRequest, withServerID(testServerID), dhcpv4.WithClientIP(leasedIP), unicast),
			reason: ReasonAck, mt: dhcpv4.MessageTypeAck, yiaddr: leasedIP, ciaddr: leasedIP, dest: leased68,
			withOpts: true, leaseOpt: true},
		{name: "selecting us, wrong address",
			req:    request(dhcpv4.MessageTypeRequest, withServerID(testServerID), withRequested(wrongIP)),
			reason: ReasonNak, mt: dhcpv4.MessageTypeNak, dest: bcast68},
		{name: "selecting another server",
			req:    request(dhcpv4.MessageTypeRequest, withServerID(otherServer), withRequested(leasedIP)),
			reason: ReasonOtherServer},
		{name: "selecting with a malformed server id",
			req: request(dhcpv4.MessageTypeRequest, withRequested(leasedIP),
				dhcpv4.WithGeneric(dhcpv4.OptionServerIdentifier, []byte{10, 0})),
			reason: ReasonOtherServer},
		{name: "selecting us, unknown mac",
			req: request(dhcpv4.MessageTypeRequest, withServerID(testServerID), withRequested(leasedIP),
				dhcpv4.WithHwAddr(unknownMAC)),
			reason: ReasonUnknownMAC},
		{name: "init-reboot, leased address",
			req:    request(dhcpv4.MessageTypeRequest, withRequested(leasedIP)),
			reason: ReasonAck, mt: dhcpv4.MessageTypeAck, yiaddr: leasedIP, dest: bcast68,
			withOpts: true, leaseOpt: true},
		{name: "init-reboot, wrong address",
			req:    request(dhcpv4.MessageTypeRequest, withRequested(wrongIP)),
			reason: ReasonNak, mt: dhcpv4.MessageTypeNak, dest: bcast68},
		{name: "init-reboot, unknown mac",
			req:    request(dhcpv4.MessageTypeRequest, withRequested(wrongIP), dhcpv4.WithHwAddr(unknownMAC)),
			reason: ReasonUnknownMAC},
		{name: "renewing (unicast), leased ciaddr",
			req:    request(dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(leasedIP), unicast),
			reason: ReasonAck, mt: dhcpv4.MessageTypeAck, yiaddr: leasedIP, ciaddr: leasedIP,
			dest: leased68, withOpts: true, leaseOpt: true},
		{name: "rebinding with broadcast flag, leased ciaddr",
			req:    request(dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(leasedIP), dhcpv4.WithBroadcast(true)),
			reason: ReasonAck, mt: dhcpv4.MessageTypeAck, yiaddr: leasedIP, ciaddr: leasedIP,
			dest: bcast68, withOpts: true, leaseOpt: true},
		{name: "renewing, wrong ciaddr: NAK is broadcast",
			req:    request(dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(wrongIP), unicast),
			reason: ReasonNak, mt: dhcpv4.MessageTypeNak, dest: bcast68},
		{name: "request naming no address", req: request(dhcpv4.MessageTypeRequest),
			reason: ReasonNoAddress},
		{name: "relayed discover goes to giaddr",
			req:    request(dhcpv4.MessageTypeDiscover, dhcpv4.WithRelay(relayIP)),
			reason: ReasonOffer, mt: dhcpv4.MessageTypeOffer, yiaddr: leasedIP, dest: relay67,
			withOpts: true, leaseOpt: true},
		{name: "relayed renewing ack goes to giaddr, not ciaddr",
			req: request(dhcpv4.MessageTypeRequest, dhcpv4.WithRelay(relayIP),
				dhcpv4.WithClientIP(leasedIP), unicast),
			reason: ReasonAck, mt: dhcpv4.MessageTypeAck, yiaddr: leasedIP, ciaddr: leasedIP,
			dest: relay67, withOpts: true, leaseOpt: true},
		{name: "relayed nak goes to giaddr",
			req:    request(dhcpv4.MessageTypeRequest, dhcpv4.WithRelay(relayIP), withRequested(wrongIP)),
			reason: ReasonNak, mt: dhcpv4.MessageTypeNak, dest: relay67},
		{name: "release", req: request(dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(leasedIP)),
			reason: ReasonRelease},
		{name: "decline", req: request(dhcpv4.MessageTypeDecline, withRequested(leasedIP)),
			reason: ReasonDecline},
		{name: "release from unknown mac", req: request(dhcpv4.MessageTypeRelease, dhcpv4.WithHwAddr(unknownMAC)),
			reason: ReasonUnknownMAC},
		{name: "inform", req: request(dhcpv4.MessageTypeInform, dhcpv4.WithClientIP(leasedIP), unicast),
			reason: ReasonInform, mt: dhcpv4.MessageTypeAck, ciaddr: leasedIP, dest: leased68,
			withOpts: true},
		{name: "inform with broadcast flag",
			req:    request(dhcpv4.MessageTypeInform, dhcpv4.WithClientIP(leasedIP), dhcpv4.WithBroadcast(true)),
			reason: ReasonInform, mt: dhcpv4.MessageTypeAck, ciaddr: leasedIP, dest: bcast68,
			withOpts: true},
		{name: "inform from unknown mac",
			req:    request(dhcpv4.MessageTypeInform, dhcpv4.WithClientIP(leasedIP), dhcpv4.WithHwAddr(unknownMAC)),
			reason: ReasonUnknownMAC},
		{name: "client sending an offer", req: request(dhcpv4.MessageTypeOffer),
			reason: ReasonUnsupported},
		{name: "bootp request without message type", req: request(dhcpv4.MessageTypeNone,
			dhcpv4.WithoutOption(dhcpv4.OptionDHCPMessageType)),
			reason: ReasonUnsupported},
		{name: "bootreply opcode", req: request(dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) {
			d.OpCode = dhcpv4.OpcodeBootReply
		}), reason: ReasonNotRequest},
		{name: "not ethernet", req: request(dhcpv4.MessageTypeDiscover, dhcpv4.WithHWType(iana.HWTypeIEEE802)),
			reason: ReasonNotRequest},
		{name: "8-byte chaddr", req: request(dhcpv4.MessageTypeDiscover,
			dhcpv4.WithHwAddr(append(net.HardwareAddr{}, 2, 0x54, 0, 0, 0, 5, 0, 0))),
			reason: ReasonNotRequest},
	}
}

func TestReply(t *testing.T) {
	lookup := lookupOf(testLease())
	for _, c := range replyCases() {
		t.Run(c.name, func(t *testing.T) {
			reply, reason := Reply(c.req, testServerID, lookup)
			if reason != c.reason {
				t.Fatalf("reason = %q, want %q", reason, c.reason)
			}
			if c.mt == dhcpv4.MessageTypeNone {
				if reply != nil {
					t.Fatalf("got a %s reply, want silence", reply.MessageType())
				}
				return
			}
			checkReply(t, c, reply)
		})
	}
}

func checkReply(t *testing.T, c replyCase, reply *dhcpv4.DHCPv4) {
	t.Helper()
	if reply == nil {
		t.Fatalf("no reply, want %s", c.mt)
	}
	// A reply must survive the wire.
	r, err := dhcpv4.FromBytes(reply.ToBytes())
	if err != nil {
		t.Fatalf("reply does not parse back: %v", err)
	}
	if r.MessageType() != c.mt {
		t.Errorf("message type = %s, want %s", r.MessageType(), c.mt)
	}
	checkEcho(t, c.req, r)
	checkAddr(t, "yiaddr", r.YourIPAddr, c.yiaddr)
	checkAddr(t, "ciaddr", r.ClientIPAddr, c.ciaddr)
	if got := Destination(c.req, r); got.String() != c.dest.String() {
		t.Errorf("destination = %s, want %s", got, c.dest)
	}
	if got := r.Options.Has(dhcpv4.OptionSubnetMask); got != c.withOpts {
		t.Errorf("lease options present = %v, want %v", got, c.withOpts)
	}
	if c.withOpts {
		checkLeaseOptions(t, r)
	}
	if got := r.Options.Has(dhcpv4.OptionIPAddressLeaseTime); got != c.leaseOpt {
		t.Errorf("lease time present = %v, want %v", got, c.leaseOpt)
	}
	if c.leaseOpt && r.IPAddressLeaseTime(0) != 2*time.Hour {
		t.Errorf("lease time = %s, want 2h", r.IPAddressLeaseTime(0))
	}
	if c.mt == dhcpv4.MessageTypeNak && nonZero4(c.req.GatewayIPAddr) != nil && !r.IsBroadcast() {
		t.Errorf("relayed NAK without broadcast flag")
	}
}

// checkEcho checks the fields every reply copies from its request.
func checkEcho(t *testing.T, req, r *dhcpv4.DHCPv4) {
	t.Helper()
	if r.OpCode != dhcpv4.OpcodeBootReply {
		t.Errorf("opcode = %s, want BootReply", r.OpCode)
	}
	if r.TransactionID != req.TransactionID {
		t.Errorf("xid = %s, want %s", r.TransactionID, req.TransactionID)
	}
	if r.Flags != req.Flags && !(r.MessageType() == dhcpv4.MessageTypeNak && r.IsBroadcast()) {
		t.Errorf("flags = %#x, want %#x", r.Flags, req.Flags)
	}
	if !bytes.Equal(r.ClientHWAddr, req.ClientHWAddr) {
		t.Errorf("chaddr = %s, want %s", r.ClientHWAddr, req.ClientHWAddr)
	}
	checkAddr(t, "giaddr", r.GatewayIPAddr, nonZero4(req.GatewayIPAddr))
	if !r.ServerIdentifier().Equal(testServerID) {
		t.Errorf("server id = %v, want %v", r.ServerIdentifier(), testServerID)
	}
}

func checkLeaseOptions(t *testing.T, r *dhcpv4.DHCPv4) {
	t.Helper()
	l := testLease()
	checks := []struct {
		name      string
		got, want string
	}{
		{"mask", r.SubnetMask().String(), l.Mask.String()},
		{"broadcast", r.BroadcastAddress().String(), "10.0.0.255"},
		{"router", net.IP(r.Router()[0]).String(), l.Router.String()},
		{"dns", dhcpv4.IPs(r.DNS()).String(), dhcpv4.IPs(l.DNS).String()},
		{"domain", r.DomainName(), l.Domain},
		{"hostname", r.HostName(), l.Hostname},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if mtu := r.Options.Get(dhcpv4.OptionInterfaceMTU); len(mtu) != 2 || binary.BigEndian.Uint16(mtu) != 1450 {
		t.Errorf("mtu option = %v, want 1450", mtu)
	}
}

func checkAddr(t *testing.T, field string, got, want net.IP) {
	t.Helper()
	if want == nil {
		want = net.IPv4zero
	}
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", field, got, want)
	}
}

func TestReplyMinimalLease(t *testing.T) {
	l := Lease{MAC: knownMAC, IP: leasedIP, Mask: net.CIDRMask(16, 32)}
	reply, reason := Reply(request(dhcpv4.MessageTypeDiscover), testServerID, lookupOf(l))
	if reason != ReasonOffer {
		t.Fatalf("reason = %q, want offer", reason)
	}
	if got := reply.IPAddressLeaseTime(0); got != DefaultLeaseTime {
		t.Errorf("lease time = %s, want the default %s", got, DefaultLeaseTime)
	}
	for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
		dhcpv4.OptionDomainName, dhcpv4.OptionHostName, dhcpv4.OptionInterfaceMTU} {
		if reply.Options.Has(code) {
			t.Errorf("option %s sent for a lease that does not set it", code)
		}
	}
	if got := reply.BroadcastAddress().String(); got != "10.0.255.255" {
		t.Errorf("broadcast = %s, want 10.0.255.255", got)
	}
}

func TestReplyCopiesRelayAndClientID(t *testing.T) {
	agent := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port7")))
	clientID := dhcpv4.OptClientIdentifier([]byte{1, 2, 0x54, 0, 0, 0, 5})
	req := request(dhcpv4.MessageTypeDiscover, dhcpv4.WithRelay(relayIP),
		dhcpv4.WithOption(agent), dhcpv4.WithOption(clientID))
	reply, _ := Reply(req, testServerID, lookupOf(testLease()))
	for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionRelayAgentInformation, dhcpv4.OptionClientIdentifier} {
		if got, want := reply.Options.Get(code), req.Options.Get(code); !bytes.Equal(got, want) {
			t.Errorf("option %s = %x, want %x", code, got, want)
		}
	}
}

func TestReplyRefusesBadInputs(t *testing.T) {
	req := request(dhcpv4.MessageTypeDiscover)
	if r, reason := Reply(req, net.IPv4zero, lookupOf(testLease())); r != nil || reason != ReasonBadServerID {
		t.Errorf("zero server id: reply %v, reason %q; want none, %q", r, reason, ReasonBadServerID)
	}
	bad := func(net.HardwareAddr) (Lease, bool) { return Lease{MAC: knownMAC}, true }
	if r, reason := Reply(req, testServerID, bad); r != nil || reason != ReasonBadLease {
		t.Errorf("lease without ip: reply %v, reason %q; want none, %q", r, reason, ReasonBadLease)
	}
	if r, reason := Reply(nil, testServerID, bad); r != nil || reason != ReasonNotRequest {
		t.Errorf("nil request: reply %v, reason %q; want none, %q", r, reason, ReasonNotRequest)
	}
}
