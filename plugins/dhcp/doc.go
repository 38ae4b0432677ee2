// Package dhcp is the DHCPv4 server a node manager runs on each bridge it
// hosts. It answers only for the MACs of its own guests and only with the
// addresses the cluster record gave them: the server never invents or
// pools addresses, it looks each client up in a Table the node manager
// keeps in step with the record.
//
// The decision for one packet is the pure function Reply (RFC 2131:
// DISCOVER -> OFFER; REQUEST -> ACK or NAK; INFORM -> ACK; RELEASE and
// DECLINE -> silence, because leases belong to the record). A MAC that is
// not in the table gets no answer at all, since other node managers on the
// same segment may own it. Server reads packets from one interface, asks
// Reply, and sends the answer where RFC 2131 section 4.1 says: to the relay
// (giaddr), to ciaddr, or broadcast.
package dhcp
