package clustermanager_test

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager"
	"github.com/tashi-go/tashi/clustermanager/cmtest"
	"github.com/tashi-go/tashi/clustermanager/store"
	"github.com/tashi-go/tashi/configs"
	"github.com/tashi-go/tashi/plugins/telemetry"
	"github.com/tashi-go/tashi/plugins/telemetry/ganglia"
)

// twoRacks is the test site: r1a, r1b on rack r1; r2a, r2b on rack r2
// (each rack its own switch and fault domain).
const twoRacks = `
r1: r1a r1b
r2: r2a r2b
`

// testLinks differs from the default model in every value the tests read.
const testLinks = "latencyHost=0.01 latencySwitch=0.3 latencyCore=0.9 nicBandwidth=1000 oversubscription=2"

// longExpiry keeps registered hosts' stats fresh however slow the machine.
func longExpiry(l *store.Limits) { l.ExpireHostTime = time.Minute }

func telemetryCluster(t *testing.T, sensors ...clustermanager.TelemetrySensor) *cmtest.Cluster {
	t.Helper()
	topo, err := telemetry.ParseTopology(twoRacks)
	if err != nil {
		t.Fatal(err)
	}
	links, err := telemetry.ParseLinkModel(testLinks)
	if err != nil {
		t.Fatal(err)
	}
	return cmtest.NewWithTelemetry(t, clustermanager.Telemetry{Topology: topo, Links: links, Sensors: sensors}, longExpiry)
}

// statHost adds a host and registers it with stats, as a node manager
// does at start; it returns the host id.
func statHost(t *testing.T, c *cmtest.Cluster, nm *api.Client, name string, cores int, st api.HostStats) int64 {
	t.Helper()
	if _, err := c.Admin.AddHost(ctx, api.AddHostRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	r, err := nm.Register(ctx, api.RegisterRequest{Name: name, Version: "dev", Cores: cores, Memory: 4096, Stats: st})
	if err != nil {
		t.Fatal(err)
	}
	return r.HostID
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// parts renders a value's parts as name=value words, for comparisons.
func parts(v api.MetricValue) string {
	var w []string
	for _, p := range v.Parts {
		w = append(w, fmt.Sprintf("%s=%g", p.Name, p.Value))
	}
	return strings.Join(w, " ")
}

func TestMetricsFromTopologyAndHeartbeats(t *testing.T) {
	c := telemetryCluster(t)
	nm := c.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{})
	alice := c.User(t, "alice", api.RoleUser, api.AddUserRequest{})
	agent := c.User(t, "agent", api.RoleAgent, api.AddUserRequest{})
	r1a := statHost(t, c, nm, "r1a", 4, api.HostStats{Load1: 2, FreeMemory: 1000})
	statHost(t, c, nm, "r1b", 8, api.HostStats{Load1: 1})
	statHost(t, c, nm, "r2a", 2, api.HostStats{Load1: 0.5})
	statHost(t, c, nm, "x9", 2, api.HostStats{Load1: 1}) // in the record, not in the topology
	tests := []struct {
		from, to, typ string
		value         float64
		unit          string
	}{
		{"r1a", "r1b", "latency", 0.3, "ms"},
		{"r1a", "r2a", "latency", 0.9, "ms"},
		{"r1a", "r1a", "latency", 0.01, "ms"},
		{"r1a", "r2b", "latency", 0.9, "ms"}, // r2b is only in the topology
		{"r1a", "r1b", "bandwidth", 1000, "MB/s"},
		{"r2a", "r1b", "bandwidth", 500, "MB/s"},
		{"r1a", "r1b", "switchCount", 1, "switches"},
		{"r1a", "r2b", "switchCount", 3, "switches"},
		{"r1b", "r1b", "switchCount", 0, "switches"},
		{"r1a", "r1b", "faultDomain", 0, "different (0/1)"},
		{"r1b", "r2a", "faultDomain", 1, "different (0/1)"},
		{"r2a", "r1a", "load", 0.5, "load/CPU"},
		{"r1a", "r2a", "load", 0.25, "load/CPU"},
		{"r1a", "r2a", "fault_domain", 1, "different (0/1)"}, // the type in another spelling
	}
	for _, tt := range tests {
		v, err := alice.Metric(ctx, tt.from, tt.to, tt.typ)
		if err != nil {
			t.Errorf("getMetric %s %s->%s: %v", tt.typ, tt.from, tt.to, err)
			continue
		}
		if !near(v.Value, tt.value) || v.Unit != tt.unit || v.From != tt.from || v.To != tt.to || v.Note != "" {
			t.Errorf("getMetric %s %s->%s = %+v; want %g %s", tt.typ, tt.from, tt.to, v, tt.value, tt.unit)
		}
	}
	v, err := agent.Metric(ctx, "r2a", "r1a", "load")
	if err != nil || parts(v) != "load1=2 cpus=4 freeMemory=1000" || v.Type != "load" {
		t.Errorf("load as an agent: %+v %v", v, err)
	}
	v, err = alice.Metric(ctx, "r1a", "x9", "latency")
	if err != nil || !near(v.Value, 0.9) || !strings.Contains(v.Note, "x9 is not in the topology") {
		t.Errorf("latency to a host outside the topology: %+v %v; want 0.9 with a note", v, err)
	}

	m, err := alice.AllMetrics(ctx, []string{"r1a", "r2a"}, []string{"r1b", "r2b", "r1a"}, "switchCount")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{1, 3, 0}, {3, 1, 3}}
	if m.Type != "switchCount" || len(m.Values) != 2 || strings.Join(m.From, ",") != "r1a,r2a" ||
		strings.Join(m.To, ",") != "r1b,r2b,r1a" {
		t.Fatalf("getAllMetrics: %+v", m)
	}
	for i, row := range m.Values {
		for j, got := range row {
			if len(row) != 3 || got.Value != want[i][j] || got.From != m.From[i] || got.To != m.To[j] {
				t.Errorf("getAllMetrics [%d][%d] = %+v; want %s->%s %g", i, j, got, m.From[i], m.To[j], want[i][j])
			}
		}
	}

	// A heartbeat replaces the registration's stats.
	if err := nm.SendHeartbeat(ctx, api.Heartbeat{HostID: r1a, Stats: api.HostStats{Load1: 3, FreeMemory: 900}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m, err := alice.AllMetrics(ctx, []string{"r2a"}, []string{"r1a", "r2a"}, "load")
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Values[0][0]; near(got.Value, 0.75) && parts(got) == "load1=3 cpus=4 freeMemory=900" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("load of r1a after a heartbeat with load 3: %+v; want 0.75", m.Values[0])
		}
	}
}

