package simvmm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tashi-go/tashi/nodemanager/simvmm"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

var ctx = context.Background()

// newSim is a Sim without latency on a table of its own; it is
// forgotten at the end of the test.
func newSim(t *testing.T, opts ...func(*simvmm.Config)) (*simvmm.Sim, simvmm.Config) {
	t.Helper()
	cfg := simvmm.Config{RunDir: t.Name() + "/" + fmt.Sprint(time.Now().UnixNano()), Latency: &simvmm.Latency{}}
	for _, o := range opts {
		o(&cfg)
	}
	s := simvmm.New(cfg)
	t.Cleanup(func() { s.Close(); simvmm.Forget(cfg.RunDir) })
	return s, cfg
}

func spec(id int64) vmm.Spec {
	return vmm.Spec{InstanceID: id, Name: fmt.Sprintf("vm%d", id), Cores: 1, MemoryMiB: 64}
}

func incoming(id int64) vmm.Spec {
	s := spec(id)
	s.Incoming = "defer"
	return s
}

func mustStart(t *testing.T, s *simvmm.Sim, sp vmm.Spec) vmm.Info {
	t.Helper()
	inf, err := s.Start(ctx, sp)
	if err != nil {
		t.Fatalf("start %d: %v", sp.InstanceID, err)
	}
	return inf
}

func state(t *testing.T, s *simvmm.Sim, id int64) vmm.State {
	t.Helper()
	inf, err := s.Info(ctx, id)
	if err != nil {
		t.Fatalf("info %d: %v", id, err)
	}
	return inf.State
}

