package telemetry

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Unknown is every field of the Location of a host not in the topology.
const Unknown = "unknown"

// Location is where a host sits.
type Location struct {
	Rack        string `json:"rack"`
	Switch      string `json:"switch"`
	FaultDomain string `json:"faultDomain"`
}

var unknownLocation = Location{Rack: Unknown, Switch: Unknown, FaultDomain: Unknown}

// Topology maps host names to Locations. The zero value and nil are an
// empty topology. It is not changed after parsing, so it may be shared.
type Topology struct {
	hosts map[string]Location
}

// ParseTopology reads the format described in the package doc, as given
// in a config value.
func ParseTopology(text string) (*Topology, error) {
	return parseTopology("", text)
}

// LoadTopology reads a topology file.
func LoadTopology(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read topology file: %w", err)
	}
	return parseTopology(path, string(b))
}

// Locate returns host's Location, or a Location of Unknowns and false when
// the topology does not list it.
func (t *Topology) Locate(host string) (Location, bool) {
	if t == nil {
		return unknownLocation, false
	}
	if l, ok := t.hosts[host]; ok {
		return l, true
	}
	return unknownLocation, false
}

// Hosts returns the listed host names, sorted.
func (t *Topology) Hosts() []string {
	if t == nil {
		return nil
	}
	out := make([]string, 0, len(t.hosts))
	for h := range t.hosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// String renders t in the canonical form: one host line with every key,
// sorted by host. ParseTopology reads it back to an equal Topology.
func (t *Topology) String() string {
	var b strings.Builder
	for _, h := range t.Hosts() {
		l := t.hosts[h]
		fmt.Fprintf(&b, "%s rack=%s switch=%s faultDomain=%s\n", h, l.Rack, l.Switch, l.FaultDomain)
	}
	return b.String()
}
