package netsetup

import (
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/vishvananda/netns"
)

// Network kinds.
const (
	KindBridge = "bridge" // a bridge on this host only
	KindVXLAN  = "vxlan"  // a bridge per host joined by one VXLAN VNI
	KindVLAN   = "vlan"   // a bridge per host with an 802.1Q sub-interface of Config.Uplink
)

// Segment id ranges.
const (
	MaxVNI    = 1<<24 - 1 // VXLAN network identifiers are 24 bits; 0 is not used
	MaxVLANID = 4094      // 802.1Q ids; 0 and 4095 are reserved
)

// Default MTUs.
const (
	DefaultMTU      = 1500
	DefaultVXLANMTU = 1450 // 1500 minus 50 bytes of VXLAN over IPv4
	DefaultPort     = 4789 // IANA's VXLAN port (Linux's own default is 8472)
)

// Network is what the host needs to know of a network record.
type Network struct {
	ID        int64  // record id; device names derive from it
	Name      string // for messages
	Kind      string // KindBridge ("" too), KindVXLAN or KindVLAN
	SegmentID int    // VNI for vxlan (1..16777215), 802.1Q id for vlan (1..4094)
	CIDR      string // e.g. 10.88.0.0/24; optional
	Gateway   string // optional; given to the bridge with the CIDR's mask
	MTU       int    // 0: DefaultMTU, or DefaultVXLANMTU for vxlan
}

// Config says where and how a Host wires networks.
type Config struct {
	// Name prefixes; defaults "tashibr", "tashivx", "tashivl", "tashi".
	BridgePrefix, VXLANPrefix, VLANPrefix, TapPrefix string
	// NS is the network namespace to work in; 0 or netns.None() means the
	// caller's own. The Host does not close it.
	NS        netns.NsHandle
	Local     net.IP // this host's tunnel address (VXLAN source); needed for vxlan
	Uplink    string // VLAN parent device; if set, also the VXLAN underlay device
	VXLANPort int    // default DefaultPort
	Log       *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.BridgePrefix, "tashibr")
	def(&c.VXLANPrefix, "tashivx")
	def(&c.VLANPrefix, "tashivl")
	def(&c.TapPrefix, "tashi")
	if c.NS == 0 {
		c.NS = netns.None()
	}
	if c.VXLANPort == 0 {
		c.VXLANPort = DefaultPort
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// validate checks a defaulted Config.
func (c Config) validate() error {
	prefixes := []struct{ field, p string }{
		{"Config.BridgePrefix", c.BridgePrefix}, {"Config.VXLANPrefix", c.VXLANPrefix},
		{"Config.VLANPrefix", c.VLANPrefix}, {"Config.TapPrefix", c.TapPrefix},
	}
	for _, p := range prefixes {
		if err := checkPrefix(p.field, p.p); err != nil {
			return err
		}
	}
	// The device prefixes must not be prefixes of each other, or one name
	// could parse as two devices ("br" and "br1": "br12").
	for i, a := range prefixes[:3] {
		for _, b := range prefixes[i+1 : 3] {
			if strings.HasPrefix(a.p, b.p) || strings.HasPrefix(b.p, a.p) {
				return invalid(b.field, fmt.Sprintf("%q", b.p), "a prefix that neither starts nor is the start of "+a.field+" "+fmt.Sprintf("%q", a.p))
			}
		}
	}
	if c.Local != nil && c.Local.To16() == nil {
		return invalid("Config.Local", c.Local, "an IPv4 or IPv6 address")
	}
	if c.VXLANPort < 1 || c.VXLANPort > 65535 {
		return invalid("Config.VXLANPort", c.VXLANPort, "a UDP port 1..65535 (0: 4789)")
	}
	return nil
}

func checkPrefix(field, p string) error {
	if len(p) > maxNameLen-1 {
		return invalid(field, fmt.Sprintf("%q", p), fmt.Sprintf("at most %d characters, leaving room for an id", maxNameLen-1))
	}
	if strings.ContainsAny(p, "/: \t\n%") || p[len(p)-1] >= '0' && p[len(p)-1] <= '9' {
		return invalid(field, fmt.Sprintf("%q", p), "letters, digits, '-', '_' or '.', not ending in a digit")
	}
	return nil
}

// mtu is the network's MTU, defaulted by kind.
func (n Network) mtu() int {
	switch {
	case n.MTU > 0:
		return n.MTU
	case n.Kind == KindVXLAN:
		return DefaultVXLANMTU
	}
	return DefaultMTU
}

// validate checks the network on its own and against the config.
func (n Network) validate(c Config) error {
	if n.ID < 1 {
		return invalid("network ID", n.ID, "a record id ≥ 1")
	}
	if n.MTU != 0 && (n.MTU < 68 || n.MTU > 65535) {
		return invalid("MTU", n.MTU, "0 (default) or 68..65535")
	}
	if err := n.validateKind(c); err != nil {
		return err
	}
	return n.validateAddrs()
}

func (n Network) validateKind(c Config) error {
	switch n.Kind {
	case "", KindBridge:
		return nil
	case KindVXLAN:
		if n.SegmentID < 1 || n.SegmentID > MaxVNI {
			return invalid("SegmentID", n.SegmentID, fmt.Sprintf("a VXLAN VNI 1..%d", MaxVNI))
		}
		if c.Local == nil {
			return invalid("Config.Local", "<unset>", "this host's tunnel address, needed by vxlan networks")
		}
		return nil
	case KindVLAN:
		if n.SegmentID < 1 || n.SegmentID > MaxVLANID {
			return invalid("SegmentID", n.SegmentID, fmt.Sprintf("an 802.1Q VLAN id 1..%d", MaxVLANID))
		}
		if c.Uplink == "" {
			return invalid("Config.Uplink", `""`, "the parent device of VLAN sub-interfaces, needed by vlan networks")
		}
		return nil
	}
	return invalid("Kind", fmt.Sprintf("%q", n.Kind), `"bridge", "vxlan" or "vlan"`)
}

func (n Network) validateAddrs() error {
	if n.CIDR == "" {
		if n.Gateway != "" {
			return invalid("CIDR", `""`, "a prefix such as 10.88.0.0/24, needed with a gateway")
		}
		return nil
	}
	_, _, err := n.gatewayNet()
	return err
}

// gatewayNet parses the gateway with the CIDR's mask; nil when no gateway.
func (n Network) gatewayNet() (*net.IPNet, *net.IPNet, error) {
	_, cidr, err := net.ParseCIDR(n.CIDR)
	if err != nil {
		return nil, nil, invalid("CIDR", fmt.Sprintf("%q", n.CIDR), "a prefix such as 10.88.0.0/24")
	}
	if n.Gateway == "" {
		return nil, cidr, nil
	}
	gw := net.ParseIP(n.Gateway)
	if gw == nil || !cidr.Contains(gw) || gw.Equal(cidr.IP) {
		return nil, nil, invalid("Gateway", fmt.Sprintf("%q", n.Gateway), "a host address inside CIDR "+n.CIDR)
	}
	if v4 := gw.To4(); v4 != nil {
		gw = v4
	}
	return &net.IPNet{IP: gw, Mask: cidr.Mask}, cidr, nil
}
