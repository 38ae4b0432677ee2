package agents

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/configs"
	"github.com/tashi-go/tashi/plugins/datalocation/builtin"
	"github.com/tashi-go/tashi/plugins/datalocation/moosefs"
	"github.com/tashi-go/tashi/scheduler"
)

// defaults is the Agent configuration from the embedded defaults only,
// with sets ("Section.key=value") applied.
func defaults(t *testing.T, sets ...string) *configs.Config {
	t.Helper()
	c, err := configs.Load("Agent", configs.LoadOptions{Dirs: []string{},
		Env: func(string) string { return "" }, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		k, v, _ := strings.Cut(s, "=")
		sec, key, _ := strings.Cut(k, ".")
		c.Set(sec, key, v)
	}
	return c
}

func TestPolicyFromConfig(t *testing.T) {
	p, err := policy(defaults(t))
	if err != nil || p.LoadAware || p.LocalityWeight != 0 || p.RackCredit != 0 {
		t.Errorf("defaults: %+v, %v", p, err)
	}
	p, err = policy(defaults(t, "Scheduler.loadAware=yes", "Scheduler.localityWeight=3.5", "Scheduler.rackCredit=0.5",
		"Scheduler.loadWeight=2"))
	want := scheduler.Policy{LoadAware: true, LocalityWeight: 3.5, RackCredit: 0.5, LoadWeight: 2}
	if err != nil || p.LoadAware != want.LoadAware || p.LocalityWeight != want.LocalityWeight || p.RackCredit != want.RackCredit ||
		p.LoadWeight != want.LoadWeight {
		t.Errorf("set: %+v, %v; want %+v", p, err, want)
	}
	for set, key := range map[string]string{
		"Scheduler.loadAware=maybe":     "Scheduler.loadAware",
		"Scheduler.localityWeight=lots": "Scheduler.localityWeight",
		"Scheduler.rackCredit=2":        "Scheduler.rackCredit",
		"Scheduler.loadWeight=heavy":    "Scheduler.loadWeight",
	} {
		if _, err := policy(defaults(t, set)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v does not name %s", set, err, key)
		}
	}
}

func TestDataLocationFromConfig(t *testing.T) {
	reg := builtin.NewRegistry()
	ds, err := dataLocation(defaults(t), reg)
	if err != nil || ds.locator != nil || ds.cacheTTL != time.Minute || ds.hostMap.Len() != 0 {
		t.Errorf("defaults: %+v, %v; want no plugin, a 60 s cache", ds, err)
	}
	ds, err = dataLocation(defaults(t, "DataLocation.plugin=moosefs", "DataLocation.mount=/mnt/mfs",
		"DataLocation.url=http://nn:9870", "DataLocation.hostMap=10.0.0.11=host1", "DataLocation.cacheSeconds=5"), reg)
	if err != nil {
		t.Fatalf("moosefs: %v", err)
	}
	if _, ok := ds.locator.(*moosefs.Locator); !ok || ds.hostMap.Len() != 1 || ds.cacheTTL != 5*time.Second {
		t.Errorf("moosefs: %+v", ds)
	}
	if ds, err = dataLocation(defaults(t, "DataLocation.plugin=webhdfs", "DataLocation.url=http://nn:9870"), reg); err != nil || ds.locator == nil {
		t.Errorf("webhdfs: %+v, %v", ds, err)
	}
	for _, tt := range []struct{ set, want string }{
		{"DataLocation.plugin=moosefs", `[DataLocation] plugin = moosefs: configure data location plugin "moosefs": moosefs config: key "mount" is required`},
		{"DataLocation.plugin=hdfs", `unknown data location plugin "hdfs" (accepted: moosefs, webhdfs)`},
		{"DataLocation.hostMap=a=b,c", `[DataLocation] hostMap: parse host map entry 2 "c"`},
		{"DataLocation.cacheSeconds=-1", "DataLocation.cacheSeconds"},
	} {
		if _, err := dataLocation(defaults(t, tt.set), reg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.set, err, tt.want)
		}
	}
}

func TestTopologyFromConfig(t *testing.T) {
	if topo, err := topology(defaults(t)); topo != nil || err != nil {
		t.Errorf("defaults: %v, %v; want none", topo, err)
	}
	path := filepath.Join(t.TempDir(), "topology")
	if err := os.WriteFile(path, []byte("r1: h1 h2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := topology(defaults(t, "Telemetry.topologyFile="+path))
	if loc, ok := topo.Locate("h2"); err != nil || !ok || loc.Rack != "r1" {
		t.Errorf("topology: %v, %v, %v", loc, ok, err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	if _, err := topology(defaults(t, "Telemetry.topologyFile="+missing)); err == nil ||
		!strings.Contains(err.Error(), "[Telemetry] topologyFile "+missing) {
		t.Errorf("missing file: %v", err)
	}
}
