package nodemanager_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/nodemanager"
)

// Bad input on the node manager's side: each VM ends Held with a reason
// that names the problem, and nothing is left behind: no tap, no
// overlay, no QEMU process or run directory.
func TestBadInputIsHeldAndLeavesNothing(t *testing.T) {
	c := newCluster(t)
	c.startNM("h1")
	imgs := filepath.Join(c.prefix, "images")
	broken := filepath.Join(imgs, "broken.qcow2")
	out, err := exec.Command("qemu-img", "create", "-f", "qcow2", "-u", "-b", "/nonexistent/base.qcow2",
		"-F", "qcow2", broken, "64M").CombinedOutput()
	if err != nil {
		t.Fatalf("make a broken image: %v\n%s", err, out)
	}
	c.cm.Image(t, "broken.qcow2")
	c.cm.Image(t, "ghost.qcow2") // in the record, not in the store
	tests := []struct {
		name string
		spec api.InstanceSpec
		want string
	}{
		{"qemu cannot open the disk", api.InstanceSpec{Name: "bad-disk", Cores: 1, Memory: 128,
			Disks: []api.Disk{{URI: "broken.qcow2", Persistent: true}}, NICs: []api.NIC{{Network: "default"}}},
			"nonexistent"},
		{"image file missing", api.InstanceSpec{Name: "ghost", Cores: 1, Memory: 128,
			Disks: []api.Disk{{URI: "ghost.qcow2"}}, NICs: []api.NIC{{Network: "default"}}}, "ghost.qcow2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.user.CreateVM(ctx, tt.spec); err != nil {
				t.Fatal(err)
			}
			in := c.waitState(tt.spec.Name, api.Held, time.Minute)
			if !strings.Contains(in.Error, tt.want) {
				t.Fatalf("Held with %q; want it to mention %q", in.Error, tt.want)
			}
			c.nothingLeft(t, "h1", in.ID)
		})
	}
}

// A guest the machine's free memory cannot hold is refused by the node
// manager even when the record thinks the host has room.
func TestMemoryOverHostFreeIsHeld(t *testing.T) {
	c := newCluster(t)
	c.nmTweak = func(cfg *nodemanager.Config) {
		cfg.MemoryMiB = 1 << 20              // the record believes in a terabyte
		cfg.ReservedMemory = freeMiB(t) - 64 // the machine keeps all but 64 MiB
	}
	c.startNM("h1")
	if _, err := c.user.CreateVM(ctx, tinySpec("big", "")); err != nil {
		t.Fatal(err)
	}
	in := c.waitState("big", api.Held, time.Minute)
	if !strings.Contains(in.Error, "MiB free") {
		t.Fatalf("Held with %q; want the free memory named", in.Error)
	}
	c.nothingLeft(t, "h1", in.ID)
}

// An unknown vmmSpecificCall is answered with the accepted ones; a second
// instance asking for a persistent image in use is refused by the CM.
func TestUnknownCallAndPersistentInUse(t *testing.T) {
	c := newCluster(t)
	c.startNM("h1")
	if _, err := c.user.CreateVM(ctx, tinySpec("vm", "")); err != nil {
		t.Fatal(err)
	}
	c.waitState("vm", api.Running, time.Minute)
	call, err := c.user.VMMSpecificCall(ctx, "vm", "explode")
	if err != nil {
		t.Fatal(err)
	}
	call, err = c.user.WaitCall(ctx, call.ID, 30*time.Second)
	if err != nil || call.Status != "failed" || !strings.Contains(call.Result, "startVnc") {
		t.Fatalf("unknown call answered %+v %v; want failed, listing the accepted calls", call, err)
	}
	spec := tinySpec("p1", "")
	spec.Disks = []api.Disk{{URI: "tiny.qcow2", Persistent: true}}
	if _, err := c.user.CreateVM(ctx, spec); err != nil {
		t.Fatal(err)
	}
	spec.Name = "p2"
	if _, err := c.user.CreateVM(ctx, spec); !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("a second holder of a persistent image: %v", err)
	}
}

