package netsetup

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func testHost(t *testing.T, cfg Config) *Host {
	t.Helper()
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return &Host{cfg: cfg, log: cfg.Log}
}

func TestNames(t *testing.T) {
	h := testHost(t, Config{})
	for _, c := range []struct {
		name    func() (string, error)
		want    string
		wantErr string
	}{
		{func() (string, error) { return h.BridgeName(5) }, "tashibr5", ""},
		{func() (string, error) { return h.VXLANName(12345678) }, "tashivx12345678", ""},
		{func() (string, error) { return h.VLANName(42) }, "tashivl42", ""},
		{func() (string, error) { return h.BridgeName(123456789) }, "", "shorten Config.BridgePrefix"},
		{func() (string, error) { return h.VXLANName(123456789) }, "", "shorten Config.VXLANPrefix"},
		{func() (string, error) { return h.BridgeName(0) }, "", "network ID 0"},
		{func() (string, error) { return h.TapName(42, 3) }, "tashi42.3", ""},
		{func() (string, error) { return h.TapName(1234567, 12) }, "tashi1234567.12", ""},
		{func() (string, error) { return h.TapName(12345678, 12) }, "", "shorten Config.TapPrefix"},
	} {
		got, err := c.name()
		if c.wantErr != "" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("got %q, %v; want an ErrInvalid containing %q", got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want || len(got) > 15 {
			t.Errorf("got %q, %v; want %q", got, err, c.want)
		}
	}
}

func TestParseNames(t *testing.T) {
	for _, c := range []struct {
		prefix, name string
		id           int64
		ok           bool
	}{
		{"tashibr", "tashibr7", 7, true},
		{"tashibr", "tashibr", 0, false},
		{"tashibr", "tashibr07", 0, false},
		{"tashibr", "tashibr7x", 0, false},
		{"tashibr", "tashi7.0", 0, false},
		{"tashi", "tashibr7", 0, false},
	} {
		id, ok := parseID(c.prefix, c.name)
		if id != c.id || ok != c.ok {
			t.Errorf("parseID(%q, %q) = %d, %v; want %d, %v", c.prefix, c.name, id, ok, c.id, c.ok)
		}
	}
	for name, want := range map[string]bool{"tashi7.0": true, "tashi12.34": true, "tashibr7": false, "tashi7": false, "tashi.0": false, "tashi7.": false, "eth0": false} {
		if got := isTapName("tashi", name); got != want {
			t.Errorf("isTapName(tashi, %q) = %v; want %v", name, got, want)
		}
	}
}

func TestGatewayMAC(t *testing.T) {
	if got := GatewayMAC(5).String(); got != "0a:74:00:00:00:05" {
		t.Errorf("GatewayMAC(5) = %s", got)
	}
	for _, id := range []int64{1, 2, 255, 1 << 20, 1<<32 - 1, 1 << 40} {
		m := GatewayMAC(id)
		if len(m) != 6 || m[0]&0x02 == 0 || m[0]&0x01 != 0 {
			t.Errorf("GatewayMAC(%d) = %s: want a 6-byte locally administered unicast MAC", id, m)
		}
		if m.String() != GatewayMAC(id).String() {
			t.Errorf("GatewayMAC(%d) is not deterministic", id)
		}
		if m.String() == GatewayMAC(id+1).String() {
			t.Errorf("GatewayMAC(%d) = GatewayMAC(%d)", id, id+1)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{BridgePrefix: "br", VXLANPrefix: "brx"}, "Config.VXLANPrefix"},
		{Config{VLANPrefix: "tashibr"}, "Config.VLANPrefix"},
		{Config{TapPrefix: "tap1"}, "Config.TapPrefix"},
		{Config{BridgePrefix: "a/b"}, "Config.BridgePrefix"},
		{Config{BridgePrefix: "abcdefghijklmno"}, "Config.BridgePrefix"},
		{Config{Local: net.IP{1, 2, 3}}, "Config.Local"},
		{Config{VXLANPort: 70000}, "Config.VXLANPort"},
	} {
		err := c.cfg.withDefaults().validate()
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("%+v: got %v; want an InvalidError on %s", c.cfg, err, c.field)
		}
	}
	if err := (Config{}).withDefaults().validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestNetworkValidate(t *testing.T) {
	local := Config{Local: net.ParseIP("10.254.0.1"), Uplink: "eth0"}
	bare := Config{}
	ok := Network{ID: 3, Kind: KindVXLAN, SegmentID: 100, CIDR: "10.61.0.0/24", Gateway: "10.61.0.1"}
	with := func(f func(*Network)) Network { n := ok; f(&n); return n }
	for _, c := range []struct {
		n        Network
		cfg      Config
		field    string // "" = valid
		accepted string
	}{
		{ok, local, "", ""},
		{with(func(n *Network) { n.Kind, n.SegmentID = "", 0 }), bare, "", ""},
		{with(func(n *Network) { n.Kind, n.SegmentID = KindVLAN, 4094 }), local, "", ""},
		{with(func(n *Network) { n.ID = 0 }), local, "network ID", "≥ 1"},
		{with(func(n *Network) { n.SegmentID = 0 }), local, "SegmentID", "1..16777215"},
		{with(func(n *Network) { n.SegmentID = 1 << 24 }), local, "SegmentID", "1..16777215"},
		{ok, bare, "Config.Local", "tunnel address"},
		{with(func(n *Network) { n.Kind, n.SegmentID = KindVLAN, 4095 }), local, "SegmentID", "1..4094"},
		{with(func(n *Network) { n.Kind, n.SegmentID = KindVLAN, 10 }), Config{Local: local.Local}, "Config.Uplink", "parent device"},
		{with(func(n *Network) { n.Kind = "vlan8021ad" }), local, "Kind", `"bridge", "vxlan" or "vlan"`},
		{with(func(n *Network) { n.Gateway = "10.62.0.1" }), local, "Gateway", "inside CIDR 10.61.0.0/24"},
		{with(func(n *Network) { n.Gateway = "10.61.0.0" }), local, "Gateway", "inside CIDR"},
		{with(func(n *Network) { n.Gateway = "gw" }), local, "Gateway", "inside CIDR"},
		{with(func(n *Network) { n.CIDR = "" }), local, "CIDR", "needed with a gateway"},
		{with(func(n *Network) { n.CIDR = "10.61.0.0/33" }), local, "CIDR", "10.88.0.0/24"},
		{with(func(n *Network) { n.MTU = 20 }), local, "MTU", "68..65535"},
	} {
		err := c.n.validate(c.cfg.withDefaults())
		if c.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.n, err)
			}
			continue
		}
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != c.field || !strings.Contains(err.Error(), c.accepted) {
			t.Errorf("%+v: got %v; want an InvalidError on %s accepting %q", c.n, err, c.field, c.accepted)
		}
	}
}

