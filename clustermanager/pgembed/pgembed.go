package pgembed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// Port names the socket file (.s.PGSQL.5432) and nothing else: the
	// server listens on no TCP port and its socket directory is private.
	Port = 5432

	superuser      = "postgres"
	confFile       = "tashi.conf"
	includeLine    = "include_if_exists = '" + confFile + "'"
	logName        = "postgres.log"
	maxSocketPath  = 107
	defaultTimeout = 60 * time.Second
	orphanGrace    = 5 * time.Second
	logTailBytes   = 4096
)

// Options says where and how to run the server.
type Options struct {
	DataDir   string       // PGDATA; created with initdb if empty or missing
	SocketDir string       // unix socket directory; "" makes a private one under /tmp
	Fsync     bool         // false only for tests: no fsync, no full-page writes
	Logger    *slog.Logger // may be nil
}

// Server is a running PostgreSQL started by Start. Its methods are safe for
// concurrent use.
type Server struct {
	pgCtl     string
	dataDir   string // absolute, symlinks resolved
	socketDir string
	ownSocket bool // made by Start, removed by Stop
	logFile   string
	cred      *syscall.Credential // nil: run as the current user
	log       *slog.Logger
	pid       int // the postmaster this Server started

	mu      sync.Mutex
	stopped bool
}

// Start initialises the data directory if needed, clears what a crashed
// earlier run left behind, and starts the server, returning once it accepts
// connections. The wait is bounded by ctx's deadline, or 60 s without one.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	if o.DataDir == "" {
		return nil, errors.New("start postgresql: Options.DataDir is empty")
	}
	initdb, pgCtl, err := findBinaries()
	if err != nil {
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	s := &Server{pgCtl: pgCtl, cred: cred, log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			s.removeOwnSocketDir()
			err = fmt.Errorf("start postgresql in %s: %w", o.DataDir, err)
		}
	}()
	if err = s.prepareDirs(o); err != nil {
		return nil, err
	}
	if err = s.initdb(ctx, initdb, o.Fsync); err != nil {
		return nil, err
	}
	if err = s.clearLeftovers(ctx); err != nil {
		return nil, err
	}
	if err = s.writeConf(o.Fsync); err != nil {
		return nil, err
	}
	if err = s.startServer(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DSN returns a pgx keyword/value connection string for dbname over the
// server's unix socket, as the postgres superuser.
func (s *Server) DSN(dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
		dsnQuote(s.socketDir), Port, superuser, dsnQuote(dbname))
}

// SocketDir returns the directory holding the server's unix socket.
func (s *Server) SocketDir() string { return s.socketDir }

// DataDir returns the absolute data directory (PGDATA).
func (s *Server) DataDir() string { return s.dataDir }

// LogFile returns the path of the server log.
func (s *Server) LogFile() string { return s.logFile }

// CreateDatabase creates database name as a copy of template ("" means
// template1). PostgreSQL refuses to copy a template that has open sessions.
func (s *Server) CreateDatabase(ctx context.Context, name, template string) error {
	if template == "" {
		template = "template1"
	}
	if err := checkName(name); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	if err := checkName(template); err != nil {
		return fmt.Errorf("create database %q: template: %w", name, err)
	}
	sql := "CREATE DATABASE " + ident(name) + " TEMPLATE " + ident(template)
	if err := s.exec(ctx, sql); err != nil {
		return fmt.Errorf("create database %q from %q: %w", name, template, err)
	}
	return nil
}

// DropDatabase drops database name if it exists, ending its sessions first
// (DROP DATABASE ... WITH (FORCE)).
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("drop database: %w", err)
	}
	if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %q: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (pg_ctl stop -m fast) and removes the socket
// directory if Start made it. It leaves alone a server that a later Start
// put on the same data directory, returns nil if the server already died,
// and does nothing the second time.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	pid, err := readPID(s.dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Info("postgresql already stopped", "data_dir", s.dataDir)
	case err != nil:
		return fmt.Errorf("stop postgresql in %s: %w", s.dataDir, err)
	case pid != s.pid:
		s.log.Warn("not stopping postgresql: another start owns the data directory",
			"data_dir", s.dataDir, "pid", pid, "our_pid", s.pid)
	case !s.isOurPostgres(pid):
		s.log.Warn("postgresql is already gone: it died without stopping", "data_dir", s.dataDir, "pid", pid)
	default:
		if err := s.pgCtlStop(ctx, "fast"); err != nil {
			return fmt.Errorf("stop postgresql in %s: %w", s.dataDir, err)
		}
		s.log.Info("postgresql stopped", "data_dir", s.dataDir, "pid", pid)
	}
	s.stopped = true
	return s.removeOwnSocketDir()
}

