package pgtest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tashi-go/tashi/internal/pgtest"
)

// leaked is a session the template preparation leaves open on purpose:
// pgtest must end it, or cloning the template would fail.
var leaked *pgx.Conn

func TestMain(m *testing.M) {
	pgtest.SetTemplate(func(ctx context.Context, dsn string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		leaked = conn
		_, err = conn.Exec(ctx, "CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL)")
		return err
	})
	pgtest.Main(m)
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// useOwnDB checks that the database holds the template's empty table and
// that a row written to it is the only one there.
func useOwnDB(t *testing.T, label string) {
	t.Parallel()
	ctx := context.Background()
	begin := time.Now()
	dsn := pgtest.NewDB(t)
	t.Logf("NewDB took %v", time.Since(begin))
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, "INSERT INTO item VALUES (1, $1)", label); err != nil {
		t.Fatal(err)
	}
	var n int
	var name string
	err := conn.QueryRow(ctx, "SELECT count(*), max(name) FROM item").Scan(&n, &name)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || name != label {
		t.Fatalf("item holds %d rows, max name %q; want only %q", n, name, label)
	}
}

func TestParallelA(t *testing.T) { useOwnDB(t, "a") }
func TestParallelB(t *testing.T) { useOwnDB(t, "b") }

func TestManyParallel(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) { useOwnDB(t, fmt.Sprint("sub", i)) })
	}
}

func TestDatabaseNamedAfterTest(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, pgtest.NewDB(t))
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(db, "_testdatabasenamedaftertest") {
		t.Fatalf("database %q is not named after the test", db)
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	var dsn string
	t.Run("inner", func(t *testing.T) { dsn = pgtest.NewDB(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(ctx)
		t.Fatal("the inner test's database still exists")
	}
}

func TestTemplateRefusesSessions(t *testing.T) {
	dsn := pgtest.NewDB(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = "pgtest_template"
	ctx := context.Background()
	if conn, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to the template database")
	}
}

const helperEnv = "PGTEST_CRASH_HELPER"

// TestCrashHelper is the child of TestReaperAfterCrash: it starts the
// cluster, prints its DSN and waits to be killed.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("runs only as the child of TestReaperAfterCrash")
	}
	fmt.Println(pgtest.NewDB(t))
	time.Sleep(time.Minute)
}

// TestReaperAfterCrash SIGKILLs a test binary that holds a cluster and
// checks that the server stops and its directory goes away.
func TestReaperAfterCrash(t *testing.T) {
	pgtest.NewDB(t) // skips here, not in the child, when PostgreSQL is missing
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dsn, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("read the child's DSN: %v", err)
	}
	cfg, err := pgx.ParseConfig(strings.TrimSpace(dsn))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(cfg.Host) // the cluster directory holds the socket directory
	pid := postmasterPID(t, filepath.Join(dir, "pgdata"))
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, "the cluster directory to go", func() bool {
		_, err := os.Stat(dir)
		return errors.Is(err, fs.ErrNotExist)
	})
	waitFor(t, "the postmaster to exit", func() bool { return !alive(pid) })
}

func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	return pid
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
