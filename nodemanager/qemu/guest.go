package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// guest is one QEMU process the driver runs or took over.
type guest struct {
	d   *Driver
	id  int64
	p   paths
	st  stateFile
	cmd *exec.Cmd // nil for a guest taken over by Recover (not our child)
	log *slog.Logger

	opMu sync.Mutex // one driver operation at a time (Destroy does not wait)

	mu         sync.Mutex
	mon        *qmp.Monitor
	state      vmm.State
	busy       int           // operations in progress: the state changes are theirs
	cause      string        // exit reason set by the driver before it ends the guest
	shutdown   *shutdownData // the last SHUTDOWN event
	listenAddr string        // ListenMigration's answer, for idempotency
	relays     map[string]*relay
	transcript *os.File

	migSignal   chan struct{} // poked on MIGRATION events
	resetSignal chan struct{} // poked on guest-initiated RESET events
	procDone    chan struct{} // closed when the process is gone
	waitErr     error         // cmd.Wait's result, set before procDone closes
	evDone      chan struct{} // closed when the event loop of mon ends
	finished    chan struct{} // closed after the exit is handled
	detached    chan struct{} // closed by detach (driver Close)
	detachOnce  sync.Once
}

type shutdownData struct {
	Guest  bool   `json:"guest"`
	Reason string `json:"reason"`
}

func (d *Driver) newGuest(p paths, st stateFile, cmd *exec.Cmd) *guest {
	return &guest{d: d, id: st.InstanceID, p: p, st: st, cmd: cmd,
		log: d.log.With("instance_id", st.InstanceID, "pid", st.PID), relays: map[string]*relay{},
		migSignal: make(chan struct{}, 1), resetSignal: make(chan struct{}, 1),
		procDone: make(chan struct{}), finished: make(chan struct{}), detached: make(chan struct{})}
}

// run starts watching a registered guest: its events and its exit.
func (g *guest) run() {
	g.mu.Lock()
	mon := g.mon
	g.mu.Unlock()
	if mon != nil {
		g.startEventLoop(mon)
	}
	g.d.wg.Add(1)
	go g.supervise()
}

func (g *guest) startEventLoop(mon *qmp.Monitor) {
	done := make(chan struct{})
	g.mu.Lock()
	g.evDone = done
	g.mu.Unlock()
	go func() {
		defer close(done)
		for ev := range mon.Events() {
			g.handleEvent(ev)
		}
	}()
}

// waitChild reaps our own child and records how it ended.
func (g *guest) waitChild() {
	g.waitErr = g.cmd.Wait()
	close(g.procDone)
}

// pollProc watches a guest that is not our child (after Recover): it is
// gone when /proc/<pid> no longer shows our QEMU. It looks every 250 ms,
// and every 10 ms once the monitor closed (QEMU exiting closes it).
func (g *guest) pollProc() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	fast := false
	for isOurQEMU(g.st.PID, g.st.QMPSocket, g.st.StartTicks) {
		var monDone <-chan struct{}
		if m, err := g.monitor(); err == nil && !fast {
			monDone = m.Done()
		}
		select {
		case <-t.C:
		case <-monDone:
			fast = true
			t.Reset(10 * time.Millisecond)
		case <-g.detached:
			return
		}
	}
	close(g.procDone)
}

func (g *guest) supervise() {
	defer g.d.wg.Done()
	select {
	case <-g.procDone:
		g.finish()
	case <-g.detached:
	}
}

// finish handles the end of the process: reason, cleanup, Exited event.
func (g *guest) finish() {
	g.mu.Lock()
	mon, evDone := g.mon, g.evDone
	g.mu.Unlock()
	if mon != nil {
		// The socket closes with the process; let the event loop read
		// what QEMU said last (SHUTDOWN and its reason) before deciding.
		waitClosed(context.Background(), mon.Done(), time.Second)
		mon.Close()
	}
	if evDone != nil {
		waitClosed(context.Background(), evDone, time.Second)
	}
	reason := g.exitReason()

	g.mu.Lock()
	g.state = vmm.StateExited
	cause := g.cause
	relays := g.relays
	g.relays = map[string]*relay{}
	g.mu.Unlock()
	for _, r := range relays {
		r.Close()
	}
	g.closeTranscript()
	if cause != "" {
		os.RemoveAll(g.p.dir) // we ended it: nothing to keep
	} else {
		// By itself: keep qemu.log and serial.log for a post-mortem
		// until Destroy, a new Start or the next Recover.
		for _, f := range []string{g.p.state(), g.p.qmp(), g.p.console(), g.p.vnc(), g.p.pid()} {
			os.Remove(f)
		}
	}
	inf := vmm.Info{InstanceID: g.id, VMID: strconv.Itoa(g.st.PID), State: vmm.StateExited,
		Accel: g.st.Accel, SerialLog: g.st.SerialLog, ExitReason: reason}
	g.d.mu.Lock()
	if g.d.guests[g.id] == g {
		delete(g.d.guests, g.id)
	}
	g.d.mu.Unlock()
	g.d.tombstone(inf)
	g.log.Info("guest exited", "reason", reason)
	g.d.emit(vmm.Event{InstanceID: g.id, State: vmm.StateExited, Reason: reason})
	close(g.finished)
}

// exitReason explains the exit from what the driver did, what QEMU said
// (SHUTDOWN) and how the process ended.
func (g *guest) exitReason() string {
	g.mu.Lock()
	cause, sd := g.cause, g.shutdown
	g.mu.Unlock()
	if cause != "" {
		return cause
	}
	if sd != nil {
		return shutdownReason(*sd)
	}
	if g.cmd == nil {
		return "crashed: the process ended without a SHUTDOWN event (exit status unknown: not a child of this node manager)"
	}
	ws, ok := g.cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return "exited"
	case ws.Signaled():
		return "killed: " + ws.Signal().String()
	case ws.ExitStatus() != 0:
		return fmt.Sprintf("crashed: exit status %d: %s", ws.ExitStatus(), tailFile(g.p.stderr(), 512))
	}
	return "exited"
}

