package moosefstest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// daemon is one started process (in the foreground, in its own process
// group) with its output in a log file.
type daemon struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	err  error         // from Wait, valid after done
}

// startDaemon starts argv with output to logPath. The process leads a new
// process group (so its children die with it) and gets SIGKILL if this
// process dies.
func startDaemon(name, logPath string, argv ...string) (*daemon, error) {
	path, err := lookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(path, argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// exited reports whether the process has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to timeout for the process to end by itself.
func (d *daemon) waitExit(timeout time.Duration) bool {
	select {
	case <-d.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// kill sends SIGKILL to the daemon's process group (by its recorded id) and
// waits for the daemon to be reaped.
func (d *daemon) kill() error {
	if d.exited() {
		return nil
	}
	pgid := d.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (process group %d): %w", d.name, pgid, err)
	}
	if !d.waitExit(10 * time.Second) {
		return fmt.Errorf("kill %s (process group %d): still running after 10s", d.name, pgid)
	}
	return nil
}

// logTail returns the last lines of the daemon's log, for error messages.
func (d *daemon) logTail() string {
	b, err := os.ReadFile(d.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(string(bytes.TrimSpace(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return d.name + " log: " + strings.Join(lines, " | ")
}
