package telemetry

import (
	"time"

	"github.com/tashi-go/tashi/api"
)

// HostStats is the latest report about one host. Zero means "not
// reported" for every field but Load1, where it is an idle host.
type HostStats struct {
	Load1          float64   `json:"load1"`
	CPUs           int       `json:"cpus,omitempty"`
	FreeMemoryMiB  int       `json:"freeMemoryMiB,omitempty"`
	TotalMemoryMiB int       `json:"totalMemoryMiB,omitempty"`
	BytesInPerSec  float64   `json:"bytesInPerSec,omitempty"`
	BytesOutPerSec float64   `json:"bytesOutPerSec,omitempty"`
	Reported       time.Time `json:"reported"`
	Source         string    `json:"source,omitempty"` // "heartbeat", "ganglia", ...
}

// FromHosts turns the CM's host records into stats by host name: Load1 and
// FreeMemory from the last heartbeat, CPUs from the cores the host offers
// guests, Reported from the heartbeat time. Hosts that never sent a
// heartbeat are left out.
func FromHosts(hosts []api.Host) map[string]HostStats {
	out := make(map[string]HostStats, len(hosts))
	for i := range hosts {
		h := &hosts[i]
		if h.LastHeartbeat == nil {
			continue
		}
		out[h.Name] = HostStats{Load1: h.Stats.Load1, CPUs: h.Cores,
			FreeMemoryMiB: h.Stats.FreeMemory, Reported: *h.LastHeartbeat, Source: "heartbeat"}
	}
	return out
}

// Merge combines two reports about one host: the newer one (b on a tie)
// wins, and fields it did not report are taken from the other.
func Merge(a, b HostStats) HostStats {
	if a.Reported.After(b.Reported) {
		a, b = b, a
	}
	fill(&b.CPUs, a.CPUs)
	fill(&b.FreeMemoryMiB, a.FreeMemoryMiB)
	fill(&b.TotalMemoryMiB, a.TotalMemoryMiB)
	fill(&b.BytesInPerSec, a.BytesInPerSec)
	fill(&b.BytesOutPerSec, a.BytesOutPerSec)
	return b
}

func fill[T int | float64](dst *T, v T) {
	if *dst == 0 {
		*dst = v
	}
}

// MergeAll merges several sources' stats host by host with Merge; a later
// source wins ties.
func MergeAll(sources ...map[string]HostStats) map[string]HostStats {
	out := map[string]HostStats{}
	for _, src := range sources {
		for h, s := range src {
			if old, ok := out[h]; ok {
				s = Merge(old, s)
			}
			out[h] = s
		}
	}
	return out
}

// Fresh returns the stats reported at most maxAge before now.
func Fresh(stats map[string]HostStats, now time.Time, maxAge time.Duration) map[string]HostStats {
	out := make(map[string]HostStats, len(stats))
	for h, s := range stats {
		if now.Sub(s.Reported) <= maxAge {
			out[h] = s
		}
	}
	return out
}
