package ganglia

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tashi-go/tashi/plugins/telemetry"
)

// MatchBy says which Ganglia field is a host's Tashi name when Match.Map
// does not name it.
type MatchBy string

// The ways to name a Ganglia host.
const (
	MatchName      MatchBy = "name"      // the NAME as is
	MatchShortName MatchBy = "shortname" // the NAME up to its first dot
	MatchIP        MatchBy = "ip"        // the IP
)

// ParseMatchBy accepts "name", "shortname" or "ip" ("" is name).
func ParseMatchBy(s string) (MatchBy, error) {
	switch m := MatchBy(strings.ToLower(s)); m {
	case "":
		return MatchName, nil
	case MatchName, MatchShortName, MatchIP:
		return m, nil
	}
	return "", fmt.Errorf("bad match %q; accepted: name, shortname, ip", s)
}

// Match turns Ganglia hosts into Tashi host names.
type Match struct {
	By  MatchBy           // "" is MatchName
	Map map[string]string // Ganglia NAME or IP -> Tashi name; wins over By
}

// HostName returns h's Tashi name.
func (m Match) HostName(h Host) string {
	if n, ok := m.Map[h.Name]; ok {
		return n
	}
	if n, ok := m.Map[h.IP]; ok && h.IP != "" {
		return n
	}
	switch m.By {
	case MatchShortName:
		short, _, _ := strings.Cut(h.Name, ".")
		return short
	case MatchIP:
		return h.IP
	}
	return h.Name
}

// Skipped is a Ganglia host Convert left out, and why.
type Skipped struct {
	Host   string // the Ganglia NAME
	Reason string
}

// Convert turns hosts into stats by Tashi name. A host is left out when it
// has no usable load_one or its name maps to ""; when several map to one
// name, the latest report wins. Other metrics that are missing or do not
// parse as finite, non-negative numbers are left zero.
func Convert(hosts []Host, m Match) (map[string]telemetry.HostStats, []Skipped) {
	out := make(map[string]telemetry.HostStats, len(hosts))
	var skipped []Skipped
	for i := range hosts {
		name := m.HostName(hosts[i])
		s, err := stats(&hosts[i])
		if err == nil && name == "" {
			err = fmt.Errorf("no Tashi name for IP %q", hosts[i].IP)
		}
		if err != nil {
			skipped = append(skipped, Skipped{Host: hosts[i].Name, Reason: err.Error()})
			continue
		}
		if old, ok := out[name]; !ok || s.Reported.After(old.Reported) {
			out[name] = s
		}
	}
	return out, skipped
}

// stats reads one host's metrics.
func stats(h *Host) (telemetry.HostStats, error) {
	load, ok := h.number("load_one")
	if !ok {
		return telemetry.HostStats{}, fmt.Errorf("no usable load_one (got %q)", h.Metrics["load_one"].Val)
	}
	cpus, _ := h.number("cpu_num")
	free, _ := h.number("mem_free")
	total, _ := h.number("mem_total")
	in, _ := h.number("bytes_in")
	out, _ := h.number("bytes_out")
	return telemetry.HostStats{Load1: load, CPUs: int(cpus), FreeMemoryMiB: kbToMiB(free),
		TotalMemoryMiB: kbToMiB(total), BytesInPerSec: in, BytesOutPerSec: out,
		Reported: h.Reported, Source: "ganglia"}, nil
}

// maxNumber bounds values so that conversions to int cannot overflow.
const maxNumber = 1 << 52

// number returns a metric's value if present, finite, >= 0 and sane.
func (h *Host) number(name string) (float64, bool) {
	m, ok := h.Metrics[name]
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(m.Val), 64)
	if err != nil || math.IsNaN(x) || x < 0 || x > maxNumber {
		return 0, false
	}
	return x, true
}

// kbToMiB converts Ganglia's KB (KiB, from /proc/meminfo) to MiB.
func kbToMiB(kb float64) int {
	return int(kb / 1024)
}
