package telemetry

import (
	"reflect"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
)

func TestFromHosts(t *testing.T) {
	hb := t0
	hosts := []api.Host{
		{Name: "h1", Cores: 8, LastHeartbeat: &hb, Stats: api.HostStats{Load1: 1.5, FreeMemory: 2048, Accel: "kvm"}},
		{Name: "h2", Cores: 4},
	}
	want := map[string]HostStats{"h1": {Load1: 1.5, CPUs: 8, FreeMemoryMiB: 2048, Reported: t0, Source: "heartbeat"}}
	if got := FromHosts(hosts); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestMerge(t *testing.T) {
	hb := HostStats{Load1: 1, CPUs: 8, FreeMemoryMiB: 100, Reported: t0, Source: "heartbeat"}
	gg := HostStats{Load1: 0, FreeMemoryMiB: 200, TotalMemoryMiB: 1000, BytesInPerSec: 5,
		Reported: t0.Add(time.Second), Source: "ganglia"}
	want := HostStats{Load1: 0, CPUs: 8, FreeMemoryMiB: 200, TotalMemoryMiB: 1000, BytesInPerSec: 5,
		Reported: gg.Reported, Source: "ganglia"}
	if got := Merge(hb, gg); got != want {
		t.Errorf("Merge(heartbeat, newer ganglia) = %+v, want %+v", got, want)
	}
	if got := Merge(gg, hb); got != want {
		t.Errorf("Merge is not order-independent for different times: %+v", got)
	}
	hb.Reported = gg.Reported
	if got := Merge(gg, hb); got.Source != "heartbeat" || got.Load1 != 1 || got.TotalMemoryMiB != 1000 {
		t.Errorf("tie: got %+v, want the second argument filled from the first", got)
	}
}

func TestMergeAll(t *testing.T) {
	a := map[string]HostStats{"h1": stats(1, 4, 10, 0), "h2": stats(2, 4, 10, 5)}
	b := map[string]HostStats{"h2": stats(3, 0, 20, 1), "h3": stats(4, 2, 30, 0)}
	got := MergeAll(a, b)
	want := map[string]HostStats{"h1": a["h1"], "h2": a["h2"], "h3": b["h3"]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestFresh(t *testing.T) {
	in := map[string]HostStats{"old": stats(1, 1, 1, 0), "new": stats(1, 1, 1, 25)}
	got := Fresh(in, t0.Add(40*time.Second), 30*time.Second)
	if _, ok := got["new"]; !ok || len(got) != 1 {
		t.Errorf("Fresh = %v, want only new", got)
	}
}
