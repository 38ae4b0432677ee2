package qemu

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Start launches a guest, or with s.Incoming "defer" a guest waiting for
// its state. It returns once QMP answers. Starting an instance that runs
// returns its Info. On failure every step is undone (process killed, run
// directory removed) and the error carries QEMU's own message.
func (d *Driver) Start(ctx context.Context, s vmm.Spec) (vmm.Info, error) {
	id := s.InstanceID
	if id <= 0 {
		return vmm.Info{}, badOption("InstanceID", id, "must be positive")
	}
	select {
	case <-d.closing:
		return vmm.Info{}, fmt.Errorf("start instance %d: driver closed", id)
	default:
	}
	d.mu.Lock()
	if g := d.guests[id]; g != nil {
		d.mu.Unlock()
		return g.info(), nil
	}
	if d.starting[id] {
		d.mu.Unlock()
		return vmm.Info{}, fmt.Errorf("start instance %d: %w: a start is already in progress", id, ErrBadState)
	}
	d.starting[id] = true
	delete(d.tombstones, id)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.starting, id)
		d.mu.Unlock()
	}()

	start := time.Now()
	g, err := d.launch(ctx, s)
	if err != nil {
		return vmm.Info{}, fmt.Errorf("start instance %d: %w", id, err)
	}
	if err := d.register(g); err != nil {
		return vmm.Info{}, fmt.Errorf("start instance %d: %w", id, err)
	}
	d.log.Info("guest started", "instance_id", id, "pid", g.st.PID, "accel", d.accel,
		"incoming", s.Incoming, "took", time.Since(start).Round(time.Millisecond))
	return g.info(), nil
}

// options maps a spec onto the command-line options for this driver.
func (d *Driver) options(s vmm.Spec, p paths) Options {
	o := Options{Binary: d.cfg.QemuBin, Name: "tashi-" + idString(s.InstanceID), Accel: d.accel,
		Machine: d.cfg.Machine, CPU: d.cfg.CPU, Cores: s.Cores, MemoryMiB: s.MemoryMiB,
		Disks: s.Disks, NICs: s.NICs, Boot: s.Boot,
		QMPSocket: p.qmp(), SerialSocket: p.console(), SerialLog: p.serial(), VNCSocket: p.vnc(),
		VGA: d.cfg.VGA, PIDFile: p.pid(), Incoming: s.Incoming, NoReboot: !d.cfg.AllowReboot}
	if s.Machine != "" {
		o.Machine = s.Machine
	}
	if s.CPU != "" {
		o.CPU = s.CPU
	}
	o.CDROM = !d.cfg.NoCDROM && !microvm(o)
	return o
}

// launch runs the steps of a start, undoing the done ones on failure.
func (d *Driver) launch(ctx context.Context, s vmm.Spec) (_ *guest, err error) {
	p := guestDir(d.cfg.RunDir, s.InstanceID)
	o := d.options(s, p)
	args, err := Args(o)
	if err != nil {
		return nil, err
	}
	if err := d.clearStale(s.InstanceID, p); err != nil {
		return nil, err
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	undo = append(undo, func() { os.RemoveAll(p.dir) })

	cmd, err := startProcess(args, p)
	if err != nil {
		return nil, err
	}
	st := stateFile{Version: 1, InstanceID: s.InstanceID, PID: cmd.Process.Pid, StartedAt: time.Now().UTC(),
		Accel: d.accel, Spec: s, Args: args, QMPSocket: p.qmp(), Console: p.console(), VNCSocket: p.vnc(),
		SerialLog: p.serial(), CDROM: o.CDROM}
	if ps, err := readStat(st.PID); err == nil {
		st.StartTicks = ps.StartTicks
	}
	g := d.newGuest(p, st, cmd)
	go g.waitChild()
	undo = append(undo, func() { cmd.Process.Kill(); <-g.procDone })
	if err := writeJSONAtomic(p.state(), st); err != nil {
		return nil, fmt.Errorf("write state file: %w", err)
	}
	if err := g.openTranscript(); err != nil {
		return nil, err
	}
	undo = append(undo, g.closeTranscript)
	mon, err := g.connect(ctx, d.cfg.StartTimeout)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() { mon.Close() })
	if err := g.prepareMonitor(ctx, mon); err != nil {
		return nil, err
	}
	return g, nil
}

// startProcess execs QEMU in its own session (so it outlives us) with
// stdout and stderr going to RunDir/<id>/qemu.log.
func startProcess(args []string, p paths) (*exec.Cmd, error) {
	logf, err := os.OpenFile(p.stderr(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open qemu log: %w", err)
	}
	defer logf.Close()
	closeInheritedOnExec()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", args[0], err)
	}
	return cmd, nil
}

// clearStale removes a leftover run directory, unless a live QEMU of an
// earlier node manager still uses it.
func (d *Driver) clearStale(id int64, p paths) error {
	if st, err := readState(p.state()); err == nil && isOurQEMU(st.PID, st.QMPSocket, st.StartTicks) {
		return fmt.Errorf("%w: a QEMU (pid %d) from an earlier node manager still runs this instance; call Recover",
			ErrBadState, st.PID)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("remove stale run dir: %w", err)
	}
	return nil
}

// connect dials QMP until it answers, QEMU exits or the time is up.
func (g *guest) connect(ctx context.Context, limit time.Duration) (*qmp.Monitor, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		select {
		case <-g.procDone:
			return nil, g.startFailure()
		default:
		}
		mon, err := qmp.Dial(ctx, g.p.qmp(), g.monitorOptions()...)
		if err == nil {
			return mon, nil
		}
		last = err
		select {
		case <-g.procDone:
			return nil, g.startFailure()
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp did not answer within %v: %w (last error: %v)", limit, ctx.Err(), last)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// startFailure describes why QEMU exited during start-up, with its output.
func (g *guest) startFailure() error {
	status := "exited"
	if g.waitErr != nil {
		status = g.waitErr.Error()
	}
	return fmt.Errorf("qemu %s during start-up: %s", status, tailFile(g.p.stderr(), 2048))
}

// prepareMonitor enables MIGRATION events and learns the run state.
func (g *guest) prepareMonitor(ctx context.Context, mon *qmp.Monitor) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := mon.MigrateSetCapabilities(ctx, qmp.MigrationCapability{Capability: "events", State: true}); err != nil {
		return err
	}
	st, err := mon.QueryStatus(ctx)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.detached: // the driver closed meanwhile
		return fmt.Errorf("instance %d: driver closed", g.id)
	default:
	}
	g.mon = mon
	g.state = stateOf(st.Status)
	return nil
}

// stateOf maps QEMU's run state onto vmm.State.
func stateOf(status string) vmm.State {
	switch status {
	case "running":
		return vmm.StateRunning
	case "inmigrate":
		return vmm.StateIncoming
	case "finish-migrate", "save-vm", "colo":
		return vmm.StateMigrating
	}
	return vmm.StatePaused // paused, prelaunch, postmigrate, io-error, guest-panicked, ...
}

// tailFile returns the last n bytes of a file, trimmed, for messages.
func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		f.Seek(fi.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(no output)"
	}
	return s
}
