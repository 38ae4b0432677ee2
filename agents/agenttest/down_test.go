package agenttest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/agents/agenttest"
	"github.com/tashi-go/tashi/api"
)

// waitUp waits until the record shows the host up (or down).
func waitUp(t *testing.T, c *agenttest.Cluster, name string, up bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		hs, err := c.CM.Admin.Hosts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if h.Name == name && h.Up == up {
				return
			}
		}
	}
	t.Fatalf("host %s did not become up=%v within 10 s", name, up)
}

// A host whose node manager stopped goes down after expireHostTime, and
// nothing is placed on it while it is down; when it is back, it is used
// again. The event log agrees (CheckHistory knows when each node manager
// was stopped).
func TestPlacementAvoidsDownHost(t *testing.T) {
	t.Parallel()
	c := agenttest.New(t, agenttest.Options{Hosts: 2, Cores: 4, MemoryMiB: 2048, Heartbeat: 300 * time.Millisecond,
		ExpireHost: 2 * time.Second})
	c.StartAgent("a1", agenttest.AgentOptions{})
	c.StartAgent("a2", agenttest.AgentOptions{})
	down := c.Hosts()[0]
	down.Stop()
	waitUp(t, c, down.Name, false)
	g, err := c.User.CreateMany(ctx, api.ManySpec{Basename: "d", Count: 4, Spec: agenttest.Spec("d", 1, 256)})
	if err != nil {
		t.Fatal(err)
	}
	snap, bad := c.Settle(ctx, 20*time.Second, 500*time.Millisecond)
	if len(bad) > 0 {
		t.Fatalf("did not settle: %s", explain(c, bad))
	}
	for _, in := range snap.Instances {
		if in.State != api.Running || in.HostName == down.Name {
			t.Errorf("instance %s is %s on %s while %s is down", in.Name, in.State, in.HostName, down.Name)
		}
	}
	down.Start()
	waitUp(t, c, down.Name, true)
	g2, err := c.User.CreateMany(ctx, api.ManySpec{Basename: "e", Count: 4, Spec: agenttest.Spec("e", 1, 256)})
	if err != nil {
		t.Fatal(err)
	}
	snap, bad = c.Settle(ctx, 20*time.Second, 500*time.Millisecond)
	if len(bad) > 0 {
		t.Fatalf("did not settle after the host came back: %s", explain(c, bad))
	}
	onDown := 0
	for _, in := range snap.Instances {
		if in.State != api.Running {
			t.Errorf("instance %s is %s", in.Name, in.State)
		}
		if in.HostName == down.Name {
			onDown++
		}
	}
	if onDown != 4 {
		t.Errorf("%d instances on %s once it was back, want 4 (the other host is full)", onDown, down.Name)
	}
	sizes := map[int64]agenttest.Size{}
	for _, in := range append(g.Instances, g2.Instances...) {
		sizes[in.ID] = agenttest.Size{Cores: in.Cores, Memory: in.Memory}
	}
	if hist, err := c.CheckHistory(ctx, sizes); err != nil || len(hist) > 0 {
		t.Errorf("history: %v %s", err, strings.Join(hist, "\n"))
	}
}

// A VM whose host is down reads Orphaned and stays recorded; a destroy
// asked meanwhile is carried out when the host is back, so no guest is
// left running unrecorded.
func TestDestroyWhileHostDown(t *testing.T) {
	t.Parallel()
	c := agenttest.New(t, agenttest.Options{Hosts: 1, Heartbeat: 300 * time.Millisecond, ExpireHost: 2 * time.Second})
	c.StartAgent("a1", agenttest.AgentOptions{})
	if _, err := c.User.CreateVM(ctx, agenttest.Spec("orphan", 1, 256)); err != nil {
		t.Fatal(err)
	}
	if _, bad := c.Settle(ctx, 20*time.Second, 300*time.Millisecond); len(bad) > 0 {
		t.Fatalf("did not settle: %s", explain(c, bad))
	}
	h := c.Hosts()[0]
	h.Stop()
	waitUp(t, c, h.Name, false)
	in, err := c.User.Instance(ctx, "orphan")
	if err != nil || in.State != api.Orphaned {
		t.Fatalf("with its host down the instance reads %s (%v), want Orphaned", in.State, err)
	}
	if _, err := c.User.Act(ctx, "orphan", api.EvDestroy); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the agents see the request while the host is down
	if _, err := c.User.Instance(ctx, "orphan"); err != nil {
		t.Logf("the record dropped the instance while its host was down: %v", err)
	}
	h.Start()
	if _, bad := c.Settle(ctx, 20*time.Second, 500*time.Millisecond); len(bad) > 0 {
		t.Fatalf("after the host came back: %s", explain(c, bad))
	}
	if gs := c.Guests(ctx); len(gs) != 0 {
		t.Fatalf("guests left: %+v", gs)
	}
}
