// Package ganglia is a telemetry.Sensor over Ganglia: it reads the XML
// that gmond (or gmetad) writes to anyone who connects to its TCP port
// (8649 for gmond, 8651 for gmetad) and turns each host's load_one,
// cpu_num, mem_free, mem_total, bytes_in and bytes_out into
// telemetry.HostStats.
//
// Parse is a pure streaming parser of that XML: GANGLIA_XML holding
// CLUSTERs of HOSTs, or GRIDs of those (gmetad, nested to any depth).
// Convert names each Ganglia host as Tashi does, by a Match: an explicit
// map from Ganglia NAME or IP, else the NAME, its first label, or the IP.
// Sensor.Read connects, reads with a timeout and a size limit, parses and
// converts.
//
// gmond names a host by the reverse DNS of the address its metrics came
// from, so its NAME is often a fully qualified name (or "localhost" for
// loopback): use MatchShortName or a map when Tashi's names differ.
package ganglia
