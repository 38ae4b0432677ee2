package telemetry

import (
	"fmt"
	"strings"
)

// Type is a kind of metric.
type Type string

// The metric types.
const (
	Latency     Type = "latency"     // ms, by network tier
	Bandwidth   Type = "bandwidth"   // MB/s, by network tier
	SwitchCount Type = "switchCount" // 0 same host, 1 same switch, 3 through the core
	FaultDomain Type = "faultDomain" // 0 same fault domain, 1 different
	Load        Type = "load"        // the to host's Load1 per CPU; from is ignored
)

// Types lists the metric types in documentation order.
var Types = []Type{Latency, Bandwidth, SwitchCount, FaultDomain, Load}

// ParseType accepts a Type's name in any case, with or without spaces,
// dashes or underscores ("switch count", "fault_domain").
func ParseType(s string) (Type, error) {
	norm := strings.NewReplacer(" ", "", "-", "", "_", "").Replace(strings.ToLower(s))
	for _, t := range Types {
		if strings.ToLower(string(t)) == norm {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w %q; accepted: %s", ErrUnknownType, s, typeList())
}

func typeList() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Value is one metric's value.
type Value struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Parts []Part  `json:"parts,omitempty"` // the inputs of a derived value (load)
	Note  string  `json:"note,omitempty"`  // an assumption the value rests on
}

// Part is one input of a derived Value.
type Part struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// View is everything the metrics read. Stats should hold only fresh
// reports (see Fresh); a zero Links means DefaultLinkModel.
type View struct {
	Topology *Topology
	Stats    map[string]HostStats
	Links    LinkModel
}

// Metric returns one metric from host from to host to. A host must be in
// the topology or the stats; load also needs the to host's stats.
func Metric(from, to string, typ Type, v View) (Value, error) {
	t, err := ParseType(string(typ))
	if err != nil {
		return Value{}, err
	}
	return v.metric(from, to, t)
}

// AllMetrics returns the matrix of Metric(from[i], to[j]). It fails on the
// first pair that does.
func AllMetrics(from, to []string, typ Type, v View) ([][]Value, error) {
	t, err := ParseType(string(typ))
	if err != nil {
		return nil, err
	}
	out := make([][]Value, len(from))
	for i, f := range from {
		out[i] = make([]Value, len(to))
		for j, d := range to {
			if out[i][j], err = v.metric(f, d, t); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (v View) metric(from, to string, t Type) (Value, error) {
	if t == Load {
		return v.load(to)
	}
	for _, h := range []string{from, to} {
		if !v.known(h) {
			return Value{}, fmt.Errorf("%s from %q to %q: %w %q: in neither the topology nor the host stats",
				t, from, to, ErrUnknownHost, h)
		}
	}
	return v.network(from, to, t), nil
}

func (v View) known(host string) bool {
	_, inTopo := v.Topology.Locate(host)
	_, inStats := v.Stats[host]
	return inTopo || inStats
}

func (v View) links() LinkModel {
	if v.Links == (LinkModel{}) {
		return DefaultLinkModel()
	}
	return v.Links
}
