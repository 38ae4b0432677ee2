package qemu

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Recover takes over the guests an earlier node manager left running: for
// each RunDir/<id>/state.json whose pid is alive and still our QEMU (its
// command line names the QMP socket, and it started at the recorded
// tick), it reconnects QMP and watches the guest again. Directories of
// dead guests are removed and those guests reported as Exited. Guests
// this driver already runs are reported as they are. A guest whose
// monitor does not answer yet is still taken over; the driver keeps
// dialing, and operations fail with ErrNoMonitor until it answers.
func (d *Driver) Recover(ctx context.Context) ([]vmm.Info, error) {
	entries, err := os.ReadDir(d.cfg.RunDir)
	if err != nil {
		return nil, fmt.Errorf("recover: read run dir: %w", err)
	}
	var out []vmm.Info
	for _, e := range entries {
		id, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || id <= 0 || !e.IsDir() {
			continue
		}
		if inf, ok := d.recoverOne(ctx, id); ok {
			out = append(out, inf)
		}
	}
	return out, nil
}

func (d *Driver) recoverOne(ctx context.Context, id int64) (vmm.Info, bool) {
	d.mu.Lock()
	g, starting := d.guests[id], d.starting[id]
	d.mu.Unlock()
	if g != nil {
		return g.info(), true
	}
	if starting {
		return vmm.Info{}, false
	}
	p := guestDir(d.cfg.RunDir, id)
	st, err := readState(p.state())
	if err != nil {
		// Logs of a guest that exited by itself, or a half-made dir.
		d.log.Info("recover: removing run dir without a live guest", "instance_id", id, "err", err)
		os.RemoveAll(p.dir)
		return vmm.Info{}, false
	}
	if !isOurQEMU(st.PID, st.QMPSocket, st.StartTicks) {
		inf := vmm.Info{InstanceID: id, VMID: strconv.Itoa(st.PID), State: vmm.StateExited, Accel: st.Accel,
			SerialLog: st.SerialLog, ExitReason: "crashed: found gone after a node manager restart (exit status unknown)"}
		d.log.Warn("recover: guest is gone; removing its run dir", "instance_id", id, "pid", st.PID)
		os.RemoveAll(p.dir)
		d.tombstone(inf)
		return inf, true
	}
	g = d.newGuest(p, st, nil)
	if err := g.openTranscript(); err != nil {
		d.log.Warn("recover: no qmp transcript", "instance_id", id, "err", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	mon, err := qmp.Dial(dctx, st.QMPSocket, g.monitorOptions()...)
	if err == nil {
		err = g.prepareMonitor(dctx, mon)
		if err != nil {
			mon.Close()
		}
	}
	cancel()
	if err != nil {
		d.log.Error("recover: guest runs but its monitor does not answer; will keep trying",
			"instance_id", id, "pid", st.PID, "err", err)
		g.state = vmm.StateRunning // unknown; the most likely
	}
	if rerr := d.register(g); rerr != nil {
		return vmm.Info{}, false
	}
	go g.pollProc()
	if err != nil {
		go g.reconnect()
	}
	d.log.Info("recovered guest", "instance_id", id, "pid", st.PID, "state", g.getState())
	return g.info(), true
}

// reconnect dials a recovered guest's monitor until it answers (or the
// guest or the driver goes away).
func (g *guest) reconnect() {
	for {
		select {
		case <-g.procDone:
			return
		case <-g.detached:
			return
		case <-time.After(time.Second):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		mon, err := qmp.Dial(ctx, g.st.QMPSocket, g.monitorOptions()...)
		if err == nil {
			if err = g.prepareMonitor(ctx, mon); err != nil {
				mon.Close()
			}
		}
		cancel()
		if err == nil {
			g.log.Info("monitor reconnected")
			g.startEventLoop(mon)
			return
		}
	}
}
