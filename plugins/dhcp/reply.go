package dhcp

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Reasons Reply gives for its decision; Server.Stats counts them.
const (
	ReasonOffer       = "offer"         // DISCOVER from a known MAC
	ReasonAck         = "ack"           // REQUEST for the leased address
	ReasonInform      = "inform"        // INFORM from a known MAC
	ReasonNak         = "nak"           // REQUEST for another address
	ReasonOtherServer = "other_server"  // REQUEST naming another server
	ReasonNoAddress   = "no_address"    // REQUEST naming no address at all
	ReasonUnknownMAC  = "unknown_mac"   // not one of our guests: silence
	ReasonRelease     = "release"       // leases belong to the record
	ReasonDecline     = "decline"       // the guest saw an address conflict
	ReasonUnsupported = "unsupported"   // another message type, or none
	ReasonNotRequest  = "not_request"   // BOOTREPLY, or not ethernet
	ReasonBadLease    = "bad_lease"     // lookup returned an invalid lease
	ReasonBadServerID = "bad_server_id" // serverID is not unicast IPv4
	ReasonMalformed   = "malformed"     // Server only: did not parse
	ReasonSendFailed  = "send_failed"   // Server only: write failed
)

// Reply decides the answer to one request: the reply to send, or nil for
// "say nothing", and a Reason* constant. serverID is this server's
// identifier address; lookup finds a MAC's lease. Reply has no side
// effects; Destination says where the reply goes.
func Reply(req *dhcpv4.DHCPv4, serverID net.IP, lookup func(net.HardwareAddr) (Lease, bool)) (*dhcpv4.DHCPv4, string) {
	if !isUnicast4(serverID) {
		return nil, ReasonBadServerID
	}
	if req == nil || req.OpCode != dhcpv4.OpcodeBootRequest ||
		req.HWType != iana.HWTypeEthernet || len(req.ClientHWAddr) != 6 {
		return nil, ReasonNotRequest
	}
	lease, ok := lookup(req.ClientHWAddr)
	if !ok {
		return nil, ReasonUnknownMAC
	}
	if lease.validate() != nil {
		return nil, ReasonBadLease
	}
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		return offer(req, serverID, lease), ReasonOffer
	case dhcpv4.MessageTypeRequest:
		return onRequest(req, serverID, lease)
	case dhcpv4.MessageTypeInform:
		return inform(req, serverID, lease), ReasonInform
	case dhcpv4.MessageTypeRelease:
		return nil, ReasonRelease
	case dhcpv4.MessageTypeDecline:
		return nil, ReasonDecline
	}
	return nil, ReasonUnsupported
}

// onRequest tells the REQUEST states apart (RFC 2131 section 4.3.2) and
// ACKs the leased address or NAKs anything else.
func onRequest(req *dhcpv4.DHCPv4, serverID net.IP, l Lease) (*dhcpv4.DHCPv4, string) {
	var want net.IP
	switch {
	case req.Options.Has(dhcpv4.OptionServerIdentifier): // SELECTING
		if sid := req.ServerIdentifier(); sid == nil || !sid.Equal(serverID) {
			return nil, ReasonOtherServer
		}
		want = req.RequestedIPAddress()
		if want == nil { // some old clients put it in ciaddr
			want = nonZero4(req.ClientIPAddr)
		}
	case req.Options.Has(dhcpv4.OptionRequestedIPAddress): // INIT-REBOOT
		want = req.RequestedIPAddress()
	case nonZero4(req.ClientIPAddr) != nil: // RENEWING or REBINDING
		want = req.ClientIPAddr
	default:
		return nil, ReasonNoAddress
	}
	if !want.Equal(l.IP) {
		return nak(req, serverID), ReasonNak
	}
	return ack(req, serverID, l), ReasonAck
}

func offer(req *dhcpv4.DHCPv4, serverID net.IP, l Lease) *dhcpv4.DHCPv4 {
	r := newReply(req, serverID, dhcpv4.MessageTypeOffer)
	r.YourIPAddr = l.IP.To4()
	addLeaseOptions(r, l)
	r.UpdateOption(dhcpv4.OptIPAddressLeaseTime(l.leaseTime()))
	return r
}

func ack(req *dhcpv4.DHCPv4, serverID net.IP, l Lease) *dhcpv4.DHCPv4 {
	r := offer(req, serverID, l)
	r.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeAck))
	r.ClientIPAddr = copy4(req.ClientIPAddr)
	return r
}

