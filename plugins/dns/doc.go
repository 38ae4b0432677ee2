// Package dns gives Tashi two ways to publish the names of its virtual
// machines.
//
// The first is an authoritative DNS server of our own. A Zone is an
// immutable answer set built from records that come from the cluster record
// (NewZone); Zone.Answer turns a query into a response without I/O, and a
// Server answers over UDP and TCP from whichever Zone was Set last. A node
// manager runs one on each bridge's gateway address. It is not a recursive
// resolver: names outside its zones are REFUSED, and it never accepts
// UPDATE, because its data comes from the record.
//
// The second is an RFC 2136 dynamic-update client signed with TSIG
// (Updater), which pushes the same names into a site's own BIND, as
// Tashi's DhcpDns hook did with nsupdate. Its settings match Tashi's
// dnsServer, dnsKeyFile (ReadKeyFile), dnsDomain, dnsExpire (TTL) and
// reverseDns keys.
//
// Only IPv4 is handled: A and in-addr.arpa PTR records.
package dns
