package clustermanager_test

import (
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/cmtest"
)

type world struct {
	c     *cmtest.Cluster
	nm    *api.Client
	agent *api.Client
	user  *api.Client
	h1    int64
	h2    int64
}

func newWorld(t *testing.T) world {
	c := cmtest.New(t)
	c.Image(t, "tiny.qcow2")
	w := world{c: c, nm: c.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{}),
		agent: c.User(t, "agent", api.RoleAgent, api.AddUserRequest{}),
		user:  c.User(t, "dana", api.RoleUser, api.AddUserRequest{})}
	w.h1 = c.Host(t, w.nm, "h1", 2, 1024)
	w.h2 = c.Host(t, w.nm, "h2", 2, 1024)
	return w
}

func (w world) instance(t *testing.T, ref string) api.Instance {
	t.Helper()
	in, err := w.user.Instance(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// carry claims the instance's transition and reports its outcome, as an agent does.
func (w world) carry(t *testing.T, ref string, o api.ClaimOutcome) api.Instance {
	t.Helper()
	in := w.instance(t, ref)
	cl, err := w.agent.ClaimInstance(ctx, api.ClaimRequest{InstanceID: in.ID, Version: in.Version, Owner: "t"})
	if err != nil {
		t.Fatalf("claim %s in %s: %v", ref, in.State, err)
	}
	out, err := w.agent.FinishClaim(ctx, cl.ID, o)
	if err != nil {
		t.Fatalf("finish %s: %v", ref, err)
	}
	return out
}

func (w world) place(t *testing.T, ref string, host int64) api.PlacementResult {
	t.Helper()
	in := w.instance(t, ref)
	res, err := w.agent.SubmitPlan(ctx, api.Plan{Agent: "t", Placements: []api.Placement{{InstanceID: in.ID, Version: in.Version, HostID: host}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Results[0]
}

func TestLifecycleThroughPlansClaimsAndReports(t *testing.T) {
	w := newWorld(t)
	if _, err := w.user.CreateVM(ctx, cmtest.Spec("vm")); err != nil {
		t.Fatal(err)
	}
	if r := w.place(t, "vm", w.h1); !r.Accepted {
		t.Fatalf("plan refused: %s", r.Reason)
	}
	if in := w.carry(t, "vm", api.ClaimOutcome{Event: api.EvOpFinished, VMID: "4242"}); in.State != api.Running || in.VMID != "4242" {
		t.Fatalf("after activation: %+v", in)
	}
	steps := []struct {
		ask  api.Event
		mid  api.InstanceState
		end  api.InstanceState
		outc api.Event
	}{
		{api.EvPause, api.Pausing, api.Paused, api.EvOpFinished},
		{api.EvUnpause, api.Unpausing, api.Running, api.EvOpFinished},
		{api.EvSuspend, api.Suspending, api.Suspended, api.EvOpFinished},
	}
	for _, s := range steps {
		if _, err := w.user.Act(ctx, "vm", s.ask); err != nil {
			t.Fatalf("%s: %v", s.ask, err)
		}
		if got := w.instance(t, "vm").State; got != s.mid {
			t.Fatalf("after %s: %s, want %s", s.ask, got, s.mid)
		}
		if in := w.carry(t, "vm", api.ClaimOutcome{Event: s.outc}); in.State != s.end {
			t.Fatalf("after %s done: %s, want %s", s.ask, in.State, s.end)
		}
	}
	if in := w.instance(t, "vm"); in.HostID != nil {
		t.Fatalf("a suspended VM is still on host %d", *in.HostID)
	}
	if _, err := w.user.Act(ctx, "vm", api.EvResume); err != nil {
		t.Fatal(err)
	}
	if r := w.place(t, "vm", w.h2); !r.Accepted {
		t.Fatalf("resume placement refused: %s", r.Reason)
	}
	if in := w.instance(t, "vm"); in.State != api.Resuming {
		t.Fatalf("placed suspended VM is %s, want Resuming", in.State)
	}
	w.carry(t, "vm", api.ClaimOutcome{Event: api.EvOpFinished})
	w.migrate(t)
	if _, err := w.user.Act(ctx, "vm", api.EvShutdown); err != nil {
		t.Fatal(err)
	}
	_, err := w.nm.VMStateChange(ctx, api.StateChange{InstanceID: w.instance(t, "vm").ID, HostID: w.h1, Old: api.Running, New: api.Exited})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.user.Instance(ctx, "vm"); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("an exited VM is still in the record: %v", err)
	}
}

func (w world) migrate(t *testing.T) {
	if _, err := w.user.Migrate(ctx, "vm", "h1"); err != nil {
		t.Fatal(err)
	}
	hosts, _ := w.c.Admin.Hosts(ctx)
	if hosts[0].UsedCores != 1 || hosts[1].UsedCores != 1 {
		t.Fatalf("a migrating VM must hold room on both hosts: %+v", hosts)
	}
	w.carry(t, "vm", api.ClaimOutcome{Event: api.EvMigrateGo})
	in := w.instance(t, "vm")
	if in.State != api.MigrateTrans {
		t.Fatalf("state %s, want MigrateTrans", in.State)
	}
	// The target's node manager reports the guest running: it lands there.
	if _, err := w.nm.VMStateChange(ctx, api.StateChange{InstanceID: in.ID, HostID: w.h1, New: api.Running}); err != nil {
		t.Fatal(err)
	}
	if in = w.instance(t, "vm"); in.State != api.Running || *in.HostID != w.h1 {
		t.Fatalf("after migration: %s on %v", in.State, *in.HostID)
	}
}

func TestPlanIsReverified(t *testing.T) {
	w := newWorld(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		if _, err := w.user.CreateVM(ctx, cmtest.Spec(n)); err != nil {
			t.Fatal(err)
		}
	}
	a := w.instance(t, "a")
	if _, err := w.c.Admin.SetHostState(ctx, "h2", "Drained"); err != nil {
		t.Fatal(err)
	}
	var pl []api.Placement
	for _, n := range []string{"a", "b", "c"} {
		in := w.instance(t, n)
		pl = append(pl, api.Placement{InstanceID: in.ID, Version: in.Version, HostID: w.h1})
	}
	d := w.instance(t, "d")
	pl = append(pl, api.Placement{InstanceID: d.ID, Version: d.Version, HostID: w.h2})
	res, err := w.agent.SubmitPlan(ctx, api.Plan{Agent: "t", Placements: pl})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for _, r := range res.Results {
		got[r.InstanceID] = r.Reason
	}
	if got[a.ID] != "" || got[w.instance(t, "b").ID] != "" {
		t.Errorf("a and b fit on h1 (2 cores): %v", got)
	}
	if got[w.instance(t, "c").ID] == "" {
		t.Errorf("c was accepted on a full host")
	}
	if got[d.ID] != "host is Drained" {
		t.Errorf("d on a drained host: %q", got[d.ID])
	}
	// A stale version is refused.
	stale := api.Plan{Agent: "t", Placements: []api.Placement{{InstanceID: a.ID, Version: a.Version, HostID: w.h2}}}
	res, _ = w.agent.SubmitPlan(ctx, stale)
	if res.Results[0].Accepted {
		t.Errorf("a plan with a stale version was accepted")
	}
}

func TestAtomicPlanRejectsAll(t *testing.T) {
	w := newWorld(t)
	g, err := w.user.CreateMany(ctx, api.ManySpec{Basename: "gang", Count: 3, Spec: cmtest.Spec("")})
	if err != nil {
		t.Fatal(err)
	}
	var pl []api.Placement
	for _, in := range g.Instances {
		pl = append(pl, api.Placement{InstanceID: in.ID, Version: in.Version, HostID: w.h1})
	}
	res, err := w.agent.SubmitPlan(ctx, api.Plan{Agent: "t", Atomic: true, Placements: pl})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if r.Accepted {
			t.Fatalf("an atomic plan that cannot fit was partly accepted: %+v", res)
		}
	}
	if in := w.instance(t, "gang-0"); in.State != api.Pending || in.HostID != nil {
		t.Fatalf("gang-0 after a rejected atomic plan: %s", in.State)
	}
}

func TestClaimsAreExclusiveAndExpire(t *testing.T) {
	w := newWorld(t)
	if _, err := w.user.CreateVM(ctx, cmtest.Spec("vm")); err != nil {
		t.Fatal(err)
	}
	w.place(t, "vm", w.h1)
	in := w.instance(t, "vm")
	req := api.ClaimRequest{InstanceID: in.ID, Version: in.Version, Owner: "one", TTLSeconds: 1}
	first, err := w.agent.ClaimInstance(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Owner = "two"
	if _, err := w.agent.ClaimInstance(ctx, req); !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("a second agent claimed a held instance: %v", err)
	}
	time.Sleep(1100 * time.Millisecond) // let the one-second claim lapse
	second, err := w.agent.ClaimInstance(ctx, req)
	if err != nil {
		t.Fatalf("an expired claim was not taken over: %v", err)
	}
	if _, err := w.agent.FinishClaim(ctx, first.ID, api.ClaimOutcome{Event: api.EvOpFinished}); !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("the first agent finished a claim it lost: %v", err)
	}
	if out, err := w.agent.FinishClaim(ctx, second.ID, api.ClaimOutcome{Event: api.EvOpFailed, Error: "qemu: bad disk"}); err != nil || out.State != api.Held || out.Error != "qemu: bad disk" {
		t.Fatalf("failed activation: %+v %v", out, err)
	}
}

func TestHostDownOrphansAndReturns(t *testing.T) {
	w := newWorld(t)
	if _, err := w.user.CreateVM(ctx, cmtest.Spec("vm")); err != nil {
		t.Fatal(err)
	}
	w.place(t, "vm", w.h1)
	id := w.instance(t, "vm").ID
	hb := api.Heartbeat{HostID: w.h1, VMs: []api.VMReport{{InstanceID: id, State: api.Running, VMID: "77"}}}
	if err := w.nm.SendHeartbeat(ctx, hb); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "heartbeat report applied", func() bool { return w.instance(t, "vm").State == api.Running })
	w.c.Store.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	if st := w.instance(t, "vm").State; st != api.Orphaned {
		t.Fatalf("VM of a down host reads %s, want Orphaned", st)
	}
	w.c.Store.SetClock(time.Now)
	if st := w.instance(t, "vm").State; st != api.Running {
		t.Fatalf("VM of a host back up reads %s, want Running", st)
	}
}

func TestWatchWakesOnCommit(t *testing.T) {
	w := newWorld(t)
	snap, err := w.agent.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan api.WatchResult, 1)
	go func() {
		r, _ := w.agent.Watch(ctx, snap.Index, 20*time.Second)
		done <- r
	}()
	time.Sleep(50 * time.Millisecond) // let the watch start waiting
	if _, err := w.user.CreateVM(ctx, cmtest.Spec("wake")); err != nil {
		t.Fatal(err)
	}
	if r := <-done; !r.Changed {
		t.Fatalf("watch returned without a change: %+v", r)
	}
	snap, _ = w.agent.Snapshot(ctx)
	r, err := w.agent.Watch(ctx, snap.Index, 200*time.Millisecond)
	if err != nil || r.Changed {
		t.Fatalf("watch with nothing new: %+v %v", r, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestVMMSpecificCallRoundTrip(t *testing.T) {
	w := newWorld(t)
	if _, err := w.user.CreateVM(ctx, cmtest.Spec("vm")); err != nil {
		t.Fatal(err)
	}
	call, err := w.user.VMMSpecificCall(ctx, "vm", "startVnc")
	if err != nil || call.Status != "pending" {
		t.Fatalf("record call: %+v %v", call, err)
	}
	done := make(chan api.VMMCall, 1)
	go func() {
		c, _ := w.user.WaitCall(ctx, call.ID, 20*time.Second)
		done <- c
	}()
	pending, err := w.agent.PendingCalls(ctx)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending calls: %+v %v", pending, err)
	}
	if _, err := w.agent.AnswerCall(ctx, call.ID, "done", "VNC running on h1:5900"); err != nil {
		t.Fatal(err)
	}
	if c := <-done; c.Status != "done" || c.Result != "VNC running on h1:5900" {
		t.Fatalf("waited call: %+v", c)
	}
	if _, err := w.agent.AnswerCall(ctx, call.ID, "done", "again"); !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("a call answered twice: %v", err)
	}
}

// A destroy that comes while an agent activates the instance wins: the
// activation's outcome is not applied and the Destroying state is free to
// claim, so the guest the activation started gets destroyed.
func TestDestroyDuringActivationIsNotLost(t *testing.T) {
	w := newWorld(t)
	if _, err := w.user.CreateVM(ctx, cmtest.Spec("vm")); err != nil {
		t.Fatal(err)
	}
	w.place(t, "vm", w.h1)
	in := w.instance(t, "vm")
	cl, err := w.agent.ClaimInstance(ctx, api.ClaimRequest{InstanceID: in.ID, Version: in.Version, Owner: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.user.Act(ctx, "vm", api.EvDestroy); err != nil {
		t.Fatal(err)
	}
	if _, err := w.agent.FinishClaim(ctx, cl.ID, api.ClaimOutcome{Event: api.EvOpFinished}); !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("an activation outcome was applied to a Destroying instance: %v", err)
	}
	in = w.instance(t, "vm")
	if in.State != api.Destroying {
		t.Fatalf("state %s, want Destroying", in.State)
	}
	out := w.carry(t, "vm", api.ClaimOutcome{Event: api.EvOpFinished})
	if out.State != api.Exited {
		t.Fatalf("after the destroy: %s", out.State)
	}
}
