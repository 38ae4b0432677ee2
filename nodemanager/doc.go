// Package nodemanager will be the daemon on every host (tashi-nm): it
// builds QEMU command lines, starts guests that outlive it, drives them
// over QMP, wires taps, bridges and VXLAN with netlink, serves DHCP to its
// own guests, heartbeats to the cluster manager and re-attaches to its
// guests after a restart. Not built yet: see issue 3. The CM side of its
// API (registerNodeManager, heartbeat, vmStateChange) exists already.
package nodemanager