// inform answers an INFORM: configuration only, no yiaddr, no lease time.
func inform(req *dhcpv4.DHCPv4, serverID net.IP, l Lease) *dhcpv4.DHCPv4 {
	r := newReply(req, serverID, dhcpv4.MessageTypeAck)
	r.ClientIPAddr = copy4(req.ClientIPAddr)
	addLeaseOptions(r, l)
	return r
}

func nak(req *dhcpv4.DHCPv4, serverID net.IP) *dhcpv4.DHCPv4 {
	r := newReply(req, serverID, dhcpv4.MessageTypeNak)
	r.UpdateOption(dhcpv4.OptMessage("requested address is not this client's lease"))
	if nonZero4(req.GatewayIPAddr) != nil {
		r.SetBroadcast() // RFC 2131 4.3.2: the relay must broadcast it
	}
	return r
}

// newReply is the common part of every reply: xid, flags, giaddr and
// chaddr echoed, relay agent information (RFC 3046) and client identifier
// (RFC 6842) copied, message type and server identifier set.
func newReply(req *dhcpv4.DHCPv4, serverID net.IP, mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	r := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        req.HWType,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientIPAddr:  net.IPv4zero.To4(),
		YourIPAddr:    net.IPv4zero.To4(),
		ServerIPAddr:  net.IPv4zero.To4(),
		GatewayIPAddr: copy4(req.GatewayIPAddr),
		ClientHWAddr:  slices.Clone(req.ClientHWAddr),
		Options:       dhcpv4.Options{},
	}
	for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionRelayAgentInformation, dhcpv4.OptionClientIdentifier} {
		if v := req.Options.Get(code); v != nil {
			r.Options[code.Code()] = bytes.Clone(v)
		}
	}
	r.UpdateOption(dhcpv4.OptMessageType(mt))
	r.UpdateOption(dhcpv4.OptServerIdentifier(serverID.To4()))
	return r
}

// addLeaseOptions adds the lease's configuration options (not the lease
// time, which INFORM answers must not carry).
func addLeaseOptions(r *dhcpv4.DHCPv4, l Lease) {
	r.UpdateOption(dhcpv4.OptSubnetMask(mask4(l.Mask)))
	r.UpdateOption(dhcpv4.OptBroadcastAddress(broadcastAddr(l.IP, l.Mask)))
	if l.Router != nil {
		r.UpdateOption(dhcpv4.OptRouter(l.Router.To4()))
	}
	if len(l.DNS) > 0 {
		r.UpdateOption(dhcpv4.OptDNS(l.DNS...))
	}
	if l.Domain != "" {
		r.UpdateOption(dhcpv4.OptDomainName(l.Domain))
	}
	if l.Hostname != "" {
		r.UpdateOption(dhcpv4.OptHostName(l.Hostname))
	}
	if l.MTU != 0 {
		r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionInterfaceMTU,
			binary.BigEndian.AppendUint16(nil, uint16(l.MTU))))
	}
}

// Destination says where a reply to req goes (RFC 2131 section 4.1): to
// the relay at giaddr:67; a NAK to 255.255.255.255:68; to ciaddr:68 when
// the client has an address and did not ask for broadcast; otherwise to
// 255.255.255.255:68. It never unicasts to yiaddr, which would need an
// ARP entry the client cannot answer yet.
func Destination(req, reply *dhcpv4.DHCPv4) *net.UDPAddr {
	if gi := nonZero4(req.GatewayIPAddr); gi != nil {
		return &net.UDPAddr{IP: gi, Port: dhcpv4.ServerPort}
	}
	ci := nonZero4(req.ClientIPAddr)
	if reply.MessageType() != dhcpv4.MessageTypeNak && ci != nil && !req.IsBroadcast() {
		return &net.UDPAddr{IP: ci, Port: dhcpv4.ClientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast.To4(), Port: dhcpv4.ClientPort}
}

// nonZero4 returns a copy of ip as 4 bytes, or nil when ip is not IPv4 or
// is 0.0.0.0.
func nonZero4(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil && !v4.IsUnspecified() {
		return slices.Clone(v4)
	}
	return nil
}

// copy4 returns a copy of ip as 4 bytes, 0.0.0.0 when ip is not IPv4.
func copy4(ip net.IP) net.IP {
	if v4 := nonZero4(ip); v4 != nil {
		return v4
	}
	return net.IPv4zero.To4()
}
