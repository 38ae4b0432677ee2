package pgembed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// stateDir makes a state directory the postgres user can traverse (when
// the test runs as root, the server runs as postgres), on tmpfs if it can:
// creating files on this machine's ext4 disk is slow (initdb 1.5 s there,
// 0.5 s on tmpfs).
func stateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "pgembed-test")
	if err != nil {
		dir, err = os.MkdirTemp("", "pgembed-test")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start starts a server on dataDir, skips the test when PostgreSQL is not
// installed, and stops the server at the end of the test.
func start(t *testing.T, ctx context.Context, dataDir string) *Server {
	t.Helper()
	begin := time.Now()
	s, err := Start(ctx, Options{DataDir: dataDir, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if errors.Is(err, ErrNoBinaries) {
		t.Skipf("PostgreSQL is not installed: run scripts/setup.sh (%v)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start took %v", time.Since(begin))
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

// alive tells whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || len(b) < i+3 || b[i+2] != 'Z'
}

// procGroups reads the process group and session of pid from /proc.
func procGroups(t *testing.T, pid int) (pgid, sid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])) // state ppid pgrp session ...
	if _, err := fmt.Sscan(fields[2]+" "+fields[3], &pgid, &sid); err != nil {
		t.Fatal(err)
	}
	return pgid, sid
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
	}
}