// findBinaries looks for initdb and pg_ctl on PATH, then in the highest
// /usr/lib/postgresql/VERSION/bin.
func findBinaries() (initdb, pgCtl string, err error) {
	initdb, err1 := exec.LookPath("initdb")
	pgCtl, err2 := exec.LookPath("pg_ctl")
	if err1 == nil && err2 == nil {
		initdb, err1 = filepath.Abs(initdb)
		pgCtl, err2 = filepath.Abs(pgCtl)
		return initdb, pgCtl, errors.Join(err1, err2)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionLess(dirs[j], dirs[i]) })
	for _, d := range dirs {
		initdb, pgCtl = filepath.Join(d, "initdb"), filepath.Join(d, "pg_ctl")
		if isExecutable(initdb) && isExecutable(pgCtl) {
			return initdb, pgCtl, nil
		}
	}
	return "", "", ErrNoBinaries
}

// versionLess orders /usr/lib/postgresql/V/bin paths by V, numerically.
func versionLess(a, b string) bool {
	va := strings.Split(filepath.Base(filepath.Dir(a)), ".")
	vb := strings.Split(filepath.Base(filepath.Dir(b)), ".")
	for i := 0; i < len(va) && i < len(vb); i++ {
		x, _ := strconv.Atoi(va[i])
		y, _ := strconv.Atoi(vb[i])
		if x != y {
			return x < y
		}
	}
	return len(va) < len(vb)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// postgresCredential returns the postgres user's credential when running as
// root (initdb refuses root), and nil otherwise.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("look up the postgres user to run the server as (root may not; scripts/setup.sh creates it): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("parse the postgres user's uid/gid: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepareDirs makes the data directory, the log file and the socket
// directory, owned by the user the server runs as, and checks that user
// can reach them.
func (s *Server) prepareDirs(o Options) error {
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("resolve data directory: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return fmt.Errorf("create the parent of the data directory: %w", err)
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create data directory: %w", err)
	}
	if s.dataDir, err = filepath.EvalSymlinks(dataDir); err != nil {
		return fmt.Errorf("resolve data directory: %w", err)
	}
	if err := s.ownDataDir(); err != nil {
		return err
	}
	s.logFile = filepath.Join(filepath.Dir(s.dataDir), logName)
	if err := s.touchOwned(s.logFile); err != nil {
		return err
	}
	if err := s.makeSocketDir(o.SocketDir); err != nil {
		return err
	}
	return s.checkReach(s.dataDir, s.socketDir)
}

// ownDataDir gives a fresh data directory to the postgres user, and checks
// that an initialised one already belongs to it.
func (s *Server) ownDataDir() error {
	if s.cred == nil {
		return nil
	}
	if !hasCluster(s.dataDir) {
		return s.chown(s.dataDir)
	}
	fi, err := os.Stat(s.dataDir)
	if err != nil {
		return fmt.Errorf("check data directory owner: %w", err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != s.cred.Uid {
		return fmt.Errorf("data directory %s is owned by uid %d, not by the postgres user (uid %d)",
			s.dataDir, uid, s.cred.Uid)
	}
	return nil
}

func (s *Server) touchOwned(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	f.Close()
	return s.chown(path)
}

// makeSocketDir makes a private socket directory: under /tmp when dir is
// "", else dir itself, chowned only if this call created it.
func (s *Server) makeSocketDir(dir string) error {
	created := true
	if dir == "" {
		d, err := os.MkdirTemp("/tmp", "pg")
		if err != nil {
			return fmt.Errorf("create socket directory: %w", err)
		}
		s.socketDir, s.ownSocket = d, true
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("resolve socket directory: %w", err)
		}
		if err := checkSocketPath(abs); err != nil {
			return err
		}
		s.socketDir = abs
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return fmt.Errorf("create the parent of the socket directory: %w", err)
		}
		err = os.Mkdir(abs, 0o700)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create socket directory: %w", err)
		}
		created = err == nil
	}
	if !created {
		return nil
	}
	return s.chown(s.socketDir)
}

func checkSocketPath(dir string) error {
	if p := socketPath(dir); len(p) >= maxSocketPath {
		return fmt.Errorf("socket %s is %d bytes: %w", p, len(p), ErrSocketPathTooLong)
	}
	return nil
}

func socketPath(dir string) string {
	return filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d", Port))
}

