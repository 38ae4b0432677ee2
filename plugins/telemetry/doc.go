// Package telemetry is Tashi's Resource Telemetry Service: what the
// cluster knows about the distance between hosts and the load on them.
//
// Metric(from, to, type, view) and AllMetrics(fromList, toList, type, view)
// are pure functions over a View: the site Topology (rack, switch and
// fault domain per host, from config), the latest HostStats per host
// (heartbeats, Ganglia) and a LinkModel (latency and bandwidth per network
// tier). They read no clock and do no I/O. The types are latency (ms),
// bandwidth (MB/s), switchCount, faultDomain and load (the to host's
// one-minute load per CPU).
//
// Network metrics are decided by the switch: two hosts on one switch are
// one hop apart, hosts on different switches go through the core (three
// switches). When either host of a pair has no topology entry, each metric
// takes its least favourable value (the highest latency, the lowest
// bandwidth, three switches, the same fault domain) and the Value's Note
// says so.
//
// Sensors (the Sensor interface, package ganglia) read HostStats from
// outside; a Registry builds them by name where the program is wired, and
// MergeAll combines their views with the heartbeats'.
//
// # Topology format
//
// One record a line; # starts a comment. A host line gives keys, a rack
// line lists the hosts of a rack:
//
//	host1 rack=r1 switch=s1 faultDomain=pdu1
//	r2: host2 host3 host4
//	host3 faultDomain=pdu2
//
// Keys (case-insensitive): rack, switch, faultDomain. A host may appear on
// several lines as long as they do not disagree. Every host needs a rack;
// switch defaults to the rack (a top-of-rack switch) and faultDomain to the
// rack. The value "unknown" is reserved. In a Tashi config file the text
// is a multi-line value: indent the continuation lines.
package telemetry
