package agenttest_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/agents/agenttest"
	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/nodemanager/simvmm"
)

// killSeeds are the seeds of TestKillAgentDuringCreateMany: each picks
// when the kills land and which agent dies.
var killSeeds = []uint64{1, 2}

// Kill -9 an agent at random points during a createMany of 50 on ten
// simulated hosts (issue 4, "Must show"): three tashi-agent processes
// work; one is killed at a seeded random moment, a fresh one starts, a
// second kill follows. At the end all 50 instances are Running, each
// once in the record and on one host; the simulated hosts run exactly 50
// guests, each instance once, where the record says; no guest was ever
// started twice; no host is over capacity at any committed step.
func TestKillAgentDuringCreateMany(t *testing.T) {
	t.Parallel()
	bin := agenttest.BuildAgent(t)
	for _, seed := range killSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { killDuringCreateMany(t, bin, seed) })
	}
}

const (
	killCount = 50
	killTTL   = 3 * time.Second
)

func killDuringCreateMany(t *testing.T, bin string, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	ms := time.Millisecond
	lat := simvmm.DefaultLatency()
	lat.Start = simvmm.Delay{Min: 20 * ms, Max: 80 * ms} // claims stay open long enough to be cut
	c := agenttest.New(t, agenttest.Options{Hosts: 10, Cores: 8, MemoryMiB: 8192, Latency: &lat})
	procs := []*agenttest.Process{}
	for i := 0; i < 3; i++ {
		procs = append(procs, c.StartAgentProcess(bin, fmt.Sprintf("ag%d", i), killTTL))
	}
	waitLog(t, c, 20*time.Second, "agent running", len(procs))

	g, err := c.User.CreateMany(ctx, api.ManySpec{Basename: "k", Count: killCount, Spec: agenttest.Spec("k", 1, 128)})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	for k := 0; k < 2; k++ {
		time.Sleep(time.Duration(rng.Int64N(int64(600 * ms))))
		alive := procs[:0:0]
		for _, p := range procs {
			if !p.Exited() {
				alive = append(alive, p)
			}
		}
		victim := alive[rng.IntN(len(alive))]
		victim.Kill()
		t.Logf("killed %s %s after the createMany", victim, time.Since(begin).Round(ms))
		procs = append(procs, c.StartAgentProcess(bin, fmt.Sprintf("ag%d", len(procs)), killTTL))
	}

	snap, bad := c.Settle(ctx, 25*time.Second, 500*ms)
	t.Logf("settled %s after the createMany", time.Since(begin).Round(ms))
	if len(bad) > 0 {
		t.Fatalf("the cluster did not settle: %s", explain(c, bad))
	}
	byName := map[string]api.Instance{}
	running := 0
	for _, in := range snap.Instances {
		if _, dup := byName[in.Name]; dup {
			t.Errorf("name %s is twice in the record", in.Name)
		}
		byName[in.Name] = in
		if in.State == api.Running && in.HostID != nil {
			running++
		} else {
			t.Errorf("instance %s (%d) is %s on host %v (error %q)", in.Name, in.ID, in.State, deref(in.HostID), in.Error)
		}
	}
	if len(snap.Instances) != killCount || len(byName) != killCount {
		t.Errorf("the record holds %d instances (%d names), want %d", len(snap.Instances), len(byName), killCount)
	}
	if v := agenttest.CheckSnapshot(snap); len(v) > 0 {
		t.Errorf("record: %s", strings.Join(v, "\n"))
	}
	guests := c.Guests(ctx)
	if len(guests) != running {
		t.Errorf("the simulated hosts run %d guests for %d Running instances", len(guests), running)
	}
	if v := agenttest.CheckGuests(snap, guests); len(v) > 0 {
		t.Errorf("guests: %s", strings.Join(v, "\n"))
	}
	starts := 0
	for _, h := range c.Hosts() {
		for id, n := range h.Sim().Starts() {
			starts += n
			if n > 1 {
				t.Errorf("instance %d was started %d times on %s", id, n, h.Name)
			}
		}
	}
	if starts != running {
		t.Errorf("%d guests were started in all, want %d (one per Running instance)", starts, running)
	}
	sizes := map[int64]agenttest.Size{}
	for _, in := range g.Instances {
		sizes[in.ID] = agenttest.Size{Cores: in.Cores, Memory: in.Memory}
	}
	if hist, err := c.CheckHistory(ctx, sizes); err != nil || len(hist) > 0 {
		t.Errorf("history: %v %s", err, strings.Join(hist, "\n"))
	}
	perHost := map[string]int{}
	for _, g := range guests {
		perHost[g.Host]++
	}
	t.Logf("layout: %s", layout(perHost))
}

// Kill -9 an agent at random points while 16 instances migrate: three
// tashi-agent processes carry the migrations; one is killed at a seeded
// random moment, a fresh one starts, a second kill follows. At the end
// every instance is Running exactly once, where the record says (on its
// source or its target), no guest is left waiting for a migration, and
// no host was over capacity at any committed step.
func TestKillAgentDuringMigrations(t *testing.T) {
	t.Parallel()
	bin := agenttest.BuildAgent(t)
	for _, seed := range killSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { killDuringMigrations(t, bin, seed) })
	}
}