// checkReach checks, when the server runs as the postgres user, that every
// directory above each path lets that user search it.
func (s *Server) checkReach(paths ...string) error {
	if s.cred == nil {
		return nil
	}
	for _, p := range paths {
		for d := filepath.Dir(p); ; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err != nil {
				return fmt.Errorf("check access to %s: %w", d, err)
			}
			if !searchable(fi, s.cred) {
				return fmt.Errorf("%s (mode %v, on the way to %s): %w: allow search (chmod o+x) or choose another directory",
					d, fi.Mode().Perm(), p, ErrNotTraversable)
			}
			if d == "/" {
				break
			}
		}
	}
	return nil
}

// searchable applies the owner/group/other x bits for cred (ACLs ignored).
func searchable(fi fs.FileInfo, cred *syscall.Credential) bool {
	st := fi.Sys().(*syscall.Stat_t)
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == cred.Uid:
		return perm&0o100 != 0
	case st.Gid == cred.Gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

func (s *Server) chown(path string) error {
	if s.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
		return fmt.Errorf("give %s to the postgres user: %w", path, err)
	}
	return nil
}

func hasCluster(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	return err == nil
}

// initdb initialises an empty data directory and leaves a cluster alone.
func (s *Server) initdb(ctx context.Context, initdb string, fsync bool) error {
	if hasCluster(s.dataDir) {
		return nil
	}
	ents, err := os.ReadDir(s.dataDir)
	if err != nil {
		return fmt.Errorf("read data directory: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("initialise %s: %w", s.dataDir, ErrNotCluster)
	}
	args := []string{"-D", s.dataDir, "-U", superuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-instructions"}
	if !fsync {
		args = append(args, "--no-sync")
	}
	start := time.Now()
	if out, err := s.run(ctx, initdb, args...); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	s.log.Info("postgresql data directory initialised", "data_dir", s.dataDir,
		"duration_ms", time.Since(start).Milliseconds())
	return nil
}

// clearLeftovers stops a postmaster of this data directory left running by
// a crashed earlier run, waits out (or kills) its orphaned backends, and
// removes a stale postmaster.pid. See the package documentation.
func (s *Server) clearLeftovers(ctx context.Context) error {
	pid, err := readPID(s.dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.log.Warn("unreadable postmaster.pid", "data_dir", s.dataDir, "err", err)
	}
	if pid > 0 && s.isOurPostgres(pid) {
		s.log.Warn("stopping a postgresql server left running by an earlier run",
			"data_dir", s.dataDir, "pid", pid)
		if err := s.pgCtlStop(ctx, "fast"); err != nil {
			return fmt.Errorf("stop the server left running: %w", err)
		}
	}
	if err := s.reapOrphans(ctx); err != nil {
		return err
	}
	if _, err := readPID(s.dataDir); errors.Is(err, fs.ErrNotExist) {
		return nil // stopped cleanly
	}
	return s.removeStaleLocks(pid)
}

// readPID reads the postmaster PID from the first line of postmaster.pid.
func readPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("parse postmaster.pid: %w", err)
	}
	return pid, nil
}

// isOurPostgres tells whether pid is a live postgres process (postmaster or
// backend) whose working directory is this data directory. Zombies fail the
// cwd read and so do not count.
func (s *Server) isOurPostgres(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	return err == nil && cwd == s.dataDir
}