func TestMetricErrors(t *testing.T) {
	c := telemetryCluster(t)
	nm := c.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{})
	alice := c.User(t, "alice", api.RoleUser, api.AddUserRequest{})
	statHost(t, c, nm, "r1a", 4, api.HostStats{Load1: 2})
	statHost(t, c, nm, "r2a", 2, api.HostStats{Load1: 1})
	types := "latency, bandwidth, switchCount, faultDomain, load"
	tests := []struct {
		name, token, path string
		status            int
		code              api.Code
		field, msg        string
	}{
		{"unknown type", alice.Token, "/v1/metric?from=r1a&to=r2a&type=speed", 400, api.CodeInvalid, "type", types},
		{"no type", alice.Token, "/v1/metric?from=r1a&to=r2a", 400, api.CodeInvalid, "type", types},
		{"unknown type, lists", alice.Token, "/v1/metrics?from=r1a&to=r2a&type=hops", 400, api.CodeInvalid, "type", types},
		{"no from", alice.Token, "/v1/metric?to=r2a&type=latency", 400, api.CodeInvalid, "from", "required"},
		{"empty to", alice.Token, "/v1/metric?from=r1a&to=,&type=latency", 400, api.CodeInvalid, "to", "required"},
		{"no to, lists", alice.Token, "/v1/metrics?from=r1a&type=latency", 400, api.CodeInvalid, "to", "required"},
		{"two hosts to getMetric", alice.Token, "/v1/metric?from=r1a,r2a&to=r2a&type=latency", 400, api.CodeInvalid, "from", "getAllMetrics"},
		{"unknown to", alice.Token, "/v1/metric?from=r1a&to=ghost&type=latency", 404, api.CodeNotFound, "to", `"ghost"`},
		{"unknown from", alice.Token, "/v1/metric?from=ghost&to=r1a&type=switchCount", 404, api.CodeNotFound, "from", `"ghost"`},
		{"unknown from, lists", alice.Token, "/v1/metrics?from=r1a,ghost&to=r2a&type=latency", 404, api.CodeNotFound, "from", `"ghost"`},
		{"unknown to, lists", alice.Token, "/v1/metrics?from=r1a&to=r2a,ghost&type=bandwidth", 404, api.CodeNotFound, "to", `"ghost"`},
		{"load without stats", alice.Token, "/v1/metric?from=r1a&to=r2b&type=load", 404, api.CodeNotFound, "to", "no host stats"},
		{"load of an unknown host", alice.Token, "/v1/metrics?from=r1a&to=r1a,ghost&type=load", 404, api.CodeNotFound, "to", `"ghost"`},
		{"node manager", nm.Token, "/v1/metric?from=r1a&to=r2a&type=latency", 403, api.CodeForbidden, "Authorization", "may not"},
		{"no token", "", "/v1/metrics?from=r1a&to=r2a&type=latency", 401, api.CodeUnauthenticated, "Authorization", "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, e := raw(t, c, tt.token, "GET", tt.path, "")
			if status != tt.status || e.Code != tt.code || e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got %d %s field=%q %q; want %d %s field=%q, a message with %q",
					status, e.Code, e.Field, e.Message, tt.status, tt.code, tt.field, tt.msg)
			}
		})
	}
	big := strings.Repeat("r1a,", 300)
	status, e := raw(t, c, alice.Token, "GET", "/v1/metrics?from="+big+"&to="+big+"&type=latency", "")
	if status != 400 || e.Field != "to" || !strings.Contains(e.Message, "90000 pairs") {
		t.Errorf("300x300 pairs: %d %+v", status, e)
	}
}

