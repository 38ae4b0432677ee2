package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tashi-go/tashi/api"
)

// cm is one tashi-cm process serving one figure's database.
type cm struct {
	name    string
	pid     int
	dsn     string
	url     string
	admin   *api.Client
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been waited for
	waitErr error
	logPath string
	pidPath string
	tr      *http.Transport // shared by the clients of this figure
}

// startCM creates database name and runs tashi-cm on it, on a free
// loopback port, with its own state directory; it returns once
// GET /v1/health answers and the admin token is on disk.
func (e *env) startCM(ctx context.Context, name string) (*cm, error) {
	return e.startCMWith(ctx, name, "")
}

// writeCMConfig keeps the CM's image store inside the scratch directory;
// every other key keeps its shipped default.
func writeCMConfig(dir, name string) (string, error) {
	path := filepath.Join(dir, name+".cfg")
	text := fmt.Sprintf("[Vfs]\nprefix = %s\n", filepath.Join(dir, name+".vfs"))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("write CM config: %w", err)
	}
	return path, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (c *cm) start(bin, cfg, state string, port int) error {
	logf, err := os.Create(c.logPath)
	if err != nil {
		return fmt.Errorf("create CM log: %w", err)
	}
	defer logf.Close()
	c.cmd = exec.Command(bin, "--config", cfg, "--dsn", c.dsn, "--listen", "127.0.0.1",
		"--port", strconv.Itoa(port), "--state-dir", state)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.Env = cmEnv(filepath.Dir(state))
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the reaper stops it if we die
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	c.pid = c.cmd.Process.Pid
	go func() { c.waitErr = c.cmd.Wait(); close(c.exited) }()
	return os.WriteFile(c.pidPath, []byte(strconv.Itoa(c.pid)+"\n"), 0o644)
}

// cmEnv is our environment without TASHI_* overrides, with HOME in the
// scratch directory so that no ~/.tashi config is read.
func cmEnv(home string) []string {
	env := []string{"HOME=" + home}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TASHI_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

func (c *cm) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Transport: c.tr, Timeout: time.Second}
	for {
		resp, err := hc.Get(c.url + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("tashi-cm exited before it was healthy (%v); its log:\n%s", c.waitErr, tail(c.logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tashi-cm not healthy after %s; its log:\n%s", limit, tail(c.logPath))
		}
	}
}

// newTransport keeps enough idle connections for every client of a
// figure: MaxIdleConnsPerHost is at least the number of goroutines.
func newTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 5 * time.Minute,
		DisableCompression: true, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
}

// client is an API client with token that never retries: every error counts.
func (c *cm) client(token string) *api.Client {
	return &api.Client{BaseURL: c.url, Token: token, HTTP: &http.Client{Transport: c.tr}, RetryFor: time.Nanosecond}
}

// user adds an account with the role and returns its client.
func (c *cm) user(ctx context.Context, name string, role api.Role) (*api.Client, error) {
	u, err := c.admin.AddUser(ctx, api.AddUserRequest{Name: name, Role: role})
	if err != nil {
		return nil, fmt.Errorf("add user %s (%s): %w", name, role, err)
	}
	return c.client(u.Token), nil
}

// stop sends SIGTERM, waits up to 15 s, then kills.
func (c *cm) stop() error {
	defer os.Remove(c.pidPath)
	c.tr.CloseIdleConnections()
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("tashi-cm (pid %d) did not stop within 15 s of SIGTERM; killed", c.pid)
	}
}

// tail returns the end of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// logSummary counts the warnings and errors the CM logged, for the
// report: a figure measured while the CM was failing is no figure.
func (c *cm) logSummary() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return "CM log unreadable: " + err.Error()
	}
	var warns, errs int
	var first string
	for _, line := range strings.Split(string(b), "\n") {
		isErr, isWarn := strings.Contains(line, "level=ERROR"), strings.Contains(line, "level=WARN")
		if isErr {
			errs++
		} else if isWarn {
			warns++
		}
		if (isErr || isWarn) && first == "" {
			first = line
		}
	}
	if first == "" {
		return "CM log: no warnings or errors."
	}
	if len(first) > 600 {
		first = first[:600] + "…"
	}
	return fmt.Sprintf("CM log: %d errors and %d warnings; the first: `%s`", errs, warns, first)
}