func (s *Server) dataDirProcs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && s.isOurPostgres(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// reapOrphans waits for the processes of a dead postmaster to exit, and
// kills them after orphanGrace.
func (s *Server) reapOrphans(ctx context.Context) error {
	left, err := s.waitGone(ctx, orphanGrace)
	if err != nil || len(left) == 0 {
		return err
	}
	s.log.Warn("killing postgres processes left by a dead server", "data_dir", s.dataDir, "pids", left)
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if left, err = s.waitGone(ctx, 2*time.Second); err == nil && len(left) > 0 {
		err = fmt.Errorf("postgres processes %v of %s survive SIGKILL", left, s.dataDir)
	}
	return err
}

func (s *Server) waitGone(ctx context.Context, d time.Duration) ([]int, error) {
	deadline := time.Now().Add(d)
	for {
		left := s.dataDirProcs()
		if len(left) == 0 || time.Now().After(deadline) {
			return left, nil
		}
		select {
		case <-ctx.Done():
			return left, fmt.Errorf("wait for old postgres processes %v to exit: %w", left, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// removeStaleLocks removes the lock files of dead postmaster pid when a
// process still holds that PID (a zombie, or a reuse): PostgreSQL would
// take it for a live postmaster and refuse to start. A PID that is truly
// gone is left to PostgreSQL, which then also frees the old shared memory.
func (s *Server) removeStaleLocks(pid int) error {
	if pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return nil
	}
	s.log.Warn("removing stale postmaster.pid", "data_dir", s.dataDir, "pid", pid)
	err := os.Remove(filepath.Join(s.dataDir, "postmaster.pid"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale postmaster.pid: %w", err)
	}
	lock := socketPath(s.socketDir) + ".lock"
	if lockPID, err := readLockPID(lock); err == nil && lockPID == pid {
		if err := os.Remove(lock); err != nil {
			return fmt.Errorf("remove stale socket lock: %w", err)
		}
	}
	return nil
}

func readLockPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// writeConf rewrites tashi.conf with this start's settings and makes sure
// postgresql.conf includes it.
func (s *Server) writeConf(fsync bool) error {
	onOff := map[bool]string{true: "on", false: "off"}[fsync]
	settings := [][2]string{
		{"listen_addresses", "''"},
		{"port", strconv.Itoa(Port)},
		{"unix_socket_directories", confQuote(s.socketDir)},
		{"unix_socket_permissions", "0700"},
		{"max_connections", "200"},
		{"shared_buffers", "'128MB'"},
		{"fsync", onOff},
		{"synchronous_commit", onOff},
		{"full_page_writes", onOff},
	}
	var b strings.Builder
	b.WriteString("# Written by tashi (clustermanager/pgembed) at every start: edits are lost.\n")
	for _, kv := range settings {
		fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
	}
	path := filepath.Join(s.dataDir, confFile)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", confFile, err)
	}
	if err := s.chown(path); err != nil {
		return err
	}
	return ensureInclude(filepath.Join(s.dataDir, "postgresql.conf"))
}

func ensureInclude(confPath string) error {
	b, err := os.ReadFile(confPath)
	if err != nil {
		return fmt.Errorf("read postgresql.conf: %w", err)
	}
	if bytes.Contains(b, []byte("\n"+includeLine+"\n")) {
		return nil
	}
	f, err := os.OpenFile(confPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "\n# Settings of tashi's pgembed.\n%s\n", includeLine); err != nil {
		return fmt.Errorf("append the include of %s to postgresql.conf: %w", confFile, err)
	}
	return nil
}

// startServer runs pg_ctl start -w, then checks that a session works.
func (s *Server) startServer(ctx context.Context) error {
	start := time.Now()
	out, err := s.run(ctx, s.pgCtl, "start", "-D", s.dataDir, "-l", s.logFile,
		"-w", "-t", waitSeconds(ctx), "-s")
	if err != nil {
		s.stopAfterFailedStart()
		return fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, s.logTail())
	}
	if s.pid, err = readPID(s.dataDir); err != nil {
		return fmt.Errorf("read the new postmaster's pid: %w", err)
	}
	if err := s.ping(ctx); err != nil {
		s.stopAfterFailedStart()
		return fmt.Errorf("connect to the new server: %w\n%s", err, s.logTail())
	}
	s.log.Info("postgresql started", "data_dir", s.dataDir, "socket_dir", s.socketDir,
		"pid", s.pid, "log_file", s.logFile, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// stopAfterFailedStart stops a server that pg_ctl gave up waiting for, so
// a failed Start leaves nothing running.
func (s *Server) stopAfterFailedStart() {
	if _, err := readPID(s.dataDir); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.pgCtlStop(ctx, "immediate"); err != nil {
		s.log.Warn("stop the server after a failed start", "data_dir", s.dataDir, "err", err)
	}
}

func (s *Server) ping(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func (s *Server) pgCtlStop(ctx context.Context, mode string) error {
	out, err := s.run(ctx, s.pgCtl, "stop", "-D", s.dataDir, "-m", mode,
		"-w", "-t", waitSeconds(ctx), "-s")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w: %s\n%s", mode, err, out, s.logTail())
	}
	return nil
}

func (s *Server) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func (s *Server) removeOwnSocketDir() error {
	if !s.ownSocket {
		return nil
	}
	if err := os.RemoveAll(s.socketDir); err != nil {
		return fmt.Errorf("remove socket directory: %w", err)
	}
	return nil
}

// run runs a PostgreSQL program as the server's user, in its own process
// group, without the caller's PG* environment, and returns its output.
func (s *Server) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.cred}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// logTail returns the end of the server log, for error messages.
func (s *Server) logTail() string {
	f, err := os.Open(s.logFile)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > logTailBytes {
		_, _ = f.Seek(-logTailBytes, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return fmt.Sprintf("server log %s ends with:\n%s", s.logFile, strings.TrimSpace(string(b)))
}

// waitSeconds turns ctx's deadline into pg_ctl's -t argument.
func waitSeconds(ctx context.Context) string {
	d := defaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

func checkName(name string) error {
	if name == "" || len(name) > 63 || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%q: %w", name, ErrBadName)
	}
	return nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// dsnQuote quotes a keyword/value connection string value.
func dsnQuote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

// confQuote quotes a postgresql.conf string value.
func confQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
