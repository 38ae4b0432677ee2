// Package netsetup is the host side of Tashi networks: for each network a
// bridge, its uplink (a VXLAN device or an 802.1Q sub-interface), the
// network's gateway address, and one port per guest NIC (a tap, or an
// existing link such as a veth end), all made with netlink.
//
// # Names
//
// Every device name derives from the network's record id and a prefix from
// Config: bridge "tashibr<id>", VXLAN device "tashivx<id>", VLAN device
// "tashivl<id>", tap "tashi<instance>.<nic>". Linux allows 15 characters
// (IFNAMSIZ-1); a prefix and id that do not fit are refused with an
// *InvalidError naming the prefix. Names are how a restarted node manager
// finds what it made (Host.Networks, Host.Sweep); nothing else is trusted:
// a link with one of these names but the wrong kind is a conflict
// (ErrConflict), never deleted.
//
// # Idempotence and undo
//
// Every call checks what exists, makes only what is missing, fixes what
// differs (MTU, master, VNI...) and brings links up. A call that fails
// removes what that call created, and only that: a bridge that existed
// before stays. Calls on one Host are serialized by a mutex.
//
// # VXLAN and the anycast gateway
//
// A VXLAN network is one VNI (Network.SegmentID) on UDP port
// Config.VXLANPort (4789) from Config.Local. Broadcast, unknown unicast and
// multicast go to every peer by head-end replication: one all-zero-MAC FDB
// entry per peer (bridge fdb append 00:00:00:00:00:00 dst PEER self
// permanent); learning stays on, so known unicast goes to the right host.
// Host.SetPeers reconciles those entries when the cluster changes. The MTU
// defaults to 1450 (1500 minus the 50 bytes of VXLAN over IPv4) for the
// VXLAN device, the bridge and every port.
//
// The gateway is anycast: every host's bridge for a network carries the same
// gateway address (Network.Gateway, with the CIDR's mask) and the same
// MAC, GatewayMAC(network id): locally administered (02 bit), unicast,
// 0a:74 followed by the id's 32 bits. A guest's ARP for its gateway is
// answered by its own host, and since every host answers with the same MAC,
// no bridge or guest sees that MAC move between hosts when a guest migrates.
// The bridge's IPv6 link-local address generation is switched off, since
// identical MACs would give identical link-local addresses and fail
// duplicate address detection, and so is its multicast snooping (multicast
// floods like broadcast, and the bridge sends no IGMP/MLD reports from the
// shared MAC to other hosts).
//
// Consequences: a host reaches, through the gateway address, only the
// guests on itself (a remote guest answers the MAC that its own host owns),
// so services for guests (DHCP, DNS) run on every host. The host's own
// broadcasts on the bridge (its ARP requests for guests) still flood to the
// peers; their bridges drop them as carrying their own MAC (the kernel logs
// "received packet on tashivxN with own address as source address",
// rate-limited). Filtering frames from the gateway MAC out of the VXLAN
// port (nftables bridge family) would silence that; this package does not.
//
// # Namespaces
//
// Config.NS selects the network namespace everything is made in; its zero
// value (or netns.None()) means the caller's own. Link, address and FDB
// calls go through a netlink handle opened in that namespace. Taps are made
// from /dev/net/tun, which creates them in the namespace of the calling
// thread, so they are made on a goroutine locked to its OS thread and
// switched into Config.NS; if switching back fails, the thread is left
// locked so that it dies with the goroutine.
//
// # VLAN
//
// A VLAN network is a sub-interface of Config.Uplink with the 802.1Q id
// Network.SegmentID, enslaved to the bridge. Kernels without 802.1Q
// (CONFIG_VLAN_8021Q unset) refuse to make one with EOPNOTSUPP; that is
// returned as ErrVLANUnsupported, and nothing is left behind.
package netsetup