// nextEvent waits for the next event of s.
func nextEvent(t *testing.T, s *simvmm.Sim) vmm.Event {
	t.Helper()
	select {
	case ev := <-s.Events():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return vmm.Event{}
}

func noEvent(t *testing.T, s *simvmm.Sim) {
	t.Helper()
	select {
	case ev := <-s.Events():
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

func TestLifecycle(t *testing.T) {
	s, _ := newSim(t)
	inf := mustStart(t, s, spec(1))
	if inf.State != vmm.StateRunning || inf.VMID == "" || inf.Accel != "sim" || inf.RSSBytes != 64<<20 {
		t.Fatalf("started guest: %+v", inf)
	}
	again := mustStart(t, s, spec(1))
	if again.VMID != inf.VMID {
		t.Fatalf("a second Start made a new guest: %s then %s", inf.VMID, again.VMID)
	}
	steps := []struct {
		name string
		do   func() error
		want vmm.State
	}{
		{"pause", func() error { return s.Pause(ctx, 1) }, vmm.StatePaused},
		{"pause again", func() error { return s.Pause(ctx, 1) }, vmm.StatePaused},
		{"unpause", func() error { return s.Unpause(ctx, 1) }, vmm.StateRunning},
		{"unpause again", func() error { return s.Unpause(ctx, 1) }, vmm.StateRunning},
		{"shutdown", func() error { return s.Shutdown(ctx, 1, time.Second) }, vmm.StateExited},
		{"shutdown again", func() error { return s.Shutdown(ctx, 1, time.Second) }, vmm.StateExited},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := state(t, s, 1); got != st.want {
			t.Fatalf("after %s: %s, want %s", st.name, got, st.want)
		}
	}
	if ev := nextEvent(t, s); ev.InstanceID != 1 || ev.State != vmm.StateExited || ev.Reason != "shutdown" {
		t.Fatalf("event %+v, want Exited shutdown", ev)
	}
	noEvent(t, s)
	if inf, _ := s.Info(ctx, 1); inf.ExitReason != "shutdown" {
		t.Fatalf("tombstone: %+v", inf)
	}
	if err := s.Destroy(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Info(ctx, 1); !errors.As(err, new(vmm.ErrNoSuchGuest)) {
		t.Fatalf("after destroy Info says %v, want ErrNoSuchGuest", err)
	}
	if err := s.Destroy(ctx, 1); err != nil {
		t.Fatalf("destroy is idempotent: %v", err)
	}
	if err := s.Shutdown(ctx, 1, time.Second); !errors.As(err, new(vmm.ErrNoSuchGuest)) {
		t.Fatalf("shutdown of an unknown guest: %v", err)
	}
	if got := s.Starts()[1]; got != 1 {
		t.Fatalf("Starts()[1] = %d, want 1", got)
	}
}

func TestWrongStates(t *testing.T) {
	s, _ := newSim(t)
	mustStart(t, s, incoming(1))
	mustStart(t, s, spec(2))
	cases := []struct {
		name string
		err  error
	}{
		{"pause an incoming guest", s.Pause(ctx, 1)},
		{"suspend an incoming guest", func() error { _, err := s.Suspend(ctx, 1, filepath.Join(t.TempDir(), "x")); return err }()},
		{"migrate an incoming guest", func() error { _, err := s.Migrate(ctx, 1, "127.0.0.1:1", 0, 0); return err }()},
		{"resume a running guest", func() error { _, err := s.Resume(ctx, 2, "/nonexistent"); return err }()},
		{"listen on a running guest", func() error { _, err := s.ListenMigration(ctx, 2, "127.0.0.1:0"); return err }()},
	}
	for _, c := range cases {
		if !errors.Is(c.err, simvmm.ErrBadState) {
			t.Errorf("%s: %v, want ErrBadState", c.name, c.err)
		}
	}
	if err := s.Pause(ctx, 9); !errors.As(err, new(vmm.ErrNoSuchGuest)) {
		t.Errorf("pause an unknown guest: %v", err)
	}
	if _, err := s.Call(ctx, 2, "bogus"); err == nil {
		t.Error("an unknown call was accepted")
	}
	if out, err := s.Call(ctx, 2, "info"); err != nil || out == "" {
		t.Errorf("call info: %q %v", out, err)
	}
	if _, err := s.Start(ctx, vmm.Spec{InstanceID: 3}); err == nil {
		t.Error("a guest without cores and memory was started")
	}
}

func TestSuspendResume(t *testing.T) {
	for _, name := range []string{"7_vm7.gz", "7_vm7"} {
		for _, paused := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/paused=%v", name, paused), func(t *testing.T) {
				s, _ := newSim(t)
				file := filepath.Join(t.TempDir(), name)
				mustStart(t, s, spec(7))
				if paused {
					if err := s.Pause(ctx, 7); err != nil {
						t.Fatal(err)
					}
				}
				st, err := s.Suspend(ctx, 7, file)
				if err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(file); err != nil || fi.Size() != st.Bytes || st.Bytes == 0 {
					t.Fatalf("state file: %v, stats %+v", err, st)
				}
				if ev := nextEvent(t, s); ev.State != vmm.StateExited || ev.Reason != "suspended" {
					t.Fatalf("event %+v", ev)
				}
				if l, _ := s.List(ctx); len(l) != 0 {
					t.Fatalf("a suspended guest is listed: %+v", l)
				}
				mustStart(t, s, incoming(7))
				if _, err := s.Resume(ctx, 7, file); err != nil {
					t.Fatal(err)
				}
				want := vmm.StateRunning
				if paused {
					want = vmm.StatePaused
				}
				if got := state(t, s, 7); got != want {
					t.Fatalf("resumed guest is %s, want %s", got, want)
				}
			})
		}
	}
}

func TestResumeChecksTheFile(t *testing.T) {
	s, _ := newSim(t)
	dir := t.TempDir()
	mustStart(t, s, spec(1))
	if _, err := s.Suspend(ctx, 1, filepath.Join(dir, "1.gz")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "junk"), []byte("not a state"), 0o600)
	mustStart(t, s, incoming(2))
	for _, file := range []string{filepath.Join(dir, "missing.gz"), filepath.Join(dir, "1.gz"), filepath.Join(dir, "junk")} {
		if _, err := s.Resume(ctx, 2, file); !errors.Is(err, simvmm.ErrSuspendFile) {
			t.Errorf("resume instance 2 from %s: %v, want ErrSuspendFile", filepath.Base(file), err)
		}
	}
	if got := state(t, s, 2); got != vmm.StateIncoming {
		t.Fatalf("after failed resumes the guest is %s", got)
	}
}

