package qemu

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tashi-go/tashi/images"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// The tiny guest is built once per test binary into a temporary prefix.
var tinyState struct {
	once   sync.Once
	prefix string
	name   string
	err    error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if tinyState.prefix != "" {
		os.RemoveAll(tinyState.prefix)
	}
	os.Exit(code)
}

func needQEMU(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(DefaultBinary); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
}

// tiny returns the image store holding the tiny guest, or an error when
// it cannot be built here (tests then use a firmware-only guest).
func tiny(t *testing.T) (images.Store, string, error) {
	tinyState.once.Do(func() {
		dir, err := os.MkdirTemp("", "tqimg")
		if err != nil {
			tinyState.err = err
			return
		}
		tinyState.prefix = dir
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		tinyState.name, tinyState.err = images.EnsureTiny(ctx, dir)
	})
	return images.Store{Prefix: tinyState.prefix}, tinyState.name, tinyState.err
}

// shortDir is a temporary directory with a short path (unix sockets
// live in it), removed at the end of the test.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tq")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testDriver is a driver on runDir that destroys what it still runs when
// the test ends.
func testDriver(t *testing.T, runDir string, mod ...func(*Config)) *Driver {
	t.Helper()
	cfg := Config{RunDir: runDir, Debug: true}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		infos, _ := d.List(ctx)
		for _, inf := range infos {
			if err := d.Destroy(ctx, inf.InstanceID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		d.Close()
	})
	return d
}

// guestSpec is a spec for the tiny guest booting from a fresh overlay;
// without the tiny guest, a firmware-only guest with an empty disk (it
// sits in the firmware, which is enough for QMP-level tests).
func guestSpec(t *testing.T, id int64) (vmm.Spec, bool) {
	t.Helper()
	s := vmm.Spec{InstanceID: id, Name: fmt.Sprintf("t%d", id), Cores: 1, MemoryMiB: 128,
		NICs: []vmm.NIC{{MAC: fmt.Sprintf("52:54:00:00:%02x:%02x", id>>8&0xff, id&0xff)}}}
	store, name, err := tiny(t)
	if err != nil {
		t.Logf("tiny guest unavailable, using a firmware-only guest: %v", err)
		disk := filepath.Join(shortDir(t), "empty.raw")
		if err := os.WriteFile(disk, make([]byte, 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		s.Disks = []vmm.Disk{{Path: disk, Format: "raw"}}
		return s, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	overlay, err := store.CreateOverlay(ctx, id, 0, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.RemoveOverlays(id) })
	boot, err := store.Boot(name)
	if err != nil {
		t.Fatal(err)
	}
	s.Boot = boot
	s.Disks = []vmm.Disk{{Path: overlay, Format: "qcow2"}}
	return s, true
}

// waitSerial waits until the serial log holds want n times.
func waitSerial(t *testing.T, path, want string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b, _ := os.ReadFile(path)
		if strings.Count(string(b), want) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not seen %d times in %s within %v; log ends:\n%s", want, n, path, limit, tail(string(b), 1500))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitEvent waits for an event of instance id with state st.
func waitEvent(t *testing.T, d *Driver, id int64, st vmm.State, limit time.Duration) vmm.Event {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case ev := <-d.Events():
			if ev.InstanceID == id && ev.State == st {
				return ev
			}
			t.Logf("event (skipped): %+v", ev)
		case <-timeout:
			t.Fatalf("no %s event for instance %d within %v", st, id, limit)
		}
	}
}

// qemuStatus asks QEMU itself.
func qemuStatus(t *testing.T, d *Driver, id int64) string {
	t.Helper()
	g, err := d.mustGuest(id)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := g.monitor()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := mon.QueryStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.Status
}

// processWithSocket reports whether any process has path in its command
// line (to prove nothing was left running).
func processWithSocket(path string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), path) {
			return true
		}
	}
	return false
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