// gmondXML is the captured gmond answer in testdata with its one host
// ("localhost") turned into r1a.example.org and r2b.example.org, reported
// at the given time.
func gmondXML(t *testing.T, reported time.Time) string {
	t.Helper()
	data, err := os.ReadFile("../plugins/telemetry/ganglia/testdata/gmond.xml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start, end := strings.Index(doc, "<HOST "), strings.Index(doc, "</HOST>")+len("</HOST>")
	if start < 0 || end < start {
		t.Fatal("testdata/gmond.xml holds no HOST")
	}
	var hosts strings.Builder
	for _, h := range []struct{ name, ip string }{{"r1a.example.org", "10.0.0.1"}, {"r2b.example.org", "10.0.0.4"}} {
		block := strings.Replace(doc[start:end], `NAME="localhost" IP="127.0.0.1"`, `NAME="`+h.name+`" IP="`+h.ip+`"`, 1)
		block = strings.Replace(block, `REPORTED="1795264074"`, fmt.Sprintf(`REPORTED="%d"`, reported.Unix()), 1)
		if !strings.Contains(block, h.name) || !strings.Contains(block, fmt.Sprint(reported.Unix())) {
			t.Fatal("testdata/gmond.xml changed: its host is no longer localhost reported at 1795264074")
		}
		hosts.WriteString(block + "\n")
	}
	return doc[:start] + hosts.String() + doc[end:]
}

// fakeGmond serves xml to its first good connections and garbage after;
// it returns its address and the number of connections so far.
func fakeGmond(t *testing.T, xml string, good int64) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if conns.Add(1) <= good {
				_, _ = conn.Write([]byte(xml))
			} else {
				_, _ = conn.Write([]byte("<html>not ganglia</html>"))
			}
			conn.Close()
		}
	}()
	return ln.Addr().String(), &conns
}

func TestGangliaStatsMergedIntoMetrics(t *testing.T) {
	// Ganglia's reports are older than the registrations below, so the
	// heartbeats' load wins where both report and Ganglia fills the rest.
	addr, conns := fakeGmond(t, gmondXML(t, time.Now().Add(-10*time.Second)), 2)
	sensor, err := ganglia.Factory("addr=" + addr + " match=shortname timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	c := telemetryCluster(t, clustermanager.TelemetrySensor{Name: "ganglia", Sensor: sensor, Every: 50 * time.Millisecond})
	nm := c.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{})
	alice := c.User(t, "alice", api.RoleUser, api.AddUserRequest{})
	statHost(t, c, nm, "r1a", 4, api.HostStats{Load1: 2, FreeMemory: 1000})

	// r2b sends no heartbeats: its load is Ganglia's, once read (gmond
	// said load_one 0.28, cpu_num 2, mem_free 21333620 KB, mem_total 24684096 KB).
	var v api.MetricValue
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if v, err = alice.Metric(ctx, "r1a", "r2b", "load"); err == nil {
			break
		}
		if !api.IsCode(err, api.CodeNotFound) || time.Now().After(deadline) {
			t.Fatalf("load of r2b with Ganglia: %v", err)
		}
	}
	if !near(v.Value, 0.14) || parts(v) != "load1=0.28 cpus=2 freeMemory=20833 totalMemory=24105" {
		t.Errorf("load of r2b from Ganglia = %+v; want 0.14", v)
	}
	v, err = alice.Metric(ctx, "r2b", "r1a", "load")
	if err != nil || !near(v.Value, 0.5) || parts(v) != "load1=2 cpus=4 freeMemory=1000 totalMemory=24105" {
		t.Errorf("load of r1a (heartbeat, total memory from Ganglia) = %+v %v; want 0.5", v, err)
	}

	// gmond now answers garbage: the last good reading stays.
	for deadline := time.Now().Add(10 * time.Second); conns.Load() < 4; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the CM connected to gmond %d times in 10 s; want a read every 50 ms", conns.Load())
		}
	}
	m, err := alice.AllMetrics(ctx, []string{"r1a"}, []string{"r2b"}, "load")
	if err != nil || !near(m.Values[0][0].Value, 0.14) {
		t.Errorf("load of r2b after failed reads: %+v %v; want the last reading's 0.14", m, err)
	}
}

