package datalocation

import (
	"strings"
	"testing"
)

var computeHosts = []ComputeHost{
	{Name: "host1", Addrs: []string{"192.0.2.1", "10.213.0.11"}},
	{Name: "host2", Addrs: []string{"192.0.2.2", "2001:db8::2"}},
	{Name: "dn3.example", Addrs: []string{"192.0.2.3"}},
	{Name: "host7", Addrs: []string{"192.0.2.7"}},
	{Name: "host8", Addrs: []string{"192.0.2.2"}}, // shares an address with host2
}

func TestHostMapMap(t *testing.T) {
	m, err := ParseHostMap(" 10.213.0.12 = host7 , dn9=gone, 10.213.0.11=host2")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		storage string
		want    string
		ok      bool
	}{
		{"10.213.0.12", "host7", true},        // explicit
		{"10.213.0.11", "host2", true},        // explicit beats host1's address
		{"dn9", "gone", false},                // explicit, host absent: no fall-through
		{"DN3.Example.", "dn3.example", true}, // name, case and trailing dot ignored
		{"192.0.2.3", "dn3.example", true},    // address
		{"192.0.2.2", "host2", true},          // first host with the address
		{"2001:DB8:0::2", "host2", true},      // IPv6 compared by value
		{"::ffff:192.0.2.7", "host7", true},   // IPv4-mapped
		{"10.213.0.99", "", false},            // unknown
		{"host1.example", "", false},          // no DNS, no suffix games
	}
	for _, tt := range tests {
		got, ok := m.Map(tt.storage, computeHosts)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Map(%q) = %q, %v; want %q, %v", tt.storage, got, ok, tt.want, tt.ok)
		}
	}
	var zero HostMap
	if got, ok := zero.Map("192.0.2.1", computeHosts); got != "host1" || !ok {
		t.Errorf("zero HostMap Map = %q, %v", got, ok)
	}
}

func TestParseHostMap(t *testing.T) {
	for _, s := range []string{"", "  ", "a=b", "a=b,c=d"} {
		if _, err := ParseHostMap(s); err != nil {
			t.Errorf("ParseHostMap(%q): %v", s, err)
		}
	}
	tests := map[string]string{
		"a=b,c":                 `entry 2 "c": missing "="`,
		"=b":                    "empty storage host",
		"a=":                    "empty compute host",
		"a=b,,c=d":              `entry 2 "": missing "="`,
		"a=b=c":                 `may not contain blanks or "="`,
		"a b=c":                 "may not contain blanks",
		"10.0.0.1=x,10.0.0.1=y": `storage host "10.0.0.1" already mapped to "x"`,
		"DN1=x,dn1.=y":          "already mapped",
	}
	for in, want := range tests {
		_, err := ParseHostMap(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseHostMap(%q) error = %v, want one containing %q", in, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), "accepted form") && !strings.Contains(err.Error(), "already mapped") {
			t.Errorf("ParseHostMap(%q) error %q does not show the accepted form", in, err)
		}
	}
}

func FuzzParseHostMap(f *testing.F) {
	f.Add("10.213.0.11=host1,dn3=host7")
	f.Add("a=b,,=")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseHostMap(s)
		if err != nil {
			return
		}
		for _, entry := range strings.Split(s, ",") {
			if strings.TrimSpace(s) == "" {
				break
			}
			k, v, _ := strings.Cut(entry, "=")
			got, ok := m.Map(k, []ComputeHost{{Name: strings.TrimSpace(v)}})
			if !ok || got != strings.TrimSpace(v) {
				t.Fatalf("entry %q of %q maps to %q, %v", entry, s, got, ok)
			}
		}
	})
}