func TestMTUDefaults(t *testing.T) {
	for _, c := range []struct {
		n    Network
		want int
	}{
		{Network{Kind: KindVXLAN}, 1450}, {Network{Kind: KindVLAN}, 1500}, {Network{}, 1500},
		{Network{Kind: KindVXLAN, MTU: 1400}, 1400}, {Network{MTU: 9000}, 9000},
	} {
		if got := c.n.mtu(); got != c.want {
			t.Errorf("%+v: mtu %d; want %d", c.n, got, c.want)
		}
	}
}

func TestVLANLink(t *testing.T) {
	v := vlanLink(7, 42, "tashivl3", 1500)
	if v.Name != "tashivl3" || v.ParentIndex != 7 || v.VlanId != 42 || v.MTU != 1500 ||
		v.VlanProtocol != netlink.VLAN_PROTOCOL_8021Q || v.Type() != "vlan" {
		t.Errorf("vlanLink = %+v", v)
	}
}

func TestWantPeers(t *testing.T) {
	h := testHost(t, Config{Local: net.ParseIP("10.254.0.1")})
	got, err := h.wantPeers([]net.IP{net.ParseIP("10.254.0.2"), net.ParseIP("10.254.0.1"), net.IPv4(10, 254, 0, 2), net.ParseIP("10.254.0.3")})
	if err != nil || len(got) != 2 || !got[0].Equal(net.ParseIP("10.254.0.2")) || !got[1].Equal(net.ParseIP("10.254.0.3")) {
		t.Errorf("wantPeers = %v, %v; want [10.254.0.2 10.254.0.3]", got, err)
	}
	if _, err := h.wantPeers([]net.IP{net.ParseIP("fd00::2")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an IPv6 peer with an IPv4 Local: %v; want ErrInvalid", err)
	}
}