func TestMigrationBetweenSims(t *testing.T) {
	src, _ := newSim(t)
	dst, _ := newSim(t)
	mustStart(t, src, spec(5))
	mustStart(t, dst, incoming(5))
	addr, err := dst.ListenMigration(ctx, 5, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := dst.ListenMigration(ctx, 5, "127.0.0.1:0"); again != addr {
		t.Fatalf("listen is not idempotent: %s then %s", addr, again)
	}
	st, err := src.Migrate(ctx, 5, addr, 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != 64<<20 {
		t.Fatalf("stats %+v", st)
	}
	if got := state(t, dst, 5); got != vmm.StateRunning {
		t.Fatalf("target guest is %s", got)
	}
	if got := state(t, src, 5); got != vmm.StateExited {
		t.Fatalf("source guest is %s", got)
	}
	if ev := nextEvent(t, src); ev.Reason != "migrated" || ev.State != vmm.StateExited {
		t.Fatalf("source event %+v", ev)
	}
	if ev := nextEvent(t, dst); ev.State != vmm.StateRunning {
		t.Fatalf("target event %+v", ev)
	}
	if _, err := src.Migrate(ctx, 5, addr, 0, 0); err == nil {
		t.Fatal("migrated a guest that is gone")
	}
}

func TestMigrationFailuresKeepTheSource(t *testing.T) {
	src, _ := newSim(t)
	dst, _ := newSim(t)
	mustStart(t, src, spec(1))
	if err := src.Pause(ctx, 1); err != nil {
		t.Fatal(err)
	}
	mustStart(t, dst, incoming(1))
	mustStart(t, dst, incoming(2))
	addr1, _ := dst.ListenMigration(ctx, 1, "127.0.0.1:0")
	addr2, _ := dst.ListenMigration(ctx, 2, "127.0.0.1:0")
	if _, err := src.Migrate(ctx, 1, "127.0.0.1:9", 0, 0); !errors.Is(err, simvmm.ErrNoListener) {
		t.Fatalf("migrate to nowhere: %v", err)
	}
	if _, err := src.Migrate(ctx, 1, addr2, 0, 0); !errors.Is(err, simvmm.ErrNoListener) {
		t.Fatalf("migrate to another instance's listener: %v", err)
	}
	src.FailMigrate(1, 1)
	if _, err := src.Migrate(ctx, 1, addr1, 0, 0); !errors.Is(err, simvmm.ErrInjected) {
		t.Fatalf("injected migration failure: %v", err)
	}
	if got := state(t, src, 1); got != vmm.StatePaused {
		t.Fatalf("after failed migrations the source is %s, want Paused", got)
	}
	if _, err := src.Migrate(ctx, 1, addr1, 0, 0); err != nil {
		t.Fatalf("the knob fired only once: %v", err)
	}
	if got := state(t, dst, 1); got != vmm.StatePaused {
		t.Fatalf("a paused guest landed %s", got)
	}
	// A destroyed target guest no longer listens.
	if err := dst.Destroy(ctx, 2); err != nil {
		t.Fatal(err)
	}
	mustStart(t, src, spec(2))
	if _, err := src.Migrate(ctx, 2, addr2, 0, 0); !errors.Is(err, simvmm.ErrNoListener) {
		t.Fatalf("migrate to a destroyed target: %v", err)
	}
}

func TestRecoverSameRunDir(t *testing.T) {
	s, cfg := newSim(t)
	mustStart(t, s, spec(1))
	mustStart(t, s, spec(2))
	if err := s.Destroy(ctx, 2); err != nil {
		t.Fatal(err)
	}
	s.Close()
	again := simvmm.New(cfg)
	defer again.Close()
	got, err := again.Recover(ctx)
	if err != nil || len(got) != 1 || got[0].InstanceID != 1 || got[0].State != vmm.StateRunning {
		t.Fatalf("recovered %+v, %v; want instance 1 running", got, err)
	}
	// Events of the old guests now go to the new Sim.
	again.Crash(1, "test")
	if ev := nextEvent(t, again); ev.InstanceID != 1 || ev.Reason != "crashed: test" {
		t.Fatalf("event %+v", ev)
	}
	other, _ := newSim(t)
	if l, _ := other.Recover(ctx); len(l) != 0 {
		t.Fatalf("another RunDir recovered %+v", l)
	}
	simvmm.Forget(cfg.RunDir)
	if l, _ := simvmm.New(cfg).Recover(ctx); len(l) != 0 {
		t.Fatalf("a forgotten RunDir recovered %+v", l)
	}
}

func TestFaultKnobs(t *testing.T) {
	s, _ := newSim(t)
	s.FailStart(1, 2)
	for i := 0; i < 2; i++ {
		if _, err := s.Start(ctx, spec(1)); !errors.Is(err, simvmm.ErrInjected) {
			t.Fatalf("start %d: %v, want ErrInjected", i, err)
		}
	}
	mustStart(t, s, spec(1))
	s.FailStart(2, simvmm.Forever)
	for i := 0; i < 3; i++ {
		if _, err := s.Start(ctx, spec(2)); !errors.Is(err, simvmm.ErrInjected) {
			t.Fatalf("start %d: %v, want ErrInjected", i, err)
		}
	}
	s.ClearFaults()
	mustStart(t, s, spec(2))
	s.FailSuspend(1, 1)
	if _, err := s.Suspend(ctx, 1, filepath.Join(t.TempDir(), "s")); !errors.Is(err, simvmm.ErrInjected) {
		t.Fatalf("suspend: %v", err)
	}
	if got := state(t, s, 1); got != vmm.StateRunning {
		t.Fatalf("after a failed suspend the guest is %s", got)
	}
	if !s.SetState(2, vmm.StatePaused) || state(t, s, 2) != vmm.StatePaused {
		t.Fatal("SetState did not pause the guest")
	}
	if ev := nextEvent(t, s); ev.State != vmm.StatePaused {
		t.Fatalf("event %+v", ev)
	}
	if !s.PowerOff(2) || s.PowerOff(2) {
		t.Fatal("PowerOff reports wrongly whether the guest ran")
	}
}

func TestFailStartInGroup(t *testing.T) {
	group := t.Name()
	inGroup := func(c *simvmm.Config) { c.Group = group }
	a, _ := newSim(t, inGroup)
	b, _ := newSim(t, inGroup)
	other, _ := newSim(t, func(c *simvmm.Config) { c.Group = "another" })
	simvmm.FailStartInGroup(group, 42, 2)
	t.Cleanup(func() { simvmm.ClearGroupFaults(group) })
	mustStart(t, other, spec(42))
	if _, err := a.Start(ctx, spec(42)); !errors.Is(err, simvmm.ErrInjected) {
		t.Fatalf("first start: %v", err)
	}
	if _, err := b.Start(ctx, spec(42)); !errors.Is(err, simvmm.ErrInjected) {
		t.Fatalf("second start, on another sim of the group: %v", err)
	}
	mustStart(t, a, spec(42))
	simvmm.FailStartInGroup(group, 43, simvmm.Forever)
	simvmm.ClearGroupFaults(group)
	mustStart(t, b, spec(43))
}

func TestCheckDisks(t *testing.T) {
	s, _ := newSim(t, func(c *simvmm.Config) { c.CheckDisks = true })
	disk := filepath.Join(t.TempDir(), "1-0.qcow2")
	sp := spec(1)
	sp.Disks = []vmm.Disk{{Path: disk, Format: "qcow2"}}
	if _, err := s.Start(ctx, sp); !errors.Is(err, simvmm.ErrMissingDisk) {
		t.Fatalf("start without its disk: %v", err)
	}
	os.WriteFile(disk, nil, 0o600)
	mustStart(t, s, sp)
	if _, err := s.Suspend(ctx, 1, filepath.Join(t.TempDir(), "ok")); err != nil {
		t.Fatalf("suspend with its disk: %v", err)
	}
	mustStart(t, s, sp)
	if lost := s.LostDisks(); len(lost) != 0 {
		t.Fatalf("lost disks with the disk in place: %v", lost)
	}
	os.Remove(disk)
	if lost := s.LostDisks(); !errors.Is(lost[1], simvmm.ErrMissingDisk) {
		t.Fatalf("LostDisks after the disk was removed: %v", lost)
	}
	if _, err := s.Suspend(ctx, 1, filepath.Join(t.TempDir(), "s")); !errors.Is(err, simvmm.ErrMissingDisk) {
		t.Fatalf("suspend without its disk: %v", err)
	}
}

// A disk path that holds another file than the guest started with (an
// overlay removed and made again) fails suspend, resume and migration.
func TestDiskReplaced(t *testing.T) {
	check := func(c *simvmm.Config) { c.CheckDisks = true }
	src, _ := newSim(t, check)
	dst, _ := newSim(t, check)
	dir := t.TempDir()
	disk := filepath.Join(dir, "1-0.qcow2")
	os.WriteFile(disk, nil, 0o600)
	sp := spec(1)
	sp.Disks = []vmm.Disk{{Path: disk, Format: "qcow2"}}
	replace := func() {
		os.Remove(disk)
		os.WriteFile(disk, []byte("new"), 0o600)
	}
	mustStart(t, src, sp)
	replace()
	if _, err := src.Suspend(ctx, 1, filepath.Join(dir, "s.gz")); !errors.Is(err, simvmm.ErrDiskReplaced) {
		t.Fatalf("suspend over a replaced disk: %v", err)
	}
	src.Destroy(ctx, 1)

	// Suspended, then the overlay is made again before the resume.
	mustStart(t, src, sp)
	if _, err := src.Suspend(ctx, 1, filepath.Join(dir, "s.gz")); err != nil {
		t.Fatal(err)
	}
	replace()
	in := sp
	in.Incoming = "defer"
	mustStart(t, src, in)
	if _, err := src.Resume(ctx, 1, filepath.Join(dir, "s.gz")); !errors.Is(err, simvmm.ErrDiskReplaced) {
		t.Fatalf("resume over a replaced disk: %v", err)
	}
	src.Destroy(ctx, 1)

	// Migrated to a target that opened a new file at the same path.
	mustStart(t, src, sp)
	replace()
	mustStart(t, dst, in)
	addr, _ := dst.ListenMigration(ctx, 1, "127.0.0.1:0")
	if _, err := src.Migrate(ctx, 1, addr, 0, 0); !errors.Is(err, simvmm.ErrDiskReplaced) {
		t.Fatalf("migrate onto a replaced disk: %v", err)
	}
	if got := state(t, src, 1); got != vmm.StateRunning {
		t.Fatalf("after the failed migration the source is %s", got)
	}
}

func TestLatencyAndCancel(t *testing.T) {
	lat := simvmm.Latency{Start: simvmm.Delay{Min: 30 * time.Millisecond, Max: 40 * time.Millisecond}}
	s, _ := newSim(t, func(c *simvmm.Config) { c.Latency = &lat })
	begin := time.Now()
	mustStart(t, s, spec(1))
	if took := time.Since(begin); took < 30*time.Millisecond {
		t.Fatalf("start took %s, latency is at least 30ms", took)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if _, err := s.Start(cctx, spec(2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled start: %v", err)
	}
	if _, err := s.Info(ctx, 2); err == nil {
		t.Fatal("a cancelled start left a guest")
	}
}

func TestDefaultLatencyIsSmall(t *testing.T) {
	s := simvmm.New(simvmm.Config{})
	defer s.Close()
	begin := time.Now()
	mustStart(t, s, spec(1))
	if took := time.Since(begin); took > 500*time.Millisecond {
		t.Fatalf("default start took %s", took)
	}
}

// Concurrent starts, pauses, migrations and destroys on a few Sims (run
// with -race): every migration that succeeds leaves the guest on the
// target only, and at the end nothing is left.
func TestConcurrentUse(t *testing.T) {
	sims := make([]*simvmm.Sim, 4)
	for i := range sims {
		sims[i], _ = newSim(t)
	}
	done := make(chan struct{})
	defer close(done)
	for _, s := range sims {
		go func() {
			for {
				select {
				case <-s.Events():
				case <-done:
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id := int64(w*100 + i%10 + 1)
				a, b := sims[(w+i)%4], sims[(w+i+1)%4]
				if _, err := a.Start(ctx, spec(id)); err != nil {
					errs <- err
					continue
				}
				if i%2 == 0 {
					a.Pause(ctx, id)
				}
				b.Start(ctx, incoming(id))
				addr, err := b.ListenMigration(ctx, id, "127.0.0.1:0")
				if err == nil {
					if _, err := a.Migrate(ctx, id, addr, 0, 0); err != nil {
						errs <- err
					} else if sa, _ := a.Info(ctx, id); sa.State != vmm.StateExited {
						errs <- fmt.Errorf("instance %d migrated but the source is %s", id, sa.State)
					}
				}
				a.Destroy(ctx, id)
				b.Destroy(ctx, id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, s := range sims {
		if l, _ := s.List(ctx); len(l) != 0 {
			t.Errorf("sim %d still runs %d guests", i, len(l))
		}
	}
}
