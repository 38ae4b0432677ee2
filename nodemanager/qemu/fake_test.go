package qemu

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp/qmptest"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Driver logic against the fake QMP server: no QEMU needed. A fake guest
// is a sleep process whose argv[0] is the fake's socket path (so the
// driver's pid checks accept it) plus a state file; Recover adopts it.

type fakeGuest struct {
	srv  *qmptest.Server
	cmd  *exec.Cmd
	id   int64
	gone chan struct{}
}

func fakeDriver(t *testing.T, mod ...func(*Config)) *Driver {
	t.Helper()
	cfg := Config{RunDir: shortDir(t), QemuBin: "/bin/true", Accel: "tcg"}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// newFake starts a fake guest for instance id whose QEMU reports status.
func newFake(t *testing.T, d *Driver, id int64, status string) *fakeGuest {
	t.Helper()
	srv := qmptest.New(t)
	f := &fakeGuest{srv: srv, id: id, gone: make(chan struct{})}
	srv.Return("query-status", map[string]any{"status": status, "running": status == "running"})
	srv.Return("migrate-set-capabilities", nil)
	srv.Return("migrate-set-parameters", nil)
	srv.Return("cont", nil)
	srv.Handle("stop", func(qmptest.Request) qmptest.Reply {
		return qmptest.Reply{Before: []qmptest.Event{{Name: "STOP"}}}
	})
	srv.Handle("quit", func(qmptest.Request) qmptest.Reply {
		f.kill()
		return qmptest.Reply{Close: true, // QEMU exits: its socket closes
			Before: []qmptest.Event{{Name: "SHUTDOWN", Data: map[string]any{"guest": false, "reason": "host-qmp-quit"}}}}
	})
	f.cmd = &exec.Cmd{Path: "/bin/sleep", Args: []string{srv.Path(), "600"}}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.cmd.Wait(); close(f.gone) }()
	t.Cleanup(f.kill)
	p := guestDir(d.cfg.RunDir, id)
	os.MkdirAll(p.dir, 0o700)
	st := stateFile{Version: 1, InstanceID: id, PID: f.cmd.Process.Pid, QMPSocket: srv.Path(), Accel: "tcg",
		Spec: vmm.Spec{InstanceID: id, Cores: 1, MemoryMiB: 128}, SerialLog: p.serial(), CDROM: true}
	if ps, err := readStat(st.PID); err == nil {
		st.StartTicks = ps.StartTicks
	}
	if err := writeJSONAtomic(p.state(), st); err != nil {
		t.Fatal(err)
	}
	infos, err := d.Recover(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, inf := range infos {
		if inf.InstanceID == id && inf.State == stateOf(status) {
			return f
		}
	}
	t.Fatalf("fake guest not recovered: %+v", infos)
	return nil
}

// kill ends the fake QEMU: the process, then (like a real one) its socket.
func (f *fakeGuest) kill() {
	f.cmd.Process.Kill()
	<-f.gone
	f.srv.CloseConn()
}

func noEvent(t *testing.T, d *Driver, wait time.Duration) {
	t.Helper()
	select {
	case ev := <-d.Events():
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(wait):
	}
}

func TestFakeCallsAndEvents(t *testing.T) {
	d := fakeDriver(t)
	f := newFake(t, d, 1, "running")
	f.srv.Return("query-cpus-fast", []map[string]any{{"cpu-index": 0, "thread-id": 4242, "qom-path": "/machine/cpu0"}})
	ctx := ctxFor(t, 10*time.Second)

	_, err := d.Call(ctx, 1, "format-disk")
	var ce *CallError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "startVnc") {
		t.Fatalf("unknown arg: %v", err)
	}
	if _, err := d.Call(ctx, 1, "info:extra"); !errors.As(err, &ce) {
		t.Fatalf("info with a parameter: %v", err)
	}
	if _, err := d.Call(ctx, 2, "info"); !errors.As(err, new(vmm.ErrNoSuchGuest)) {
		t.Fatalf("unknown guest: %v", err)
	}
	out, err := d.Call(ctx, 1, "INFO")
	if err != nil || !strings.Contains(out, "host threads 4242") || !strings.Contains(out, "qemu 7.2.0") {
		t.Fatalf("info: %q %v", out, err)
	}
	if _, err := d.Call(ctx, 1, "changeCdrom:x.iso"); err == nil || !strings.Contains(err.Error(), "ImageDir") {
		t.Fatalf("changeCdrom without ImageDir: %v", err)
	}

	// Our own pause is not an event; a STOP the guest caused is.
	if err := d.Pause(ctx, 1); err != nil {
		t.Fatal(err)
	}
	noEvent(t, d, 100*time.Millisecond)
	if err := d.Unpause(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.srv.Emit("STOP", nil)
	if ev := waitEvent(t, d, 1, vmm.StatePaused, 5*time.Second); ev.Reason != "paused" {
		t.Fatalf("event %+v", ev)
	}
	f.srv.Emit("RESUME", nil)
	waitEvent(t, d, 1, vmm.StateRunning, 5*time.Second)
	if got := f.srv.Count("stop") + f.srv.Count("cont"); got != 2 {
		t.Fatalf("stop+cont sent %d times", got)
	}
}

func TestFakeReset(t *testing.T) {
	d := fakeDriver(t)
	f := newFake(t, d, 1, "running")
	var actions []string
	var mu sync.Mutex
	f.srv.Handle("set-action", func(r qmptest.Request) qmptest.Reply {
		mu.Lock()
		actions = append(actions, string(r.Arguments))
		mu.Unlock()
		return qmptest.Reply{}
	})
	reset := qmptest.Event{Name: "RESET", Data: map[string]any{"guest": true, "reason": "guest-reset"}}
	f.srv.Handle("system_reset", func(qmptest.Request) qmptest.Reply {
		return qmptest.Reply{Before: []qmptest.Event{{Name: "RESET", Data: map[string]any{"guest": false}}},
			After: []qmptest.Event{reset, reset}}
	})
	start := time.Now()
	if out, err := d.Call(ctxFor(t, 10*time.Second), 1, "reset"); err != nil || out != "reset" {
		t.Fatalf("reset: %q %v", out, err)
	}
	if took := time.Since(start); took < resetQuiet || took > resetSettleMax {
		t.Fatalf("reset returned after %v", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(actions) != 2 || !strings.Contains(actions[0], `"reset"`) || !strings.Contains(actions[1], `"shutdown"`) {
		t.Fatalf("set-action calls %v", actions)
	}
}

// payload is a migration stream stand-in: compressible and not.
func payload(n int) []byte {
	b := make([]byte, n)
	copy(b, "QEVM")
	if n/2 > 4 {
		rand.New(rand.NewSource(1)).Read(b[4 : n/2])
	}
	return b
}

func TestFakeSuspend(t *testing.T) {
	d := fakeDriver(t)
	f := newFake(t, d, 1, "running")
	data := payload(3<<20 + 12345)
	var done atomic.Bool
	f.srv.Handle("migrate", func(r qmptest.Request) qmptest.Reply {
		if !strings.Contains(string(r.Arguments), "fd:"+suspendFD) {
			return qmptest.Reply{Class: "GenericError", Desc: "unexpected uri " + string(r.Arguments)}
		}
		fd := f.srv.FD(suspendFD)
		go func() {
			fd.Write(data)
			fd.Close()
			done.Store(true)
		}()
		return qmptest.Reply{}
	})
	f.srv.Handle("query-migrate", func(qmptest.Request) qmptest.Reply {
		if done.Load() {
			return qmptest.Reply{Return: map[string]any{"status": "completed", "total-time": 7}}
		}
		return qmptest.Reply{Return: map[string]any{"status": "active"}}
	})
	file := filepath.Join(shortDir(t), "s.gz")
	ctx := ctxFor(t, 20*time.Second)
	st, err := d.Suspend(ctx, 1, file)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(file)
	if st.Bytes != fi.Size() || st.Total <= 0 || st.Downtime != st.Total {
		t.Fatalf("stats %+v, file %d bytes", st, fi.Size())
	}
	got := gunzipFile(t, file)
	if !bytes.Equal(got, data) {
		t.Fatalf("file holds %d bytes, not the %d QEMU sent", len(got), len(data))
	}
	meta, ok, err := readSuspendMeta(file)
	if !ok || err != nil || meta.Paused || meta.StreamBytes != int64(len(data)) || len(meta.GzipMembers) != 4 || meta.MemoryMiB != 128 {
		t.Fatalf("sidecar %+v %v %v", meta, ok, err)
	}
	if ev := waitEvent(t, d, 1, vmm.StateExited, 5*time.Second); ev.Reason != "suspended" {
		t.Fatalf("exit %+v", ev)
	}
	if f.srv.Count("stop") != 1 || f.srv.Count("quit") != 1 {
		t.Fatalf("stop %d, quit %d", f.srv.Count("stop"), f.srv.Count("quit"))
	}
	if _, err := os.Stat(filepath.Join(d.cfg.RunDir, "1")); !os.IsNotExist(err) {
		t.Fatal("run dir kept")
	}
}

// A failed migration leaves no file, continues the guest and ends nothing.
func TestFakeSuspendFails(t *testing.T) {
	d := fakeDriver(t)
	f := newFake(t, d, 1, "running")
	f.srv.Handle("migrate", func(qmptest.Request) qmptest.Reply {
		f.srv.FD(suspendFD).Close()
		return qmptest.Reply{}
	})
	f.srv.Return("query-migrate", map[string]any{"status": "failed", "error-desc": "disk full (fake)"})
	file := filepath.Join(shortDir(t), "s")
	_, err := d.Suspend(ctxFor(t, 10*time.Second), 1, file)
	if err == nil || !strings.Contains(err.Error(), "disk full (fake)") {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{file, file + ".part", file + ".json"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists", p)
		}
	}
	if f.srv.Count("cont") != 1 {
		t.Fatal("guest not continued")
	}
	if inf, _ := d.Info(ctxFor(t, time.Second), 1); inf.State != vmm.StateRunning {
		t.Fatalf("state %s", inf.State)
	}
	noEvent(t, d, 100*time.Millisecond)
	for _, bad := range []string{"relative.gz", "/no/such/dir/x.gz", "/tmp/"} {
		if _, err := d.Suspend(ctxFor(t, time.Second), 1, bad); !errors.As(err, new(*OptionError)) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestFakeResume(t *testing.T) {
	for _, paused := range []bool{false, true} {
		d := fakeDriver(t)
		f := newFake(t, d, 1, "inmigrate")
		data := payload(2<<20 + 7)
		var got bytes.Buffer
		var done atomic.Bool
		f.srv.Handle("migrate-incoming", func(qmptest.Request) qmptest.Reply {
			fd := f.srv.FD(resumeFD)
			go func() {
				io.Copy(&got, fd)
				fd.Close()
				done.Store(true)
			}()
			return qmptest.Reply{}
		})
		f.srv.Handle("query-migrate", func(qmptest.Request) qmptest.Reply {
			if done.Load() {
				return qmptest.Reply{Return: map[string]any{"status": "completed"}}
			}
			return qmptest.Reply{Return: map[string]any{"status": "active"}}
		})
		file := filepath.Join(shortDir(t), "r.gz")
		var buf bytes.Buffer
		_, members, err := gzipParallel(&buf, bytes.NewReader(data), gzip.BestSpeed, 2)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(file, buf.Bytes(), 0o600)
		writeJSONAtomic(file+".json", suspendMeta{MemoryMiB: 128, Paused: paused, GzipMembers: members})
		ctx := ctxFor(t, 10*time.Second)
		// The stream QEMU loads says paused (suspend stops the guest first).
		f.srv.Return("query-status", map[string]any{"status": "paused", "running": false})
		st, err := d.Resume(ctx, 1, file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), data) || st.Bytes != int64(buf.Len()) {
			t.Fatalf("QEMU got %d bytes of %d; stats %+v", got.Len(), len(data), st)
		}
		want, conts := vmm.StateRunning, 1
		if paused {
			want, conts = vmm.StatePaused, 0
		}
		if inf, _ := d.Info(ctx, 1); inf.State != want || f.srv.Count("cont") != conts {
			t.Fatalf("paused=%v: state %s, cont sent %d times", paused, inf.State, f.srv.Count("cont"))
		}
	}
}

func TestFakeResumeChecks(t *testing.T) {
	d := fakeDriver(t)
	newFake(t, d, 1, "running")
	newFake(t, d, 2, "inmigrate")
	file := filepath.Join(shortDir(t), "r")
	os.WriteFile(file, []byte("QEVM"), 0o600)
	ctx := ctxFor(t, 10*time.Second)
	if _, err := d.Resume(ctx, 1, file); !errors.Is(err, ErrBadState) {
		t.Fatalf("resume of a running guest: %v", err)
	}
	if _, err := d.ListenMigration(ctx, 1, "127.0.0.1:0"); !errors.Is(err, ErrBadState) {
		t.Fatalf("listen on a running guest: %v", err)
	}
	writeJSONAtomic(file+".json", suspendMeta{MemoryMiB: 512})
	if _, err := d.Resume(ctx, 2, file); err == nil || !strings.Contains(err.Error(), "512 MiB") {
		t.Fatalf("memory mismatch: %v", err)
	}
	if _, err := d.Migrate(ctx, 1, "no-port", 0, 0); !errors.As(err, new(*OptionError)) {
		t.Fatalf("bad target: %v", err)
	}
}

// Exits of a guest that is not our child are found through /proc; the
// reason comes from QEMU's SHUTDOWN event when there was one.
func TestFakeExitReasons(t *testing.T) {
	d := fakeDriver(t)
	f1 := newFake(t, d, 1, "running")
	f2 := newFake(t, d, 2, "running")
	f1.srv.Emit("SHUTDOWN", map[string]any{"guest": true, "reason": "guest-shutdown"})
	time.Sleep(50 * time.Millisecond)
	f1.kill()
	if ev := waitEvent(t, d, 1, vmm.StateExited, 5*time.Second); ev.Reason != "shutdown" {
		t.Fatalf("reason %q", ev.Reason)
	}
	f2.kill()
	if ev := waitEvent(t, d, 2, vmm.StateExited, 5*time.Second); !strings.HasPrefix(ev.Reason, "crashed") {
		t.Fatalf("reason %q", ev.Reason)
	}
	if list, _ := d.List(ctxFor(t, time.Second)); len(list) != 0 {
		t.Fatalf("exited guests listed: %+v", list)
	}
	if err := d.Destroy(ctxFor(t, time.Second), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Info(ctxFor(t, time.Second), 2); err == nil {
		t.Fatal("destroyed guest still known")
	}
}

func gunzipFile(t *testing.T, file string) []byte {
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
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A recovered guest whose monitor does not answer is still taken over;
// calls fail with ErrNoMonitor until the driver's redial succeeds.
func TestFakeRecoverWithoutMonitor(t *testing.T) {
	d := fakeDriver(t)
	sock := filepath.Join(shortDir(t), "qmp.sock")
	cmd := &exec.Cmd{Path: "/bin/sleep", Args: []string{sock, "600"}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	p := guestDir(d.cfg.RunDir, 9)
	os.MkdirAll(p.dir, 0o700)
	writeJSONAtomic(p.state(), stateFile{InstanceID: 9, PID: cmd.Process.Pid, QMPSocket: sock,
		Spec: vmm.Spec{InstanceID: 9, MemoryMiB: 128}})
	ctx := ctxFor(t, 10*time.Second)
	infos, err := d.Recover(ctx)
	if err != nil || len(infos) != 1 || infos[0].State != vmm.StateRunning {
		t.Fatalf("recover: %+v %v", infos, err)
	}
	if err := d.Pause(ctx, 9); !errors.Is(err, ErrNoMonitor) {
		t.Fatalf("pause without monitor: %v", err)
	}
	srv := qmptest.NewAt(t, sock)
	srv.Return("query-status", map[string]any{"status": "paused", "running": false})
	srv.Return("migrate-set-capabilities", nil)
	srv.Return("cont", nil)
	for {
		err := d.Unpause(ctx, 9)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoMonitor) || ctx.Err() != nil {
			t.Fatalf("unpause: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if srv.Count("cont") != 1 {
		t.Fatal("cont not sent")
	}
}
