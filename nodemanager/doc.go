// Package nodemanager is the daemon on every host (tashi-nm). It serves
// the NM API (HTTP/JSON over mutual TLS, idempotent per operation id) to
// the cluster's agents, resolves disks through the image store (qcow2
// overlays for non-persistent disks), sets up its guests' networks
// (package netsetup: a bridge per network with its VXLAN or VLAN uplink,
// a tap per NIC), answers DHCP for its own guests and DNS for the
// cluster's names on each bridge (plugins/dhcp, plugins/dns; addresses,
// names and VXLAN peers follow the CM's node manager view), and drives
// guests through a vmm.VMM back
// end (package nodemanager/qemu). It registers with the cluster manager,
// heartbeats host stats and every guest's state, reports guests that
// change state by themselves at once, and after a restart takes over the
// guests it left running.
package nodemanager
