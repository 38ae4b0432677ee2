package telemetry

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMetricNetwork(t *testing.T) {
	v := siteView(t)
	tests := []struct {
		from, to string
		typ      Type
		want     float64
		unit     string
		note     bool
	}{
		{"h1", "h1", Latency, 0.05, "ms", false},
		{"h1", "h2", Latency, 0.2, "ms", false},
		{"h1", "h3", Latency, 0.5, "ms", false},
		{"h1", "h5", Latency, 0.2, "ms", false}, // other rack, same switch
		{"h1", "h9", Latency, 0.5, "ms", true},
		{"h1", "h1", Bandwidth, 10000, "MB/s", false},
		{"h1", "h2", Bandwidth, 1250, "MB/s", false},
		{"h1", "h3", Bandwidth, 312.5, "MB/s", false},
		{"h9", "h1", Bandwidth, 312.5, "MB/s", true},
		{"h3", "h3", SwitchCount, 0, "switches", false},
		{"h3", "h4", SwitchCount, 1, "switches", false},
		{"h2", "h4", SwitchCount, 3, "switches", false},
		{"h9", "h4", SwitchCount, 3, "switches", true},
		{"h9", "h9", SwitchCount, 0, "switches", false},
		{"h1", "h1", FaultDomain, 0, "different (0/1)", false},
		{"h1", "h2", FaultDomain, 1, "different (0/1)", false},
		{"h3", "h5", FaultDomain, 1, "different (0/1)", false},
		{"h3", "h4", FaultDomain, 1, "different (0/1)", false},
		{"h9", "h1", FaultDomain, 0, "different (0/1)", true},
	}
	for _, tt := range tests {
		got, err := Metric(tt.from, tt.to, tt.typ, v)
		if err != nil {
			t.Errorf("%s %s->%s: %v", tt.typ, tt.from, tt.to, err)
			continue
		}
		if got.Value != tt.want || got.Unit != tt.unit || (got.Note != "") != tt.note {
			t.Errorf("%s %s->%s = %+v, want %g %s (note: %v)", tt.typ, tt.from, tt.to, got, tt.want, tt.unit, tt.note)
		}
	}
}

func TestMetricNoteNamesTheMissingHost(t *testing.T) {
	got, err := Metric("h1", "h9", Latency, siteView(t))
	if err != nil || !strings.Contains(got.Note, "h9") {
		t.Errorf("got %+v, %v; want a note naming h9", got, err)
	}
}

func TestMetricLinkModel(t *testing.T) {
	v := siteView(t)
	v.Links = DefaultLinkModel()
	v.Links.LatencyCoreMs, v.Links.Oversubscription = 2, 1
	if got, _ := Metric("h1", "h3", Latency, v); got.Value != 2 {
		t.Errorf("latency = %v, want the model's 2", got)
	}
	if got, _ := Metric("h1", "h3", Bandwidth, v); got.Value != 1250 {
		t.Errorf("bandwidth = %v, want the NIC speed with no oversubscription", got)
	}
}

func TestMetricLoad(t *testing.T) {
	v := siteView(t)
	v.Stats["h1"] = HostStats{Load1: 2, CPUs: 8, FreeMemoryMiB: 4096, TotalMemoryMiB: 16384}
	got, err := Metric("ignored", "h1", Load, v)
	if err != nil {
		t.Fatal(err)
	}
	want := Value{Value: 0.25, Unit: "load/CPU", Parts: []Part{{"load1", 2, "load"},
		{"cpus", 8, "CPUs"}, {"freeMemory", 4096, "MiB"}, {"totalMemory", 16384, "MiB"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestMetricErrors(t *testing.T) {
	v := siteView(t)
	v.Stats["h5"] = HostStats{Load1: 1}
	tests := []struct {
		from, to string
		typ      Type
		is       error
		want     string
	}{
		{"h1", "h2", "jitter", ErrUnknownType, `"jitter"; accepted: latency, bandwidth, switchCount, faultDomain, load`},
		{"h1", "nope", Latency, ErrUnknownHost, `unknown host "nope"`},
		{"nope", "h1", FaultDomain, ErrUnknownHost, `unknown host "nope"`},
		{"h1", "nope", Load, ErrUnknownHost, `unknown host "nope"`},
		{"h1", "h3", Load, ErrNoStats, `host "h3"`},
		{"h1", "h5", Load, ErrNoStats, "no CPU count"},
	}
	for _, tt := range tests {
		_, err := Metric(tt.from, tt.to, tt.typ, v)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s->%s: err = %v, want %v with %q", tt.typ, tt.from, tt.to, err, tt.is, tt.want)
		}
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]Type{"latency": Latency, "Switch Count": SwitchCount,
		"fault_domain": FaultDomain, "faultdomain": FaultDomain, "LOAD": Load, "band-width": Bandwidth} {
		if got, err := ParseType(in); got != want || err != nil {
			t.Errorf("ParseType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseType(""); !errors.Is(err, ErrUnknownType) {
		t.Errorf("empty type: err = %v", err)
	}
}

func TestAllMetrics(t *testing.T) {
	v := siteView(t)
	from, to := []string{"h1", "h3"}, []string{"h1", "h2", "h4"}
	got, err := AllMetrics(from, to, "switch count", v)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{0, 1, 3}, {3, 3, 1}}
	for i := range want {
		for j := range want[i] {
			if got[i][j].Value != want[i][j] {
				t.Errorf("[%s][%s] = %v, want %v", from[i], to[j], got[i][j].Value, want[i][j])
			}
		}
	}
	if _, err := AllMetrics(from, []string{"h1", "ghost"}, Latency, v); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("ghost: err = %v", err)
	}
	if m, err := AllMetrics(nil, to, Latency, v); err != nil || len(m) != 0 {
		t.Errorf("no from hosts = %v, %v", m, err)
	}
}

// TestNetworkMetricProperties checks, over every pair of hosts, that the
// network metrics are symmetric and that latency, bandwidth and the switch
// count agree on which pairs are closer.
func TestNetworkMetricProperties(t *testing.T) {
	v := siteView(t)
	hosts := append(v.Topology.Hosts(), "h9")
	get := func(a, b string, typ Type) float64 {
		x, err := Metric(a, b, typ, v)
		if err != nil {
			t.Fatal(err)
		}
		return x.Value
	}
	for _, a := range hosts {
		for _, b := range hosts {
			for _, typ := range []Type{Latency, Bandwidth, SwitchCount, FaultDomain} {
				if get(a, b, typ) != get(b, a, typ) {
					t.Errorf("%s not symmetric for %s, %s", typ, a, b)
				}
			}
			for _, c := range hosts {
				if get(a, b, SwitchCount) < get(a, c, SwitchCount) &&
					!(get(a, b, Latency) < get(a, c, Latency) && get(a, b, Bandwidth) > get(a, c, Bandwidth)) {
					t.Errorf("%s-%s has fewer switches than %s-%s but is not faster", a, b, a, c)
				}
			}
		}
	}
}