func queryOne(t *testing.T, ctx context.Context, dsn, sql string, dst any) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dst); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func execSQL(t *testing.T, ctx context.Context, dsn string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range stmts {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func TestStartCreateQueryStop(t *testing.T) {
	ctx := testCtx(t)
	dir := stateDir(t)
	s := start(t, ctx, filepath.Join(dir, "pgdata"))

	name := `app "db" o'k\`
	begin := time.Now()
	if err := s.CreateDatabase(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	t.Logf("CreateDatabase from template1 took %v", time.Since(begin))
	var got string
	queryOne(t, ctx, s.DSN(name), "SELECT current_database()", &got)
	if got != name {
		t.Fatalf("current_database() = %q, want %q", got, name)
	}

	pid := s.pid
	if pgid, sid := procGroups(t, pid); pgid == syscall.Getpgrp() || sid != pid {
		t.Errorf("postmaster %d: process group %d, session %d; want its own session", pid, pgid, sid)
	}
	sock := socketPath(s.SocketDir())
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("socket: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres.log")); err != nil {
		t.Errorf("server log: %v", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitDead(t, pid)
	if _, err := os.Stat(s.SocketDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket directory %s not removed: %v", s.SocketDir(), err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestDropDatabase(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx, filepath.Join(stateDir(t), "pgdata"))
	if err := s.CreateDatabase(ctx, "gone", ""); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, s.DSN("gone")) // an open session must not block the drop
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for range 2 { // the second drop finds nothing and succeeds
		if err := s.DropDatabase(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := pgx.Connect(ctx, s.DSN("gone")); err == nil {
		c.Close(ctx)
		t.Fatal("connected to a dropped database")
	}
}

// TestRestartAfterKill simulates a crash: the postmaster is SIGKILLed and a
// new Start on the same data directory must recover the committed data.
func TestRestartAfterKill(t *testing.T) {
	ctx := testCtx(t)
	dataDir := filepath.Join(stateDir(t), "pgdata")
	s1 := start(t, ctx, dataDir)
	if err := s1.CreateDatabase(ctx, "keep", ""); err != nil {
		t.Fatal(err)
	}
	execSQL(t, ctx, s1.DSN("keep"),
		"SET synchronous_commit = on", // Fsync=false turns it off; a kill would lose the commit
		"CREATE TABLE t AS SELECT 42 AS v")
	pid, err := readPID(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, pid)

	s2 := start(t, ctx, dataDir)
	var v int
	queryOne(t, ctx, s2.DSN("keep"), "SELECT v FROM t", &v)
	if v != 42 {
		t.Fatalf("v = %d after restart, want 42", v)
	}
	if err := s1.Stop(ctx); err != nil { // must not stop s2's server
		t.Fatal(err)
	}
	queryOne(t, ctx, s2.DSN("keep"), "SELECT v FROM t", &v)
}

func TestStopAfterServerDied(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx, filepath.Join(stateDir(t), "pgdata"))
	if err := syscall.Kill(s.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, s.pid)
	begin := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Stop of a dead server took %v", d)
	}
	if _, err := os.Stat(s.SocketDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket directory %s not removed: %v", s.SocketDir(), err)
	}
}

// TestStartStopsLeftoverServer simulates a cluster manager that died
// without Stop while its server kept running.
func TestStartStopsLeftoverServer(t *testing.T) {
	ctx := testCtx(t)
	dataDir := filepath.Join(stateDir(t), "pgdata")
	s1 := start(t, ctx, dataDir)
	s2 := start(t, ctx, dataDir)
	if alive(s1.pid) {
		t.Fatalf("first postmaster %d still alive", s1.pid)
	}
	if s2.pid == s1.pid {
		t.Fatal("second Start reused the first server")
	}
	var one int
	queryOne(t, ctx, s2.DSN("postgres"), "SELECT 1", &one)
}

func TestStartRejectsForeignDataDir(t *testing.T) {
	dataDir := filepath.Join(stateDir(t), "pgdata")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "notes.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(testCtx(t), Options{DataDir: dataDir})
	if errors.Is(err, ErrNoBinaries) {
		t.Skip("PostgreSQL is not installed: run scripts/setup.sh")
	}
	if !errors.Is(err, ErrNotCluster) {
		t.Fatalf("Start = %v, want ErrNotCluster", err)
	}
}

func TestStartRejectsUntraversableParent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to the postgres user")
	}
	locked := filepath.Join(stateDir(t), "locked")
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Start(testCtx(t), Options{DataDir: filepath.Join(locked, "pgdata")})
	if errors.Is(err, ErrNoBinaries) {
		t.Skip("PostgreSQL is not installed: run scripts/setup.sh")
	}
	if !errors.Is(err, ErrNotTraversable) || !strings.Contains(err.Error(), locked) {
		t.Fatalf("Start = %v, want ErrNotTraversable naming %s", err, locked)
	}
}

func TestStartRejectsLongSocketPath(t *testing.T) {
	long := filepath.Join(os.TempDir(), strings.Repeat("s", 100))
	_, err := Start(testCtx(t), Options{DataDir: filepath.Join(stateDir(t), "pgdata"), SocketDir: long})
	if errors.Is(err, ErrNoBinaries) {
		t.Skip("PostgreSQL is not installed: run scripts/setup.sh")
	}
	if !errors.Is(err, ErrSocketPathTooLong) {
		t.Fatalf("Start = %v, want ErrSocketPathTooLong", err)
	}
	if _, err := os.Stat(long); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Start left %s behind", long)
	}
}

func TestDSNQuoting(t *testing.T) {
	s := &Server{socketDir: "/tmp/pg1"}
	cfg, err := pgx.ParseConfig(s.DSN(`we'ird \name`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database != `we'ird \name` || cfg.Host != "/tmp/pg1" || cfg.User != "postgres" || cfg.Port != Port {
		t.Fatalf("parsed %q %q %q %d", cfg.Database, cfg.Host, cfg.User, cfg.Port)
	}
}

func TestVersionLess(t *testing.T) {
	dirs := []string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/13/bin"}
	tests := []struct {
		a, b string
		want bool
	}{
		{dirs[0], dirs[1], true},
		{dirs[1], dirs[0], false},
		{dirs[2], dirs[1], true},
		{dirs[1], dirs[1], false},
	}
	for _, tc := range tests {
		if got := versionLess(tc.a, tc.b); got != tc.want {
			t.Errorf("versionLess(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{"", strings.Repeat("x", 64), "a\x00b"} {
		if err := checkName(name); !errors.Is(err, ErrBadName) {
			t.Errorf("checkName(%q) = %v, want ErrBadName", name, err)
		}
	}
	if err := checkName(strings.Repeat("x", 63)); err != nil {
		t.Errorf("63 bytes: %v", err)
	}
}