func killDuringMigrations(t *testing.T, bin string, seed uint64) {
	const n = 16
	rng := rand.New(rand.NewPCG(seed, 0x6d696772))
	ms := time.Millisecond
	lat := simvmm.DefaultLatency()
	lat.Migrate = simvmm.Delay{Min: 30 * ms, Max: 120 * ms}
	c := agenttest.New(t, agenttest.Options{Hosts: 8, Cores: 4, MemoryMiB: 4096, Latency: &lat})
	var procs []*agenttest.Process
	for i := 0; i < 3; i++ {
		procs = append(procs, c.StartAgentProcess(bin, fmt.Sprintf("ag%d", i), killTTL))
	}
	g, err := c.User.CreateMany(ctx, api.ManySpec{Basename: "m", Count: n, Spec: agenttest.Spec("m", 1, 256)})
	if err != nil {
		t.Fatal(err)
	}
	snap, bad := c.Settle(ctx, 25*time.Second, 300*ms)
	if len(bad) > 0 {
		t.Fatalf("the createMany did not settle: %s", explain(c, bad))
	}
	before := map[int64]api.Instance{}
	for _, in := range snap.Instances {
		before[in.ID] = in
	}
	// Every instance moves to the next host that has room.
	free := map[int64]int{}
	hosts := c.Hosts()
	for _, h := range snap.Hosts {
		free[h.ID] = h.Cores - h.UsedCores
	}
	begin := time.Now()
	moved := 0
	for _, in := range snap.Instances {
		for k := 1; k < len(hosts); k++ {
			to := hosts[(indexOf(hosts, *in.HostID)+k)%len(hosts)]
			if free[to.ID] < in.Cores {
				continue
			}
			if _, err := c.User.Migrate(ctx, in.Name, to.Name); err != nil {
				t.Logf("migrate %s to %s: %v", in.Name, to.Name, err)
				continue
			}
			free[to.ID] -= in.Cores
			moved++
			break
		}
	}
	for k := 0; k < 2; k++ {
		time.Sleep(time.Duration(rng.Int64N(int64(400 * ms))))
		var alive []*agenttest.Process
		for _, p := range procs {
			if !p.Exited() {
				alive = append(alive, p)
			}
		}
		victim := alive[rng.IntN(len(alive))]
		victim.Kill()
		t.Logf("killed %s %s after the migrations were asked", victim, time.Since(begin).Round(ms))
		procs = append(procs, c.StartAgentProcess(bin, fmt.Sprintf("ag%d", len(procs)), killTTL))
	}
	snap, bad = c.Settle(ctx, 25*time.Second, 500*ms)
	t.Logf("%d migrations asked; settled %s after", moved, time.Since(begin).Round(ms))
	if len(bad) > 0 {
		t.Fatalf("the migrations did not settle: %s", explain(c, bad))
	}
	if len(snap.Instances) != n {
		t.Errorf("the record holds %d instances, want %d", len(snap.Instances), n)
	}
	for _, in := range snap.Instances {
		if in.State != api.Running {
			t.Errorf("instance %s is %s (error %q)", in.Name, in.State, in.Error)
		}
	}
	guests := c.Guests(ctx)
	if len(guests) != n {
		t.Errorf("the simulated hosts run %d guests, want %d: %+v", len(guests), n, guests)
	}
	if v := agenttest.CheckSnapshot(snap); len(v) > 0 {
		t.Errorf("record: %s", strings.Join(v, "\n"))
	}
	landed := 0
	for _, in := range snap.Instances {
		if *in.HostID != *before[in.ID].HostID {
			landed++
		}
	}
	t.Logf("%d of %d migrations landed; the others were rolled back to their source", landed, moved)
	if lost := c.LostDisks(); len(lost) > 0 {
		t.Errorf("guests run on deleted or replaced disks:\n%s", explain(c, lost))
	}
	sizes := map[int64]agenttest.Size{}
	for _, in := range g.Instances {
		sizes[in.ID] = agenttest.Size{Cores: in.Cores, Memory: in.Memory}
	}
	if hist, err := c.CheckHistory(ctx, sizes); err != nil || len(hist) > 0 {
		t.Errorf("history: %v %s", err, strings.Join(hist, "\n"))
	}
}

func indexOf(hosts []*agenttest.Host, id int64) int {
	for i, h := range hosts {
		if h.ID == id {
			return i
		}
	}
	return 0
}

// waitLog waits until n log lines contain msg.
func waitLog(t *testing.T, c *agenttest.Cluster, limit time.Duration, msg string, n int) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if len(c.Logs(msg)) >= n {
			return
		}
	}
	t.Fatalf("waited %s for %d log lines %q; got %d", limit, n, msg, len(c.Logs(msg)))
}

func deref(p *int64) any {
	if p == nil {
		return "none"
	}
	return *p
}

func layout(perHost map[string]int) string {
	var hs []string
	for h, n := range perHost {
		hs = append(hs, fmt.Sprintf("%s=%d", h, n))
	}
	sort.Strings(hs)
	return strings.Join(hs, " ")
}
