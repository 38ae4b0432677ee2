// Package plugins holds the site-specific parts behind small interfaces,
// each in its own package: dhcp (our DHCP server, answering from the
// record's leases), dns (our authoritative DNS server for the record's
// names, and RFC 2136 updates signed with TSIG to a site's BIND, run as
// an agent hook), datalocation (where a file's blocks are: moosefs,
// webhdfs) and telemetry (topology, link model and host stats for
// getMetric, with a Ganglia sensor). VMM back ends live under
// nodemanager/ (qemu; vmm is their interface).
package plugins
