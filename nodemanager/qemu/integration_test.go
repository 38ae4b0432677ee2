package qemu

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// TestGuestLifecycle drives one guest through everything under the
// accelerator detected here (TCG on this machine): start, pause,
// vmmSpecificCalls, suspend and resume (running and paused), live
// migration to a second driver, shutdown and destroy.
func TestGuestLifecycle(t *testing.T) {
	needQEMU(t)
	const id = 101
	spec, real := guestSpec(t, id)
	isoDir := shortDir(t)
	os.WriteFile(filepath.Join(isoDir, "test.iso"), make([]byte, 64<<10), 0o600)
	d := testDriver(t, shortDir(t), func(c *Config) { c.ImageDir = isoDir })
	ctx := ctxFor(t, 110*time.Second)
	accel, why := d.Accel()
	t.Logf("accelerator %s: %s", accel, why)

	start := time.Now()
	inf, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started (QMP up) in %v", time.Since(start).Round(time.Millisecond))
	if inf.State != vmm.StateRunning || inf.VMID == "" || inf.Accel != accel {
		t.Fatalf("start info %+v", inf)
	}
	if again, err := d.Start(ctx, spec); err != nil || again.VMID != inf.VMID {
		t.Fatalf("second Start: %+v %v", again, err)
	}
	if real {
		waitSerial(t, inf.SerialLog, "GUEST-READY", 1, 60*time.Second)
		t.Logf("guest ready %v after Start", time.Since(start).Round(time.Millisecond))
	}
	inf, _ = d.Info(ctx, id)
	if inf.RSSBytes < 10<<20 || inf.CPUSeconds <= 0 {
		t.Fatalf("info without figures: %+v", inf)
	}

	t.Run("pause-unpause", func(t *testing.T) {
		for i := 0; i < 2; i++ { // idempotent
			if err := d.Pause(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if s := qemuStatus(t, d, id); s != "paused" {
			t.Fatalf("qemu status %s", s)
		}
		if inf, _ := d.Info(ctx, id); inf.State != vmm.StatePaused {
			t.Fatalf("state %s", inf.State)
		}
		if err := d.Unpause(ctx, id); err != nil {
			t.Fatal(err)
		}
		if s := qemuStatus(t, d, id); s != "running" {
			t.Fatalf("qemu status %s", s)
		}
	})

	t.Run("calls", func(t *testing.T) { testCalls(t, d, id, real) })

	dir := shortDir(t)
	file := filepath.Join(dir, "101.gz")
	t.Run("suspend-resume-running", func(t *testing.T) {
		st, err := d.Suspend(ctx, id, file)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("suspend (running, gzip): total %v, file %d bytes", st.Total, st.Bytes)
		ev := waitEvent(t, d, id, vmm.StateExited, 10*time.Second)
		if ev.Reason != "suspended" {
			t.Fatalf("exit reason %q", ev.Reason)
		}
		checkGzip(t, file)
		if _, err := os.Stat(file + ".part"); !os.IsNotExist(err) {
			t.Fatalf(".part left behind: %v", err)
		}
		if _, err := os.Stat(filepath.Join(d.cfg.RunDir, "101")); !os.IsNotExist(err) {
			t.Fatalf("run dir left behind: %v", err)
		}
		resume(t, d, spec, file, vmm.StateRunning)
	})

	var before [32]byte
	plain := filepath.Join(dir, "101.state")
	t.Run("suspend-resume-paused", func(t *testing.T) {
		if err := d.Pause(ctx, id); err != nil {
			t.Fatal(err)
		}
		before = ramHash(t, d, id)
		st, err := d.Suspend(ctx, id, plain)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("suspend (paused, plain): total %v, file %d bytes", st.Total, st.Bytes)
		waitEvent(t, d, id, vmm.StateExited, 10*time.Second)
		var meta suspendMeta
		b, _ := os.ReadFile(plain + ".json")
		if json.Unmarshal(b, &meta) != nil || !meta.Paused || meta.MemoryMiB != 128 || meta.FileBytes != st.Bytes {
			t.Fatalf("sidecar %s", b)
		}
		resume(t, d, spec, plain, vmm.StatePaused)
		if after := ramHash(t, d, id); after != before {
			t.Fatal("guest RAM differs after suspend and resume")
		}
		if err := d.Unpause(ctx, id); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("live-migration", func(t *testing.T) {
		d2 := testDriver(t, shortDir(t))
		in := spec
		in.Incoming = "defer"
		if _, err := d2.Start(ctx, in); err != nil {
			t.Fatal(err)
		}
		addr, err := d2.ListenMigration(ctx, id, "127.0.0.1:0")
		if err != nil || strings.HasSuffix(addr, ":0") {
			t.Fatalf("listen: %q %v", addr, err)
		}
		if again, _ := d2.ListenMigration(ctx, id, "127.0.0.1:0"); again != addr {
			t.Fatalf("second listen %q != %q", again, addr)
		}
		// A target that is not there fails the migration; the source runs on.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		closed := ln.Addr().String()
		ln.Close()
		if _, err := d.Migrate(ctx, id, closed, 0, 0); err == nil {
			t.Fatal("migration to a closed port worked")
		} else {
			t.Logf("migration to a closed port: %v", err)
		}
		if s := qemuStatus(t, d, id); s != "running" {
			t.Fatalf("source after a failed migration: %s", s)
		}
		if inf, _ := d.Info(ctx, id); inf.State != vmm.StateRunning {
			t.Fatalf("source state %s", inf.State)
		}
		st, err := d.Migrate(ctx, id, addr, 50*time.Millisecond, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("live migration: total %v, downtime %v, %d bytes", st.Total, st.Downtime, st.Bytes)
		if st.Total <= 0 || st.Bytes <= 0 {
			t.Fatalf("stats %+v", st)
		}
		if ev := waitEvent(t, d, id, vmm.StateExited, 10*time.Second); ev.Reason != "migrated" {
			t.Fatalf("source exit %q", ev.Reason)
		}
		ev := waitEvent(t, d2, id, vmm.StateRunning, 10*time.Second)
		t.Logf("target event: %+v", ev)
		if s := qemuStatus(t, d2, id); s != "running" {
			t.Fatalf("target status %s", s)
		}
		if _, err := d.Info(ctx, id); err != nil {
			t.Fatalf("source tombstone: %v", err)
		}

		start := time.Now()
		if err := d2.Shutdown(ctx, id, time.Second); err != nil {
			t.Fatal(err)
		}
		ev = waitEvent(t, d2, id, vmm.StateExited, 5*time.Second)
		t.Logf("shutdown took %v: %s", time.Since(start).Round(time.Millisecond), ev.Reason)
		if !strings.HasPrefix(ev.Reason, "shutdown") {
			t.Fatalf("reason %q", ev.Reason)
		}
		for i := 0; i < 2; i++ {
			if err := d2.Destroy(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if inf, err := d2.Info(ctx, id); err == nil {
			t.Fatalf("info after destroy: %+v", inf)
		}
	})
}

func resume(t *testing.T, d *Driver, spec vmm.Spec, file string, want vmm.State) {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	in := spec
	in.Incoming = "defer"
	inf, err := d.Start(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if inf.State != vmm.StateIncoming {
		t.Fatalf("incoming guest is %s", inf.State)
	}
	if err := d.Unpause(ctx, spec.InstanceID); !errors.Is(err, ErrBadState) {
		t.Fatalf("unpause while incoming: %v", err)
	}
	st, err := d.Resume(ctx, spec.InstanceID, file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resume from %s: total %v", filepath.Base(file), st.Total)
	if inf, _ := d.Info(ctx, spec.InstanceID); inf.State != want {
		t.Fatalf("after resume: %s, want %s", inf.State, want)
	}
	wantQ := map[vmm.State]string{vmm.StateRunning: "running", vmm.StatePaused: "paused"}[want]
	if s := qemuStatus(t, d, spec.InstanceID); s != wantQ {
		t.Fatalf("qemu status %s, want %s", s, wantQ)
	}
}

func checkGzip(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(zr, head); err != nil || string(head) != "QEVM" {
		t.Fatalf("stream starts %q (%v)", head, err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatalf("gzip stream: %v", err)
	}
}

// ramHash dumps the guest's RAM with pmemsave (the guest must be paused).
func ramHash(t *testing.T, d *Driver, id int64) [32]byte {
	t.Helper()
	g, _ := d.mustGuest(id)
	mon, _ := g.monitor()
	f := filepath.Join(shortDir(t), "ram")
	ctx := ctxFor(t, 30*time.Second)
	args := map[string]any{"val": 0, "size": int64(g.st.Spec.MemoryMiB) << 20, "filename": f}
	if err := mon.Run(ctx, "pmemsave", args, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f)
	if err != nil || len(b) != g.st.Spec.MemoryMiB<<20 {
		t.Fatalf("ram dump %d bytes, %v", len(b), err)
	}
	return sha256.Sum256(b)
}

func testCalls(t *testing.T, d *Driver, id int64, real bool) {
	ctx := ctxFor(t, 60*time.Second)
	_, err := d.Call(ctx, id, "bogus")
	var ce *CallError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "startVnc") || !strings.Contains(err.Error(), "changeCdrom:ISO") {
		t.Fatalf("unknown call: %v", err)
	}
	out, err := d.Call(ctx, id, "info")
	if err != nil || !strings.Contains(out, "state Running (qemu running)") || !strings.Contains(out, "1 vCPUs") {
		t.Fatalf("info: %q %v", out, err)
	}
	t.Logf("info: %s", out)

	out, err = d.Call(ctx, id, "startVnc")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("startVnc: %s", out)
	addr := strings.Fields(strings.TrimPrefix(out, "VNC running on "))[0]
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	hello := make([]byte, 12)
	if _, err := io.ReadFull(c, hello); err != nil || !bytes.HasPrefix(hello, []byte("RFB 003.")) {
		t.Fatalf("vnc greeting %q %v", hello, err)
	}
	c.Close()
	if out, err := d.Call(ctx, id, "stopVnc"); err != nil || out != "VNC halted" {
		t.Fatalf("stopVnc: %q %v", out, err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("vnc relay still listening")
	}

	out, err = d.Call(ctx, id, "startConsole")
	if err != nil || !strings.Contains(out, "console listening on") {
		t.Fatalf("startConsole: %q %v", out, err)
	}
	t.Logf("startConsole: %s", out)
	if _, err := d.Call(ctx, id, "stopConsole"); err != nil {
		t.Fatal(err)
	}

	out, err = d.Call(ctx, id, "changeCdrom:test.iso")
	if err != nil || !strings.Contains(out, "test.iso") {
		t.Fatalf("changeCdrom: %q %v", out, err)
	}
	for _, bad := range []string{"changeCdrom:../etc/passwd", "changeCdrom:/etc/passwd", "changeCdrom:missing.iso"} {
		if _, err := d.Call(ctx, id, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}

	inf, _ := d.Info(ctx, id)
	start := time.Now()
	if out, err := d.Call(ctx, id, "reset"); err != nil || out != "reset" {
		t.Fatalf("reset: %q %v", out, err)
	}
	t.Logf("reset took %v", time.Since(start).Round(time.Millisecond))
	if after, err := d.Info(ctx, id); err != nil || after.State != vmm.StateRunning || after.VMID != inf.VMID {
		t.Fatalf("after reset: %+v %v", after, err)
	}
	if real {
		waitSerial(t, inf.SerialLog, "GUEST-READY", 2, 60*time.Second)
	}
	if s := qemuStatus(t, d, id); s != "running" {
		t.Fatalf("status after reset %s", s)
	}
}

// A bad disk path fails Start with QEMU's own message and leaves no
// process and no run directory.
func TestStartBadDisk(t *testing.T) {
	needQEMU(t)
	runDir := shortDir(t)
	d := testDriver(t, runDir)
	spec := vmm.Spec{InstanceID: 7, Cores: 1, MemoryMiB: 64,
		Disks: []vmm.Disk{{Path: "/nonexistent/tashi/disk.qcow2", Format: "qcow2"}}}
	_, err := d.Start(ctxFor(t, 30*time.Second), spec)
	if err == nil {
		t.Fatal("start with a missing disk worked")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "/nonexistent/tashi/disk.qcow2") || !strings.Contains(err.Error(), "No such file") {
		t.Fatalf("error lacks QEMU's message: %v", err)
	}
	if _, err := os.Stat(filepath.Join(runDir, "7")); !os.IsNotExist(err) {
		t.Fatalf("run dir left: %v", err)
	}
	if processWithSocket(filepath.Join(runDir, "7", "qmp.sock")) {
		t.Fatal("a QEMU process was left running")
	}
	if _, err := d.Info(context.Background(), 7); err == nil {
		t.Fatal("failed guest is known")
	}
	// Bad options never reach QEMU and name the field.
	spec.Disks[0].Format = "vmdk"
	var oe *OptionError
	if _, err := d.Start(context.Background(), spec); !errors.As(err, &oe) || oe.Field != "Disks[0].Format" {
		t.Fatalf("bad format: %v", err)
	}
}

// kill -9 of a guest's QEMU is reported as an Exited event; the logs
// stay until Destroy.
func TestKilledGuestEmitsExited(t *testing.T) {
	needQEMU(t)
	spec, _ := guestSpec(t, 102)
	d := testDriver(t, shortDir(t))
	ctx := ctxFor(t, 60*time.Second)
	inf, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := d.mustGuest(102)
	if b, err := os.ReadFile(g.p.qmpLog()); err != nil || !bytes.Contains(b, []byte(`"qmp_capabilities"`)) {
		t.Fatalf("debug transcript: %.200s %v", b, err)
	}
	if err := g.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, d, 102, vmm.StateExited, 10*time.Second)
	if ev.Reason != "killed: killed" {
		t.Fatalf("reason %q", ev.Reason)
	}
	if got, err := d.Info(ctx, 102); err != nil || got.State != vmm.StateExited || got.ExitReason != ev.Reason {
		t.Fatalf("info after kill: %+v %v", got, err)
	}
	if _, err := os.Stat(inf.SerialLog); err != nil {
		t.Fatalf("serial log not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.cfg.RunDir, "102", stateName)); !os.IsNotExist(err) {
		t.Fatal("state file of a dead guest kept")
	}
	if err := d.Destroy(ctx, 102); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.cfg.RunDir, "102")); !os.IsNotExist(err) {
		t.Fatal("run dir kept after destroy")
	}
}

// A second driver on the same run dir (a restarted node manager) takes
// over a running guest, drives it, and notices its death by /proc.
func TestRecoverAfterRestart(t *testing.T) {
	needQEMU(t)
	runDir := shortDir(t)
	spec, _ := guestSpec(t, 103)
	ctx := ctxFor(t, 60*time.Second)
	d1, err := New(Config{RunDir: runDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inf, err := d1.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	st := d1.lookup(103).st
	t.Cleanup(func() { signalOurs(st.PID, st.QMPSocket, st.StartTicks, 9) }) // if the test stops early
	d1.Close()                                                               // the node manager dies; the guest keeps running

	// A dead guest's leftovers are cleaned up and reported.
	dead := guestDir(runDir, 104)
	os.MkdirAll(dead.dir, 0o700)
	writeJSONAtomic(dead.state(), stateFile{InstanceID: 104, PID: 999999999, QMPSocket: dead.qmp()})

	d2 := testDriver(t, runDir)
	got, err := d2.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[int64]vmm.Info{}
	for _, g := range got {
		states[g.InstanceID] = g
	}
	if g := states[103]; g.State != vmm.StateRunning || g.VMID != inf.VMID {
		t.Fatalf("recovered %+v", states)
	}
	if g := states[104]; g.State != vmm.StateExited || !strings.Contains(g.ExitReason, "restart") {
		t.Fatalf("dead guest reported as %+v", g)
	}
	if _, err := os.Stat(dead.dir); !os.IsNotExist(err) {
		t.Fatal("dead guest's run dir kept")
	}
	if again, _ := d2.Recover(ctx); len(again) != 1 {
		t.Fatalf("second Recover: %+v", again)
	}
	if err := d2.Pause(ctx, 103); err != nil {
		t.Fatal(err)
	}
	if err := d2.Unpause(ctx, 103); err != nil {
		t.Fatal(err)
	}
	g, _ := d2.mustGuest(103)
	if g.cmd != nil {
		t.Fatal("recovered guest claims to be a child")
	}
	if err := signalOurs(g.st.PID, g.st.QMPSocket, g.st.StartTicks, 9); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, d2, 103, vmm.StateExited, 10*time.Second)
	t.Logf("exit of a recovered guest: %s", ev.Reason)
	if !strings.HasPrefix(ev.Reason, "crashed") {
		t.Fatalf("reason %q", ev.Reason)
	}
}
