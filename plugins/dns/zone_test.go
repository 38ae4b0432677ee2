package dns

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
)

func TestNewZoneRejects(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*ZoneConfig, *[]Record)
		field   string
		message string
	}{
		{"no domains", func(c *ZoneConfig, _ *[]Record) { c.Domains = nil }, "ZoneConfig.Domains", "at least one"},
		{"bad domain", func(c *ZoneConfig, _ *[]Record) { c.Domains = []string{"cluster..test"} }, "ZoneConfig.Domains[0]", "empty label"},
		{"underscore", func(c *ZoneConfig, _ *[]Record) { c.Domains = []string{"a_b.test"} }, "ZoneConfig.Domains[0]", "letters, digits"},
		{"overlap", func(c *ZoneConfig, _ *[]Record) { c.Domains = []string{"cluster.test", "a.cluster.test"} }, "ZoneConfig.Domains[1]", "overlaps cluster.test."},
		{"arpa domain", func(c *ZoneConfig, _ *[]Record) { c.Domains = []string{"88.10.in-addr.arpa"} }, "ZoneConfig.Domains[0]", "ReverseCIDRs"},
		{"bad cidr", func(c *ZoneConfig, _ *[]Record) { c.ReverseCIDRs = []string{"10.88.0.0"} }, "ZoneConfig.ReverseCIDRs[0]", "not a CIDR"},
		{"v6 cidr", func(c *ZoneConfig, _ *[]Record) { c.ReverseCIDRs = []string{"fd00::/64"} }, "ZoneConfig.ReverseCIDRs[0]", "IPv4"},
		{"short cidr", func(c *ZoneConfig, _ *[]Record) { c.ReverseCIDRs = []string{"10.0.0.0/7"} }, "ZoneConfig.ReverseCIDRs[0]", "shorter than /8"},
		{"bad ns", func(c *ZoneConfig, _ *[]Record) { c.NS = "-ns.cluster.test" }, "ZoneConfig.NS", "'-'"},
		{"bad name", func(_ *ZoneConfig, r *[]Record) { *r = append(*r, rec("vm 9.cluster.test", "10.88.0.9")) }, "records[8].Name", "letters, digits"},
		{"name outside", func(_ *ZoneConfig, r *[]Record) { *r = append(*r, rec("vm9.other.test", "10.88.0.9")) }, "records[8].Name", "not inside the domains cluster.test."},
		{"v6 address", func(_ *ZoneConfig, r *[]Record) { *r = append(*r, rec("vm9.cluster.test", "fd00::9")) }, "records[8].IP", "not an IPv4"},
		{"no address", func(_ *ZoneConfig, r *[]Record) { *r = append(*r, Record{Name: "vm9.cluster.test"}) }, "records[8].IP", "not an IPv4"},
		{"long label", func(_ *ZoneConfig, r *[]Record) {
			*r = append(*r, rec(strings.Repeat("a", 64)+".cluster.test", "10.88.0.9"))
		}, "records[8].Name", "longer than 63"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, recs := testConfig(), testRecords()
			tt.mutate(&cfg, &recs)
			_, err := NewZone(cfg, recs)
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewZone error = %v, want a *FieldError wrapping ErrInvalid", err)
			}
			if fe.Field != tt.field || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q (field %s), want field %s and text %q", err, fe.Field, tt.field, tt.message)
			}
		})
	}
}

func TestNewZoneReverseZones(t *testing.T) {
	tests := []struct {
		cidrs []string
		want  []string
	}{
		{[]string{"10.88.0.0/24"}, []string{"0.88.10.in-addr.arpa."}},
		{[]string{"10.88.4.0/22"}, []string{"88.10.in-addr.arpa."}},
		{[]string{"10.88.0.128/25"}, []string{"0.88.10.in-addr.arpa."}},
		{[]string{"10.0.0.0/8"}, []string{"10.in-addr.arpa."}},
		{[]string{"10.88.1.0/24", "10.88.0.0/16", "10.88.0.0/16"}, []string{"88.10.in-addr.arpa."}},
		{[]string{"10.88.1.0/24", "10.89.1.0/24"}, []string{"1.88.10.in-addr.arpa.", "1.89.10.in-addr.arpa."}},
	}
	for _, tt := range tests {
		cfg := testConfig()
		cfg.ReverseCIDRs = tt.cidrs
		z, err := NewZone(cfg, nil)
		if err != nil {
			t.Fatalf("NewZone(%v): %v", tt.cidrs, err)
		}
		want := append([]string{"cluster.test."}, tt.want...)
		if got := z.Zones(); !slices.Equal(got, want) {
			t.Errorf("CIDRs %v: zones %v, want %v", tt.cidrs, got, want)
		}
	}
}

func TestCanonicalName(t *testing.T) {
	good := map[string]string{"VM1.Cluster.Test": "vm1.cluster.test.", "a-b.c.": "a-b.c.", "7": "7."}
	for in, want := range good {
		if got, err := CanonicalName(in); err != nil || got != want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "a..b", "a_b", "-a", "a-", "a b", strings.Repeat("a.", 127) + "ab", "é.test"} {
		if got, err := CanonicalName(in); err == nil {
			t.Errorf("CanonicalName(%q) = %q, want an error", in, got)
		}
	}
}

func TestReverseName(t *testing.T) {
	a, _ := ipv4(net.ParseIP("10.88.0.11"))
	if got := reverseName(a); got != "11.0.88.10.in-addr.arpa." {
		t.Errorf("reverseName = %q", got)
	}
}
