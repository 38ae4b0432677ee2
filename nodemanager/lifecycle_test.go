package nodemanager_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/images"
)

var ctx = context.Background()

func tinySpec(name, ip string) api.InstanceSpec {
	s := api.InstanceSpec{Name: name, Cores: 1, Memory: 128, Disks: []api.Disk{{URI: images.TinyImage}}}
	if ip != "" {
		s.NICs = []api.NIC{{Network: "default", IP: ip}}
	}
	return s
}

// The whole lifecycle with real guests: create, the readiness line, pause,
// unpause, suspend and resume with guest memory intact, live migration
// between two node managers while the guest keeps serving, shutdown and
// destroy; the record is checked at every step.
func TestGuestLifecycle(t *testing.T) {
	c := newCluster(t)
	c.startNM("h1")
	c.startNM("h2")
	ip := c.subnet + ".10"
	if _, err := c.user.CreateVM(ctx, tinySpec("demo", ip)); err != nil {
		t.Fatal(err)
	}
	in := c.waitState("demo", api.Running, 2*time.Minute)
	host := in.HostName
	if got := c.serialReady(host, in.ID, 2*time.Minute); got != ip {
		t.Fatalf("guest says it has %s, the record %s", got, ip)
	}
	if v, err := kv(ip, "before-suspend"); err != nil || v != "before-suspend" {
		t.Fatalf("write a value in the guest: %q %v", v, err)
	}
	act(t, c, "demo", api.EvPause, api.Paused)
	act(t, c, "demo", api.EvUnpause, api.Running)
	act(t, c, "demo", api.EvSuspend, api.Suspended)
	if _, err := os.Stat(c.prefix + "/suspend"); err != nil {
		t.Fatalf("no suspend area: %v", err)
	}
	act(t, c, "demo", api.EvResume, api.Running)
	if v, err := kv(ip, ""); err != nil || v != "before-suspend" {
		t.Fatalf("after resume the guest has %q (%v), want before-suspend", v, err)
	}
	in = c.waitState("demo", api.Running, time.Minute)
	other := map[string]string{"h1": "h2", "h2": "h1"}[in.HostName]
	migrateWhileServing(t, c, ip, other)
	act(t, c, "demo", api.EvShutdown, api.Exited)
	evs, err := c.user.Events(ctx, itoa(in.ID))
	if err != nil || len(evs) == 0 {
		t.Fatalf("event log: %v", err)
	}
	t.Logf("event log of demo: %d entries, last %s", len(evs), evs[len(evs)-1].Kind)
}

// migrateWhileServing moves the guest to host while a client keeps asking
// it for its value; every answer must be the value, and the value must
// be there afterwards.
func migrateWhileServing(t *testing.T, c *cluster, ip, host string) {
	var stop atomic.Bool
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if v, err := kv(ip, ""); err == nil && v == "before-suspend" {
				ok.Add(1)
			} else {
				failed.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if _, err := c.user.Migrate(ctx, "demo", host); err != nil {
		t.Fatal(err)
	}
	in := c.waitState("demo", api.Running, 2*time.Minute)
	for in.HostName != host {
		time.Sleep(50 * time.Millisecond)
		in = c.waitState("demo", api.Running, time.Minute)
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if v, err := kv(ip, ""); err != nil || v != "before-suspend" {
		t.Fatalf("after migration the guest has %q (%v)", v, err)
	}
	t.Logf("during migration: %d answers, %d failed requests", ok.Load(), failed.Load())
	if ok.Load() == 0 {
		t.Fatalf("the guest answered nothing during the migration")
	}
	evs, _ := c.user.Events(ctx, itoa(in.ID))
	for _, e := range evs {
		if st, ok := e.Detail["stats"]; ok {
			t.Logf("%s: %v", e.Kind, st)
		}
	}
}

func act(t *testing.T, c *cluster, ref string, ev api.Event, want api.InstanceState) {
	t.Helper()
	if _, err := c.user.Act(ctx, ref, ev); err != nil {
		t.Fatalf("%s %s: %v", ev, ref, err)
	}
	c.waitState(ref, want, 2*time.Minute)
}

// A guest whose QEMU is killed with SIGKILL: the record shows it exited
// (the row goes, the event log keeps why). A node manager killed and
// started again finds its running guests and loses none.
func TestGuestKilledAndNMRestart(t *testing.T) {
	c := newCluster(t)
	c.startNM("h1")
	for _, n := range []string{"a", "b"} {
		if _, err := c.user.CreateVM(ctx, tinySpec(n, "")); err != nil {
			t.Fatal(err)
		}
	}
	a := c.waitState("a", api.Running, 2*time.Minute)
	b := c.waitState("b", api.Running, 2*time.Minute)
	c.stopNM("h1")
	c.startNM("h1")
	if got := c.waitState("b", api.Running, 30*time.Second); got.VMID != b.VMID {
		t.Fatalf("after the NM restart b runs as %s, before %s", got.VMID, b.VMID)
	}
	// The restarted NM took over the network and serves its names again.
	gw := c.subnet + ".1"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, _ := exec.Command("dig", "+short", "+time=1", "+tries=1", "@"+gw, "b.tashi.internal").Output()
		if strings.TrimSpace(string(out)) == b.NICs[0].IP {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the NM restart, dig b.tashi.internal at %s: %q; want %s", gw, out, b.NICs[0].IP)
		}
	}
	info, err := c.nms["h1"].drv.Info(ctx, a.ID)
	if err != nil {
		t.Fatalf("the restarted NM does not know a: %v", err)
	}
	pid := atoiPID(t, info.VMID)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.waitState("a", api.Exited, time.Minute)
	evs, _ := c.user.Events(ctx, itoa(a.ID))
	last := evs[len(evs)-1]
	if !strings.Contains(last.Kind+" "+toString(last.Detail), "report") {
		t.Errorf("last event of a: %+v", last)
	}
}

func toString(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + "=" + strings.TrimSpace(strings.ReplaceAll(fmtAny(v), "\n", " ")) + " ")
	}
	return b.String()
}
