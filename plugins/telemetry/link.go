package telemetry

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// LinkModel gives latency and bandwidth per network tier: the same host,
// the same switch, and across switches through the core.
type LinkModel struct {
	LatencyHostMs   float64 // same host, ms
	LatencySwitchMs float64 // same switch, ms
	LatencyCoreMs   float64 // across switches, ms
	MemoryMBps      float64 // same host: memory bandwidth, MB/s
	NICMBps         float64 // same switch: a host's NIC, MB/s
	// Oversubscription is the core uplinks' ratio: traffic across switches
	// gets NICMBps / Oversubscription. At least 1.
	Oversubscription float64
}

// DefaultLinkModel is a 10 GbE cluster with a 4:1 oversubscribed core.
func DefaultLinkModel() LinkModel {
	return LinkModel{LatencyHostMs: 0.05, LatencySwitchMs: 0.2, LatencyCoreMs: 0.5,
		MemoryMBps: 10000, NICMBps: 1250, Oversubscription: 4}
}

// linkKey is one key of the link model text.
type linkKey struct {
	name, unit string
	min        float64 // the bound
	above      bool    // values must be > min; otherwise >= min
	field      func(*LinkModel) *float64
}

var linkKeys = []linkKey{
	{"latencyHost", "ms", 0, false, func(m *LinkModel) *float64 { return &m.LatencyHostMs }},
	{"latencySwitch", "ms", 0, false, func(m *LinkModel) *float64 { return &m.LatencySwitchMs }},
	{"latencyCore", "ms", 0, false, func(m *LinkModel) *float64 { return &m.LatencyCoreMs }},
	{"memoryBandwidth", "MB/s", 0, true, func(m *LinkModel) *float64 { return &m.MemoryMBps }},
	{"nicBandwidth", "MB/s", 0, true, func(m *LinkModel) *float64 { return &m.NICMBps }},
	{"oversubscription", "ratio", 1, false, func(m *LinkModel) *float64 { return &m.Oversubscription }},
}

// LinkKeys lists the keys ParseLinkModel accepts.
func LinkKeys() []string {
	out := make([]string, len(linkKeys))
	for i, k := range linkKeys {
		out[i] = k.name
	}
	return out
}

// ParseLinkModel reads "key=value" words (separated by spaces or lines; #
// starts a comment) over DefaultLinkModel, for example
// "latencyCore=0.8 oversubscription=2". Keys are case-insensitive; see
// LinkKeys. Latencies must be >= 0, bandwidths > 0, oversubscription >= 1.
func ParseLinkModel(text string) (LinkModel, error) {
	m := DefaultLinkModel()
	for i, line := range strings.Split(text, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		for _, kv := range strings.Fields(line) {
			if err := m.set(kv); err != nil {
				return LinkModel{}, &ParseError{What: "link model", Line: i + 1, Msg: err.Error()}
			}
		}
	}
	return m, nil
}

func (m *LinkModel) set(kv string) error {
	accepted := "accepted keys: " + strings.Join(LinkKeys(), ", ")
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("expected key=value, got %q; %s", kv, accepted)
	}
	for _, lk := range linkKeys {
		if strings.EqualFold(k, lk.name) {
			return lk.parse(m, v)
		}
	}
	return fmt.Errorf("unknown key %q; %s", k, accepted)
}

func (lk linkKey) parse(m *LinkModel, v string) error {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || !lk.ok(x) {
		return fmt.Errorf("bad value for %s: %q; accepted: %s", lk.name, v, lk.accepted())
	}
	*lk.field(m) = x
	return nil
}

func (lk linkKey) ok(x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return false
	}
	if lk.above {
		return x > lk.min
	}
	return x >= lk.min
}

func (lk linkKey) accepted() string {
	op := ">="
	if lk.above {
		op = ">"
	}
	return fmt.Sprintf("a number %s %g (%s)", op, lk.min, lk.unit)
}

// Validate checks m as ParseLinkModel would, for a model built in code.
func (m LinkModel) Validate() error {
	for _, lk := range linkKeys {
		x := *lk.field(&m)
		if !lk.ok(x) {
			return fmt.Errorf("link model: bad value for %s: %g; accepted: %s", lk.name, x, lk.accepted())
		}
	}
	return nil
}
