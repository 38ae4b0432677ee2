package telemetry

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// stats is a fixture: a report at t0 plus sec seconds.
func stats(load float64, cpus, freeMiB int, sec int) HostStats {
	return HostStats{Load1: load, CPUs: cpus, FreeMemoryMiB: freeMiB,
		Reported: t0.Add(time.Duration(sec) * time.Second)}
}

// siteView is siteTopology with stats for h1, h2 and h9 (not in the
// topology) and the default link model.
func siteView(t *testing.T) View {
	t.Helper()
	topo, err := ParseTopology(siteTopology)
	if err != nil {
		t.Fatal(err)
	}
	return View{Topology: topo, Stats: map[string]HostStats{
		"h1": stats(2, 8, 4096, 0),
		"h2": stats(0, 4, 1024, 0),
		"h9": stats(1, 2, 512, 0),
	}}
}