// nothingLeft checks that instance id left no tap, overlay or process.
func (c *cluster) nothingLeft(t *testing.T, host string, id int64) {
	t.Helper()
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, c.tapPfx) && strings.HasPrefix(l.Attrs().Name[len(c.tapPfx)+2:], itoa(id)+".") {
			t.Errorf("tap %s left behind", l.Attrs().Name)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(c.prefix, "overlays", itoa(id)+"-*")); len(m) > 0 {
		t.Errorf("overlays left behind: %v", m)
	}
	if _, err := os.Stat(filepath.Join(c.nms[host].runDir, itoa(id), "qemu.pid")); err == nil {
		t.Errorf("a QEMU pid file is left in the run dir")
	}
	if gs, _ := c.nms[host].drv.List(ctx); len(gs) > 0 {
		for _, g := range gs {
			if g.InstanceID == id && g.State != "Exited" {
				t.Errorf("the back end still runs instance %d: %+v", id, g)
			}
		}
	}
}

func freeMiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "MemAvailable:" {
			var kb int
			_, _ = fmtSscan(f[1], &kb)
			return kb / 1024
		}
	}
	t.Fatal("no MemAvailable")
	return 0
}

// A node manager that dies around a migration: the guest keeps running on
// its source and the record says so; once the target is back, the
// migration goes through.
func TestTargetNMDownDuringMigration(t *testing.T) {
	c := newCluster(t)
	c.startNM("h1")
	c.startNM("h2")
	ip := c.subnet + ".20"
	spec := tinySpec("mover", ip)
	spec.Hints = map[string]string{"targetHost": "h1"}
	if _, err := c.user.CreateVM(ctx, spec); err != nil {
		t.Fatal(err)
	}
	c.waitState("mover", api.Running, time.Minute)
	c.serialReady("h1", c.waitState("mover", api.Running, time.Minute).ID, 2*time.Minute)
	if v, err := kv(ip, "kept"); err != nil || v != "kept" {
		t.Fatalf("write a value: %q %v", v, err)
	}
	c.stopNM("h2")
	if _, err := c.user.Migrate(ctx, "mover", "h2"); err != nil {
		t.Fatal(err)
	}
	var in api.Instance
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if in, _ = c.user.Instance(ctx, "mover"); in.State == api.Running && in.Error != "" {
			break
		}
	}
	if in.State != api.Running || in.HostName != "h1" || !strings.Contains(in.Error, "h2") {
		t.Fatalf("after a migration to a dead NM: %s on %s (%q); want Running on h1 with the reason", in.State, in.HostName, in.Error)
	}
	if v, err := kv(ip, ""); err != nil || v != "kept" {
		t.Fatalf("the guest lost its value or stopped serving: %q %v", v, err)
	}
	c.startNM("h2")
	if _, err := c.user.Migrate(ctx, "mover", "h2"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && in.HostName != "h2"; time.Sleep(50 * time.Millisecond) {
		in, _ = c.user.Instance(ctx, "mover")
	}
	if in.HostName != "h2" || in.State != api.Running {
		t.Fatalf("migration after the NM came back: %s on %s (%q)", in.State, in.HostName, in.Error)
	}
	if v, err := kv(ip, ""); err != nil || v != "kept" {
		t.Fatalf("after the migration the guest has %q (%v)", v, err)
	}
}

// A vlan network on a kernel without 802.1Q (this one): the VM ends Held
// with a message that says so and what works instead, and nothing of it
// is left on the host.
func TestVLANWithout8021QIsHeld(t *testing.T) {
	c := newCluster(t, func(c *cluster) {
		c.nmTweak = func(cfg *nodemanager.Config) { cfg.Network.Uplink = "lo" }
	})
	c.startNM("h1")
	if _, err := c.cm.Admin.AddNetwork(ctx, api.Network{Name: "vl", Kind: "vlan", SegmentID: 42,
		CIDR: "10.253.42.0/24", Gateway: "10.253.42.1"}); err != nil {
		t.Fatal(err)
	}
	spec := tinySpec("tagged", "")
	spec.NICs = []api.NIC{{Network: "vl"}}
	if _, err := c.user.CreateVM(ctx, spec); err != nil {
		t.Fatal(err)
	}
	in := c.waitState("tagged", api.Held, time.Minute)
	if _, err := os.Stat("/proc/net/vlan/config"); err == nil {
		t.Skip("this kernel has 802.1Q; the test is for kernels without it")
	}
	if !strings.Contains(in.Error, "802.1Q") || !strings.Contains(in.Error, "vxlan") {
		t.Fatalf("Held with %q; want it to say the kernel lacks 802.1Q and that vxlan works", in.Error)
	}
	c.nothingLeft(t, "h1", in.ID)
}
