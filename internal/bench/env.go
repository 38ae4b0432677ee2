package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/clustermanager/pgembed"
)

// env is what every figure shares: a scratch directory, a private
// PostgreSQL with durable commits, and a tashi-cm binary.
type env struct {
	dir      string
	pg       *pgembed.Server
	cmBin    string
	cmSource string // what the binary was built from, for the report
	pgInfo   string // server version and durability settings, as the server reports them
	progw    io.Writer
	reaper   *exec.Cmd
	pipe     *os.File // closing it (or dying) wakes the reaper
}

// reaperScript waits for EOF on stdin, then stops whatever this run left:
// CM processes by the PIDs in $1/*.cm.pid, PostgreSQL by its postmaster.pid
// (immediate shutdown), and removes the scratch directory $1.
const reaperScript = `read -r _ || :
for f in "$1"/*.cm.pid; do
	[ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
done
pid=$(head -n 1 "$1/pg/postmaster.pid" 2>/dev/null) || pid=
if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$1"
`

func newEnv(ctx context.Context, o Options) (_ *env, err error) {
	dir, err := os.MkdirTemp("", "tashi-bench-")
	if err != nil {
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	e := &env{dir: dir, progw: o.Progress}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.close())
		}
	}()
	// As root, the postgres user runs the server and must search this directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open scratch directory %s to the postgres user: %w", dir, err)
	}
	if err := e.startReaper(); err != nil {
		return nil, err
	}
	if err := e.prepareCM(ctx, o.CMBinary); err != nil {
		return nil, err
	}
	e.progress("starting PostgreSQL (fsync on) in %s", dir)
	e.pg, err = pgembed.Start(ctx, pgembed.Options{DataDir: filepath.Join(dir, "pg"),
		SocketDir: filepath.Join(dir, "sock"), Fsync: true})
	if err != nil {
		return nil, err
	}
	return e, e.readPGInfo(ctx)
}

func (e *env) startReaper() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start reaper: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", reaperScript, "tashi-bench-reaper", e.dir)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // outlives a Ctrl-C to our group
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start reaper: %w", err)
	}
	e.reaper, e.pipe = cmd, w
	return nil
}

// prepareCM builds tashi-cm from the module root (go env GOMOD), unless
// a binary was given.
func (e *env) prepareCM(ctx context.Context, given string) error {
	if given != "" {
		abs, err := filepath.Abs(given)
		if err != nil {
			return fmt.Errorf("resolve -cm %s: %w", given, err)
		}
		e.cmBin, e.cmSource = abs, "given binary "+abs
		return nil
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("find the module root with go env GOMOD (got %q): %v", gomod, err)
	}
	root := filepath.Dir(gomod)
	e.cmBin = filepath.Join(e.dir, "tashi-cm")
	e.progress("building tashi-cm from %s", root)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.cmBin, "./cmd/tashi-cm")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/tashi-cm in %s: %w\n%s", root, err, out)
	}
	e.cmSource = "built from " + root + " (go build ./cmd/tashi-cm, no -ldflags: version \"dev\")"
	return nil
}

func (e *env) readPGInfo(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, e.pg.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ver, fsync, sync, fpw string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('full_page_writes')`).Scan(&ver, &fsync, &sync, &fpw)
	if err != nil {
		return fmt.Errorf("read PostgreSQL settings: %w", err)
	}
	e.pgInfo = fmt.Sprintf("PostgreSQL %s, fsync=%s, synchronous_commit=%s, full_page_writes=%s", ver, fsync, sync, fpw)
	return nil
}

// database makes a fresh database for one figure and returns its DSN.
func (e *env) database(ctx context.Context, name string) (string, error) {
	if err := e.pg.CreateDatabase(ctx, name, ""); err != nil {
		return "", err
	}
	return e.pg.DSN(name), nil
}

// postmaster is the PostgreSQL server's main process.
func (e *env) postmaster() (int, error) {
	b, err := os.ReadFile(filepath.Join(e.pg.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	var pid int
	if _, err := fmt.Sscan(string(line), &pid); err != nil {
		return 0, fmt.Errorf("parse postmaster.pid: %w", err)
	}
	return pid, nil
}

func (e *env) progress(format string, args ...any) {
	fmt.Fprintf(e.progw, "%s tashi-bench: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// close stops PostgreSQL, removes the scratch directory and lets the
// reaper go (it then finds nothing left to do).
func (e *env) close() error {
	var errs []error
	if e.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errs = append(errs, e.pg.Stop(ctx))
		cancel()
	}
	errs = append(errs, os.RemoveAll(e.dir))
	if e.pipe != nil {
		e.pipe.Close()
		errs = append(errs, e.reaper.Wait())
	}
	return errors.Join(errs...)
}
