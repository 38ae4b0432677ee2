package telemetry

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const siteTopology = `
# a two-rack site
h1 rack=r1 switch=s1 faultDomain=pdu1
h2 rack=r1 switch=s1 faultDomain=pdu2
r2: h3 h4   # top-of-rack switch and fault domain default to the rack
h4 faultDomain=pdu9
h5 RACK=r3 Switch=s1
`

func TestParseTopology(t *testing.T) {
	topo, err := ParseTopology(siteTopology)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Location{
		"h1": {"r1", "s1", "pdu1"},
		"h2": {"r1", "s1", "pdu2"},
		"h3": {"r2", "r2", "r2"},
		"h4": {"r2", "r2", "pdu9"},
		"h5": {"r3", "s1", "r3"},
	}
	if !reflect.DeepEqual(topo.hosts, want) {
		t.Fatalf("hosts = %v, want %v", topo.hosts, want)
	}
	if got := topo.Hosts(); !reflect.DeepEqual(got, []string{"h1", "h2", "h3", "h4", "h5"}) {
		t.Errorf("Hosts() = %v", got)
	}
}

func TestLocateUnknown(t *testing.T) {
	topo, err := ParseTopology("h1 rack=r1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []*Topology{topo, nil, {}} {
		l, ok := tp.Locate("nope")
		if ok || l != (Location{Unknown, Unknown, Unknown}) {
			t.Errorf("Locate(nope) = %v, %v; want unknowns, false", l, ok)
		}
	}
}

func TestParseTopologyErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		want       []string // substrings of the message
	}{
		{"unknown key", "h1 rack=r1\nh2 rak=r1", 2, []string{`unknown key "rak"`, "accepted keys: rack, switch, faultDomain"}},
		{"no equals", "h1 rack", 1, []string{`expected key=value, got "rack"`}},
		{"bare host", "\n\nh1", 3, []string{"h1 has no key=value"}},
		{"key first", "rack=r1 h1", 1, []string{`starts with "rack=r1"`}},
		{"empty value", "h1 rack=", 1, []string{"empty value for rack"}},
		{"reserved", "h1 rack=Unknown", 1, []string{"reserved"}},
		{"conflict", "r1: h1\nh1 rack=r2", 2, []string{"rack=r2 conflicts with rack=r1 from line 1"}},
		{"no rack", "h1 rack=r1\nh2 switch=s1\nh3 switch=s1", 2, []string{"h2 has no rack"}},
		{"rack without hosts", "r1:", 1, []string{"lists no hosts"}},
		{"key in rack line", "r1: h1 switch=s1", 1, []string{`got "switch=s1"`}},
		{"empty rack", ": h1", 1, []string{"bad rack name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTopology(tt.text)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tt.line, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseTopologyRepeatAgreeing(t *testing.T) {
	topo, err := ParseTopology("r1: h1\nh1 rack=r1 switch=s1\nh1 switch=s1")
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := topo.Locate("h1"); l != (Location{"r1", "s1", "r1"}) {
		t.Errorf("h1 = %v", l)
	}
}

func TestLoadTopology(t *testing.T) {
	path := filepath.Join(t.TempDir(), "topology")
	if err := os.WriteFile(path, []byte("h1 rack=r1\nh2 colour=blue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTopology(path)
	if err == nil || !strings.HasPrefix(err.Error(), "topology "+path+":2: ") {
		t.Fatalf("err = %v, want it to start with the file and line", err)
	}
	if _, err := LoadTopology(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestTopologyStringRoundTrip(t *testing.T) {
	topo, err := ParseTopology(siteTopology)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTopology(topo.String())
	if err != nil {
		t.Fatalf("reparse %q: %v", topo.String(), err)
	}
	if !reflect.DeepEqual(back.hosts, topo.hosts) {
		t.Errorf("round trip changed the topology:\n%s\n%s", topo, back)
	}
}

// FuzzParseTopology: no panics; what parses gives every host a full
// Location and survives a round trip through String.
func FuzzParseTopology(f *testing.F) {
	for _, s := range []string{siteTopology, "r1: a b\na switch=x", "a rack=r:1", "x\n=\n:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		topo, err := ParseTopology(text)
		if err != nil {
			return
		}
		for h, l := range topo.hosts {
			if l.Rack == "" || l.Switch == "" || l.FaultDomain == "" {
				t.Fatalf("host %q has an empty field: %+v", h, l)
			}
		}
		back, err := ParseTopology(topo.String())
		if err != nil || !reflect.DeepEqual(back.hosts, topo.hosts) {
			t.Fatalf("round trip of %q: %v", topo.String(), err)
		}
	})
}
