// Package plugins will hold site-specific parts behind small interfaces:
// DHCP/DNS (our servers and RFC 2136 updates to BIND), data location
// (MooseFS, WebHDFS), telemetry sensors (procfs, Ganglia) and VMM back
// ends. Not built yet: see issues 3, 5 and 6.
package plugins
