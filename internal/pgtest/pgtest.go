package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tashi-go/tashi/clustermanager/pgembed"
)

const (
	templateName = "pgtest_template"
	maxDBName    = 63 // PostgreSQL's identifier limit, in bytes
	startTimeout = 2 * time.Minute
)

// reaperScript waits for EOF on stdin (the test binary's end, however it
// ends), then kills the cluster if it still runs and removes its
// directory. Arguments: $1 data directory, $2 cluster directory. Should a
// server start after it looked (the binary died inside pgembed.Start), the
// server finds its postmaster.pid gone and shuts itself down within a
// minute.
const reaperScript = `read -r _ || :
pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || pid=
if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
	i=0
	while [ -e "$1/postmaster.pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1/postmaster.pid" ] && kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$2"
`

// cluster is the test package's PostgreSQL.
type cluster struct {
	srv    *pgembed.Server
	dir    string
	reaper *exec.Cmd
	pipe   *os.File // write end of the reaper's stdin; closing it wakes the reaper
}

// state is the package's one cluster; mu also serializes CREATE DATABASE.
var (
	mu        sync.Mutex
	cl        *cluster
	startErr  error
	prepare   func(ctx context.Context, dsn string) error
	tmplBuilt bool
	tmplErr   error
	seq       int
)

// Main runs the tests, stops the cluster if one was started, and exits
// with the tests' code. Use it as: func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// SetTemplate sets the function that prepares the template database every
// NewDB clones; prepare gets the template's DSN and runs once, on first
// use. Sessions it leaves open are ended. Call it before the first NewDB.
func SetTemplate(fn func(ctx context.Context, dsn string) error) {
	mu.Lock()
	defer mu.Unlock()
	if seq > 0 {
		panic("pgtest: SetTemplate called after NewDB")
	}
	prepare = fn
}

// NewDB returns the DSN of a fresh database for t, dropped when t ends. It
// starts the package's cluster on first use. Without PostgreSQL installed
// it skips t; any other failure fails t.
func NewDB(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, name, err := createDB(ctx, t.Name())
	if errors.Is(err, pgembed.ErrNoBinaries) {
		t.Skipf("pgtest: PostgreSQL is not installed, run scripts/setup.sh (%v)", err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.DropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return srv.DSN(name)
}

func createDB(ctx context.Context, testName string) (*pgembed.Server, string, error) {
	mu.Lock()
	defer mu.Unlock()
	seq++
	if err := ensureCluster(ctx); err != nil {
		return nil, "", err
	}
	tmpl, err := ensureTemplate(ctx)
	if err != nil {
		return nil, "", err
	}
	name := dbName(seq, testName)
	if err := cl.srv.CreateDatabase(ctx, name, tmpl); err != nil {
		return nil, "", err
	}
	return cl.srv, name, nil
}

// dbName makes a database name from a counter and the test name, lowercase
// and cut to PostgreSQL's 63-byte limit.
func dbName(n int, testName string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t%d_", n)
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= maxDBName {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func ensureCluster(ctx context.Context) error {
	if cl == nil && startErr == nil {
		cl, startErr = startCluster(ctx)
	}
	return startErr
}

// startCluster starts the reaper, then the server, both inside one
// directory (data, socket and log) that the reaper removes at the end.
func startCluster(ctx context.Context) (*cluster, error) {
	dir, err := makeClusterDir()
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir}
	if err := c.startReaper(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	c.srv, err = pgembed.Start(ctx, pgembed.Options{
		DataDir:   filepath.Join(dir, "pgdata"),
		SocketDir: filepath.Join(dir, "sock"),
	})
	if err != nil {
		return nil, errors.Join(err, c.release())
	}
	return c, nil
}

// makeClusterDir makes the cluster's directory on tmpfs (/dev/shm) if it
// can, else in os.TempDir(), searchable by others so that the postgres user
// reaches the data directory when tests run as root.
func makeClusterDir() (string, error) {
	dir, err := os.MkdirTemp("/dev/shm", "pgtest")
	if err != nil {
		dir, err = os.MkdirTemp("", "pgtest")
	}
	if err != nil {
		return "", fmt.Errorf("create the cluster directory: %w", err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("open the cluster directory to the postgres user: %w", err)
	}
	return dir, nil
}

// startReaper starts the shell that cleans up if the test binary dies
// before Main's shutdown. It runs in its own process group so a Ctrl-C
// in the terminal leaves it to do its job.
func (c *cluster) startReaper() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start the cluster reaper: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", reaperScript, "pgtest-reaper",
		filepath.Join(c.dir, "pgdata"), c.dir)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the cluster reaper: %w", err)
	}
	c.reaper, c.pipe = cmd, w
	return nil
}

// shutdown stops the cluster, then lets the reaper remove its directory
// (and kill the server, should Stop have failed).
func shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	if cl == nil {
		return nil
	}
	c := cl
	cl, startErr = nil, errors.New("the cluster was shut down by pgtest.Main")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return errors.Join(c.srv.Stop(ctx), c.release())
}

// release wakes the reaper, waits for it, and checks its work.
func (c *cluster) release() error {
	c.pipe.Close()
	if err := c.reaper.Wait(); err != nil {
		return fmt.Errorf("cluster reaper: %w", err)
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cluster directory %s not removed", c.dir)
	}
	return nil
}

// ensureTemplate builds the template database on first use and returns
// its name, or "" (template1) when no template was set.
func ensureTemplate(ctx context.Context) (string, error) {
	if prepare == nil {
		return "", nil
	}
	if !tmplBuilt {
		tmplBuilt = true
		tmplErr = buildTemplate(ctx, cl.srv)
	}
	return templateName, tmplErr
}

func buildTemplate(ctx context.Context, srv *pgembed.Server) error {
	if err := srv.CreateDatabase(ctx, templateName, ""); err != nil {
		return fmt.Errorf("create the template database: %w", err)
	}
	if err := prepare(ctx, srv.DSN(templateName)); err != nil {
		return fmt.Errorf("prepare the template database: %w", err)
	}
	return sealTemplate(ctx, srv)
}

// sealTemplate forbids new sessions on the template and ends those that
// prepare left open: CREATE DATABASE ... TEMPLATE refuses a template in use.
func sealTemplate(ctx context.Context, srv *pgembed.Server) error {
	conn, err := pgx.Connect(ctx, srv.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("seal the template database: %w", err)
	}
	defer conn.Close(context.Background())
	tmpl := pgx.Identifier{templateName}.Sanitize()
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+tmpl+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"); err != nil {
		return fmt.Errorf("seal the template database: %w", err)
	}
	_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000)
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, templateName)
	if err != nil {
		return fmt.Errorf("end the sessions left on the template database: %w", err)
	}
	return nil
}
