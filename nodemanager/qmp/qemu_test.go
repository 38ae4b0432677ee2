package qmp_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp"
)

// startQEMU runs a real QEMU with a QMP socket and extra args; it is
// killed when the test ends.
func startQEMU(t *testing.T, extra ...string) (*qmp.Monitor, *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	dir, err := os.MkdirTemp("", "qmpq")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "qmp.sock")
	args := append([]string{"-nodefaults", "-no-user-config", "-display", "none",
		"-qmp", "unix:" + sock + ",server=on,wait=off"}, extra...)
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := qmp.Dial(ctx, sock)
		if err == nil {
			t.Cleanup(func() { m.Close() })
			return m, cmd
		}
		if ctx.Err() != nil {
			t.Fatalf("qmp never came up: %v; stderr: %s", err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRealQEMU(t *testing.T) {
	m, cmd := startQEMU(t, "-machine", "none")
	ctx := ctxT(t, 20*time.Second)
	if v := m.Version(); v.Major < 7 {
		t.Fatalf("version %v", v)
	}
	st, err := m.QueryStatus(ctx)
	if err != nil || st.Status != "running" {
		t.Fatalf("status %+v %v", st, err)
	}
	schema, err := m.QueryQMPSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range schema {
		found = found || (e.Name == "query-status" && e.MetaType == "command")
	}
	if len(schema) < 500 || !found {
		t.Fatalf("schema has %d entries, query-status found %v", len(schema), found)
	}
	var raw []byte
	if err := m.Run(ctx, "query-qmp-schema", nil, (*rawJSON)(&raw)); err != nil || len(raw) < 100_000 {
		t.Fatalf("raw schema %d bytes, %v", len(raw), err)
	}
	t.Logf("QEMU %v, query-qmp-schema %d entries, %d bytes", m.Version(), len(schema), len(raw))

	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, m, "STOP")
	if st, _ := m.QueryStatus(ctx); st.Status != "paused" {
		t.Fatalf("after stop: %+v", st)
	}
	if err := m.Cont(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, m, "RESUME")
	if err := m.Run(ctx, "no-such-command", nil, nil); !qmp.IsClass(err, "CommandNotFound") {
		t.Fatalf("unknown command: %v", err)
	}
	if err := m.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, m, "SHUTDOWN")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("qemu exit: %v", err)
	}
}

// Migration to a passed fd (what the qemu driver uses for suspend) and
// an incoming listener on port 0 (QEMU reports the port it took).
func TestRealQEMUMigrationPlumbing(t *testing.T) {
	src, _ := startQEMU(t, "-machine", "q35", "-m", "32")
	dst, _ := startQEMU(t, "-machine", "q35", "-m", "32", "-incoming", "defer")
	ctx := ctxT(t, 30*time.Second)
	if err := dst.MigrateIncoming(ctx, "tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	mi, err := dst.QueryMigrate(ctx)
	if err != nil || len(mi.SocketAddress) != 1 || mi.SocketAddress[0].Port == "0" || mi.SocketAddress[0].Port == "" {
		t.Fatalf("incoming: %+v %v", mi, err)
	}
	t.Logf("incoming listens on %+v", mi.SocketAddress[0])

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := src.MigrateSetCapabilities(ctx, qmp.MigrationCapability{Capability: "events", State: true}); err != nil {
		t.Fatal(err)
	}
	if err := src.GetFD(ctx, "out", w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got := make(chan int64, 1)
	go func() { n, _ := io.Copy(io.Discard, r); got <- n }()
	if err := src.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := src.Migrate(ctx, "fd:out"); err != nil {
		t.Fatal(err)
	}
	for {
		mi, err = src.QueryMigrate(ctx)
		if err != nil || mi.Status == "completed" || mi.Status == "failed" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil || mi.Status != "completed" {
		t.Fatalf("migrate to fd: %+v %v", mi, err)
	}
	select {
	case n := <-got:
		if n < 1000 || mi.RAM == nil || n < mi.RAM.Transferred {
			t.Fatalf("stream %d bytes, ram %+v", n, mi.RAM)
		}
		t.Logf("fd migration: %d bytes in %d ms", n, mi.TotalTime)
	case <-ctx.Done():
		t.Fatal("fd never closed by QEMU")
	}
}

type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

func waitEvent(t *testing.T, m *qmp.Monitor, name string) qmp.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-m.Events():
			if !ok {
				t.Fatalf("monitor closed waiting for %s", name)
			}
			if ev.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}
