package agenttest_test

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/agents/agenttest"
	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/cli"
	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/plugins/datalocation/moosefs"
	"github.com/tashi-go/tashi/plugins/datalocation/moosefstest"
	"github.com/tashi-go/tashi/plugins/telemetry"
)

// localityWorld is a real MooseFS whose chunkservers A, B and C run on
// the simulated hosts sim01, sim02 and sim03 (by the host map), the first
// two in rack r1 and the third in rack r2, and an agent that resolves
// dfsFiles hints with the moosefs plugin.
type localityWorld struct {
	t     *testing.T
	mfs   *moosefstest.Cluster
	c     *agenttest.Cluster
	hosts []*agenttest.Host
}

func newLocalityWorld(t *testing.T) *localityWorld {
	mfs := moosefstest.Start(t) // skips without root and the MooseFS binaries
	c := agenttest.New(t, agenttest.Options{Hosts: 3})
	w := &localityWorld{t: t, mfs: mfs, c: c, hosts: c.Hosts()}
	hm, err := datalocation.ParseHostMap(fmt.Sprintf("%s=%s,%s=%s,%s=%s", mfs.Addr("A"), w.name(0),
		mfs.Addr("B"), w.name(1), mfs.Addr("C"), w.name(2)))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := telemetry.ParseTopology(fmt.Sprintf("r1: %s %s\nr2: %s\n", w.name(0), w.name(1), w.name(2)))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := moosefs.FromConfig(mfs.LocatorConfig())
	if err != nil {
		t.Fatal(err)
	}
	c.StartAgent("a1", agenttest.AgentOptions{Locator: loc, HostMap: hm, Topology: topo, DataCacheTTL: time.Minute})
	return w
}

func (w *localityWorld) name(i int) string { return w.hosts[i].Name }

// write puts a file in MooseFS with every chunk on the labelled chunkserver.
func (w *localityWorld) write(name string, size int64, label string) {
	w.t.Helper()
	if err := w.mfs.WriteFile(name, size, label); err != nil {
		w.t.Fatal(err)
	}
}

// create makes a VM reading files and waits until it is placed.
func (w *localityWorld) create(name, files string) api.Instance {
	w.t.Helper()
	spec := agenttest.Spec(name, 1, 128)
	spec.Hints = map[string]string{"dfsFiles": files}
	if _, err := w.c.User.CreateVM(ctx, spec); err != nil {
		w.t.Fatalf("create %s: %v", name, err)
	}
	return w.placed(name)
}

// placed waits up to 30 s until the instance runs and the agent has
// recorded where it went.
func (w *localityWorld) placed(name string) api.Instance {
	w.t.Helper()
	var in api.Instance
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		in, err = w.c.User.Instance(ctx, name)
		if err == nil && in.State == api.Running && in.Placement != nil && strings.HasPrefix(in.Placement.Message, "placed on") {
			return in
		}
	}
	w.t.Fatalf("%s not placed and explained within 30 s: %+v (placement %+v), %v", name, in, in.Placement, err)
	return in
}

// tashi runs the command line tool against the cluster as the user.
func (w *localityWorld) tashi(args ...string) string {
	w.t.Helper()
	u, err := url.Parse(w.c.CM.URL)
	if err != nil {
		w.t.Fatal(err)
	}
	env := map[string]string{"HOME": w.t.TempDir(), "TASHI_CM_HOST": u.Hostname(), "TASHI_CM_PORT": u.Port(),
		"TASHI_TOKEN": w.c.User.Token}
	var out, errOut bytes.Buffer
	if rc := cli.Main(args, &out, &errOut, func(k string) string { return env[k] }); rc != 0 {
		w.t.Fatalf("tashi %v: exit %d: %s", args, rc, errOut.String())
	}
	return out.String()
}

// checkPlacement checks an instance's host and recorded locality.
func (w *localityWorld) checkPlacement(in api.Instance, host, locality string) {
	w.t.Helper()
	w.t.Logf("%s: %s; %s", in.Name, in.Placement.Message, in.Placement.Locality)
	if in.HostName != host || in.Placement.Locality != locality {
		w.t.Errorf("%s: on %s with %q (%q); want %s with %q", in.Name, in.HostName,
			in.Placement.Locality, in.Placement.Message, host, locality)
	}
}

