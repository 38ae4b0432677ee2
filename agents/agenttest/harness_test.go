package agenttest_test

import (
	"context"
	"testing"
	"time"

	"github.com/tashi-go/tashi/agents/agenttest"
	"github.com/tashi-go/tashi/api"
)

func TestMain(m *testing.M) { agenttest.Main(m) }

var ctx = context.Background()

// The harness end to end: a VM goes Running on a simulated host through a
// real CM, node manager and agent, and the checks see what they should.
func TestHarnessSmoke(t *testing.T) {
	c := agenttest.New(t, agenttest.Options{Hosts: 2})
	c.StartAgent("a1", agenttest.AgentOptions{})
	in, err := c.User.CreateVM(ctx, agenttest.Spec("smoke", 1, 128))
	if err != nil {
		t.Fatal(err)
	}
	snap, bad := c.Settle(ctx, 20*time.Second, 300*time.Millisecond)
	if len(bad) > 0 {
		t.Fatalf("did not settle: %v", bad)
	}
	if len(snap.Instances) != 1 || snap.Instances[0].State != api.Running {
		t.Fatalf("instances: %+v", snap.Instances)
	}
	if v := agenttest.CheckSnapshot(snap); len(v) > 0 {
		t.Fatalf("record: %v", v)
	}
	gs := c.Guests(ctx)
	if len(gs) != 1 || gs[0].InstanceID != in.ID {
		t.Fatalf("guests: %+v", gs)
	}
	hist, err := c.CheckHistory(ctx, map[int64]agenttest.Size{in.ID: {Cores: 1, Memory: 128}})
	if err != nil || len(hist) > 0 {
		t.Fatalf("history: %v %v", hist, err)
	}
	// A guest the record does not know is caught.
	if _, err := c.User.Act(ctx, "smoke", api.EvDestroy); err != nil {
		t.Fatal(err)
	}
	if _, bad := c.Settle(ctx, 20*time.Second, 300*time.Millisecond); len(bad) > 0 {
		t.Fatalf("after destroy: %v", bad)
	}
	if gs := c.Guests(ctx); len(gs) != 0 {
		t.Fatalf("guests after destroy: %+v", gs)
	}
}