// loadConfig is the CM's config from the defaults and the given
// [Telemetry] keys only.
func loadConfig(t *testing.T, keys map[string]string) *configs.Config {
	t.Helper()
	c, err := configs.Load("ClusterManager", configs.LoadOptions{Dirs: []string{},
		Env: func(string) string { return "" }, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range keys {
		c.Set("Telemetry", k, v)
	}
	return c
}

func TestTelemetryConfig(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "topology"), filepath.Join(dir, "bad-topology")
	os.WriteFile(good, []byte(twoRacks+"r2b faultDomain=pdu9\n"), 0o644)
	os.WriteFile(bad, []byte("r1a switch=s1\n"), 0o644) // no rack

	o, err := clustermanager.OptionsFromConfig(loadConfig(t, nil))
	if err != nil || o.Telemetry.Topology != nil || o.Telemetry.Links != telemetry.DefaultLinkModel() ||
		len(o.Telemetry.Sensors) != 0 {
		t.Errorf("defaults: %+v %v; want no topology, the default link model, no sensors", o.Telemetry, err)
	}
	o, err = clustermanager.OptionsFromConfig(loadConfig(t, map[string]string{"topologyFile": good,
		"linkModel": testLinks, "ganglia": "addr=gmond.example.org match=shortname", "gangliaInterval": "15"}))
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := o.Telemetry.Topology.Locate("r2b")
	tel := o.Telemetry
	if got := strings.Join(tel.Topology.Hosts(), " "); got != "r1a r1b r2a r2b" || loc.FaultDomain != "pdu9" ||
		tel.Links.LatencyCoreMs != 0.9 || tel.Links.Oversubscription != 2 || len(tel.Sensors) != 1 ||
		tel.Sensors[0].Name != "ganglia" || tel.Sensors[0].Every != 15*time.Second {
		t.Errorf("configured: %+v", tel)
	}

	for _, tt := range []struct {
		keys map[string]string
		want string
	}{
		{map[string]string{"topologyFile": filepath.Join(dir, "missing")}, "[Telemetry] topologyFile: read topology file"},
		{map[string]string{"topologyFile": bad}, "[Telemetry] topologyFile: topology " + bad + ":1"},
		{map[string]string{"linkModel": "latencyRack=0.2"}, `[Telemetry] linkModel: link model line 1: unknown key "latencyRack"; accepted keys: latencyHost`},
		{map[string]string{"linkModel": "oversubscription=0.5"}, "[Telemetry] linkModel: link model line 1: bad value for oversubscription"},
		{map[string]string{"ganglia": "match=shortname"}, "[Telemetry] ganglia: "},
		{map[string]string{"ganglia": "addr=g port=1"}, `[Telemetry] ganglia: configure sensor "ganglia": ganglia spec: unknown key "port"`},
		{map[string]string{"ganglia": "addr=g", "gangliaInterval": "0"}, "[Telemetry] gangliaInterval must be more than 0"},
		{map[string]string{"ganglia": "addr=g", "gangliaInterval": "soon"}, "Telemetry.gangliaInterval"},
	} {
		if _, err := clustermanager.OptionsFromConfig(loadConfig(t, tt.keys)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v; want one with %q", tt.keys, err, tt.want)
		}
	}
}

// TestBadTelemetryConfigStopsTheCM: tashi-cm refuses to start, naming the
// key, before it touches a database.
func TestBadTelemetryConfigStopsTheCM(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "cm.cfg")
	os.WriteFile(cfg, []byte("[Telemetry]\nlinkModel = latencyCore=-1\n"), 0o644)
	var stderr strings.Builder
	code := clustermanager.Main(ctx, []string{"--config", cfg, "--dsn", "postgres://nowhere.invalid/x"}, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "[Telemetry] linkModel") ||
		!strings.Contains(stderr.String(), "bad value for latencyCore") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}