// Issue 6 end to end with a real MooseFS: a VM goes next to its data;
// with that host drained, to its rack rather than the far rack; a
// createMany reading three files, one per chunkserver, puts one member
// next to each; a file MooseFS does not have does not stop placement,
// and the explanation says why. tashi explain and getInstances show it.
func TestDataLocalityEndToEnd(t *testing.T) {
	w := newLocalityWorld(t)
	w.write("/data/f", 130<<20, "B")

	near := w.create("near", "/data/f")
	w.checkPlacement(near, w.name(1), "locality 130/130 MiB node-local")
	out := w.tashi("explain", "--instance", "near")
	t.Logf("tashi explain --instance near:\n%s", out)
	if !strings.Contains(out, "placed on "+w.name(1)) || !strings.Contains(out, "\nlocality 130/130 MiB node-local") {
		t.Errorf("tashi explain near:\n%s", out)
	}
	if out := w.tashi("getInstances", "--show-placement"); !strings.Contains(out, `"locality":"locality 130/130 MiB node-local"`) {
		t.Errorf("tashi getInstances --show-placement:\n%s", out)
	}

	if _, err := w.c.CM.Admin.SetHostState(ctx, w.name(1), "Drained"); err != nil {
		t.Fatal(err)
	}
	rack := w.create("rack", "/data/f")
	w.checkPlacement(rack, w.name(0), "locality 0/130 MiB node-local, 130 MiB rack-local")
	if _, err := w.c.CM.Admin.SetHostState(ctx, w.name(1), "Normal"); err != nil {
		t.Fatal(err)
	}

	w.checkGroup()

	missing := w.create("missing", "/data/missing")
	t.Logf("missing: %s", missing.Placement.Message)
	if want := "dfsFiles /data/missing: not found; placed without locality"; !strings.Contains(missing.Placement.Message, want) ||
		missing.Placement.Locality != "" {
		t.Errorf("missing: explanation %+v, want a message containing %q and no locality", missing.Placement, want)
	}
	if bad, _, err := w.c.CheckRecord(ctx); err != nil || len(bad) > 0 {
		t.Errorf("record: %v %v", bad, err)
	}
}

// checkGroup: a createMany of three reading /data/p0, p1 and p2 (one
// chunk each, on A, B and C) has one member on each host, each reading
// its own chunk locally.
func (w *localityWorld) checkGroup() {
	w.t.Helper()
	for i, label := range moosefstest.Labels {
		w.write(fmt.Sprintf("/data/p%d", i), 64<<20, label)
	}
	spec := agenttest.Spec("part", 1, 128)
	spec.Hints = map[string]string{"dfsFiles": "/data/p0,/data/p1,/data/p2"}
	g, err := w.c.User.CreateMany(ctx, api.ManySpec{Basename: "part", Count: 3, Spec: spec})
	if err != nil {
		w.t.Fatal(err)
	}
	on := map[string]string{}
	for _, m := range g.Instances {
		in := w.placed(m.Name)
		w.t.Logf("%s: %s; %s", in.Name, in.Placement.Message, in.Placement.Locality)
		on[in.HostName] = in.Name
		if in.Placement.Locality != "locality 64/64 MiB node-local" {
			w.t.Errorf("%s on %s: %q, want its own chunk node-local", in.Name, in.HostName, in.Placement.Locality)
		}
	}
	if len(on) != 3 {
		w.t.Errorf("group members by host: %v, want one on each of the three hosts", on)
	}
}

// explanation polls the instance until its recorded explanation
// satisfies ok (up to 30 s).
func explanation(t *testing.T, c *agenttest.Cluster, name string, ok func(api.Instance) bool) api.Instance {
	t.Helper()
	var in api.Instance
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if in, err = c.User.Instance(ctx, name); err == nil && in.Placement != nil && ok(in) {
			return in
		}
	}
	t.Fatalf("%s: explanation not as expected within 30 s: %+v (placement %+v), %v", name, in, in.Placement, err)
	return in
}

// Without a data location plugin a VM with dfsFiles is placed and the
// explanation says why without locality; a VM that waited for room has
// its "why it waits" replaced by where it went once placed.
func TestPlacementExplanations(t *testing.T) {
	c := agenttest.New(t, agenttest.Options{Hosts: 1})
	c.StartAgent("a1", agenttest.AgentOptions{})
	spec := agenttest.Spec("nodata", 1, 128)
	spec.Hints = map[string]string{"dfsFiles": "/data/a;/data/b"}
	if _, err := c.User.CreateVM(ctx, spec); err != nil {
		t.Fatal(err)
	}
	want := "placed on sim01; dfsFiles: no data location plugin configured ([DataLocation] plugin); placed without locality"
	explanation(t, c, "nodata", func(in api.Instance) bool { return in.Placement.Message == want })

	if _, err := c.User.CreateVM(ctx, agenttest.Spec("big", 8, 128)); err != nil {
		t.Fatal(err)
	}
	explanation(t, c, "big", func(in api.Instance) bool {
		return in.State == api.Pending && strings.HasPrefix(in.Placement.Message, "no host fits") &&
			in.Placement.Rejected["not enough cores"] == 1
	})
	c.AddHost("wide", 8, 4096)
	in := explanation(t, c, "big", func(in api.Instance) bool { return in.Placement.Message == "placed on wide" })
	if len(in.Placement.Rejected) != 0 || in.Placement.Locality != "" {
		t.Errorf("big: explanation once placed %+v, want no rejections and no locality", in.Placement)
	}
}