func shutdownReason(sd shutdownData) string {
	switch sd.Reason {
	case "guest-shutdown":
		return "shutdown"
	case "guest-reset":
		return "shutdown: the guest rebooted and QEMU runs with -no-reboot"
	case "guest-panic":
		return "crashed: guest panic"
	case "host-signal":
		return "killed: QEMU got a termination signal"
	case "host-qmp-quit":
		return "shutdown: quit over QMP by someone else"
	}
	return "shutdown: " + sd.Reason
}

// handleEvent updates the state from QEMU's events.
func (g *guest) handleEvent(ev qmp.Event) {
	switch ev.Name {
	case "STOP":
		g.observe(vmm.StatePaused, "paused")
	case "RESUME":
		g.observe(vmm.StateRunning, "running")
	case "SHUTDOWN":
		var sd shutdownData
		json.Unmarshal(ev.Data, &sd)
		g.mu.Lock()
		g.shutdown = &sd
		g.mu.Unlock()
	case "RESET":
		var sd shutdownData
		if json.Unmarshal(ev.Data, &sd) == nil && sd.Guest {
			poke(g.resetSignal)
		}
	case "MIGRATION":
		poke(g.migSignal)
		var m struct{ Status string }
		json.Unmarshal(ev.Data, &m)
		if m.Status == "completed" && g.getState() == vmm.StateIncoming {
			// The guest received its state; RESUME came first if it
			// runs. Otherwise it stays paused, as it was at the source.
			g.observe(vmm.StatePaused, "incoming migration completed; paused as at the source")
		}
	}
}

// observe records a state QEMU reported; it is an event unless a driver
// operation caused it (or nothing changed).
func (g *guest) observe(s vmm.State, why string) {
	g.mu.Lock()
	old := g.state
	switch {
	case old == s || old == vmm.StateExited:
		g.mu.Unlock()
		return
	case old == vmm.StateMigrating && s == vmm.StatePaused:
		g.mu.Unlock()
		return // the end of an outgoing migration: the driver handles it
	}
	g.state = s
	quiet := g.busy > 0
	g.mu.Unlock()
	if old == vmm.StateIncoming && s == vmm.StateRunning {
		why = "incoming migration completed"
	}
	if !quiet {
		g.log.Info("guest changed state", "from", old, "to", s, "why", why)
		g.d.emit(vmm.Event{InstanceID: g.id, State: s, Reason: why})
	}
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// op runs f as the guest's only operation; state changes it causes are
// not reported as events.
func (g *guest) op(f func() error) error {
	g.opMu.Lock()
	defer g.opMu.Unlock()
	g.mu.Lock()
	g.busy++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.busy--
		g.mu.Unlock()
	}()
	return f()
}

func (g *guest) monitor() (*qmp.Monitor, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mon == nil {
		return nil, fmt.Errorf("instance %d: %w", g.id, ErrNoMonitor)
	}
	return g.mon, nil
}

func (g *guest) getState() vmm.State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

func (g *guest) setState(s vmm.State) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != vmm.StateExited {
		g.state = s
	}
}

func (g *guest) setCause(c string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cause = c
}

// info reports the guest with fresh CPU and memory figures from /proc.
func (g *guest) info() vmm.Info {
	inf := vmm.Info{InstanceID: g.id, VMID: strconv.Itoa(g.st.PID), State: g.getState(),
		Accel: g.st.Accel, SerialLog: g.st.SerialLog}
	if inf.State == vmm.StateExited {
		return inf
	}
	if ps, err := readStat(g.st.PID); err == nil {
		inf.CPUSeconds = ps.CPUSeconds
	}
	if rss, err := readRSS(g.st.PID); err == nil {
		inf.RSSBytes = rss
	}
	return inf
}

// kill sends SIGKILL to the guest's process, by pid and only if it is
// still our QEMU.
func (g *guest) kill() error {
	if g.cmd != nil {
		select {
		case <-g.procDone:
			return nil
		default:
		}
		if err := g.cmd.Process.Kill(); err != nil && err != os.ErrProcessDone {
			return fmt.Errorf("kill pid %d: %w", g.st.PID, err)
		}
		return nil
	}
	return signalOurs(g.st.PID, g.st.QMPSocket, g.st.StartTicks, syscall.SIGKILL)
}

// detach lets go of a guest without touching it (driver Close).
func (g *guest) detach() {
	g.detachOnce.Do(func() {
		close(g.detached)
		g.mu.Lock()
		mon, relays := g.mon, g.relays
		g.relays = map[string]*relay{}
		g.mu.Unlock()
		if mon != nil {
			mon.Close()
		}
		for _, r := range relays {
			r.Close()
		}
		g.closeTranscript()
	})
}

func (g *guest) monitorOptions() []qmp.Option {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.transcript != nil {
		return []qmp.Option{qmp.WithTranscript(g.transcript)}
	}
	return nil
}

func (g *guest) openTranscript() error {
	if !g.d.cfg.Debug {
		return nil
	}
	f, err := os.OpenFile(g.p.qmpLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open qmp transcript: %w", err)
	}
	g.mu.Lock()
	g.transcript = f
	g.mu.Unlock()
	return nil
}

func (g *guest) closeTranscript() {
	g.mu.Lock()
	f := g.transcript
	g.transcript = nil
	g.mu.Unlock()
	if f != nil {
		f.Close()
	}
}
