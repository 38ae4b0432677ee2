package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Pause stops the vCPUs (idempotent).
func (d *Driver) Pause(ctx context.Context, id int64) error {
	return d.pauseOrUnpause(ctx, id, true)
}

// Unpause continues the vCPUs (idempotent).
func (d *Driver) Unpause(ctx context.Context, id int64) error {
	return d.pauseOrUnpause(ctx, id, false)
}

func (d *Driver) pauseOrUnpause(ctx context.Context, id int64, pause bool) error {
	what, want := "unpause", vmm.StateRunning
	if pause {
		what, want = "pause", vmm.StatePaused
	}
	g, err := d.mustGuest(id)
	if err != nil {
		return err
	}
	return g.op(func() error {
		if s := g.getState(); s != vmm.StateRunning && s != vmm.StatePaused {
			return fmt.Errorf("%s instance %d: %w: it is %s", what, id, ErrBadState, s)
		}
		mon, err := g.monitor()
		if err == nil {
			if pause {
				err = mon.Stop(ctx)
			} else {
				err = mon.Cont(ctx)
			}
		}
		if err != nil {
			return fmt.Errorf("%s instance %d: %w", what, id, err)
		}
		g.setState(want)
		return nil
	})
}

// Shutdown presses the ACPI power button and waits up to timeout for the
// guest to power off; then it destroys the guest. It returns when the
// guest is gone.
func (d *Driver) Shutdown(ctx context.Context, id int64, timeout time.Duration) error {
	g := d.lookup(id)
	if g == nil {
		if _, err := d.Info(ctx, id); err == nil {
			return nil // already exited
		}
		return vmm.ErrNoSuchGuest{InstanceID: id}
	}
	g.setCause("shutdown")
	mon, err := g.monitor()
	if err == nil {
		err = mon.SystemPowerdown(ctx)
	}
	if err != nil && !errors.Is(err, qmp.ErrClosed) {
		d.log.Warn("system_powerdown failed; destroying", "instance_id", id, "err", err)
		timeout = 0
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-g.finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown instance %d: %w", id, ctx.Err())
	case <-t.C:
	}
	d.log.Info("guest did not power off in time; destroying", "instance_id", id, "timeout", timeout)
	return d.destroy(ctx, g, fmt.Sprintf("shutdown: no power-off within %v, destroyed", timeout))
}

// Destroy kills the guest (QMP quit, then SIGKILL) and removes its run
// directory. Idempotent: an unknown or exited instance is cleaned up and
// nil returned.
func (d *Driver) Destroy(ctx context.Context, id int64) error {
	g := d.lookup(id)
	if g == nil {
		d.mu.Lock()
		starting := d.starting[id]
		d.mu.Unlock()
		if starting {
			return fmt.Errorf("destroy instance %d: %w: it is starting", id, ErrBadState)
		}
		return d.cleanupUnmanaged(id)
	}
	if err := d.destroy(ctx, g, "destroyed"); err != nil {
		return err
	}
	return nil
}

// destroy ends g with the given exit reason and waits until it is gone.
func (d *Driver) destroy(ctx context.Context, g *guest, cause string) error {
	g.setCause(cause)
	if mon, err := g.monitor(); err == nil {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := mon.Quit(qctx)
		cancel()
		if err != nil {
			d.log.Warn("qmp quit failed; killing", "instance_id", g.id, "err", err)
		}
	}
	if !waitClosed(ctx, g.procDone, 3*time.Second) {
		if err := g.kill(); err != nil {
			return fmt.Errorf("destroy instance %d: %w", g.id, err)
		}
		if !waitClosed(ctx, g.procDone, 10*time.Second) {
			return fmt.Errorf("destroy instance %d: pid %d still alive after SIGKILL", g.id, g.st.PID)
		}
	}
	if !waitClosed(ctx, g.finished, 10*time.Second) {
		return fmt.Errorf("destroy instance %d: exit handling did not finish", g.id)
	}
	if err := os.RemoveAll(g.p.dir); err != nil {
		return fmt.Errorf("destroy instance %d: remove run dir: %w", g.id, err)
	}
	return nil
}

// cleanupUnmanaged removes what is left of an instance the driver does
// not run: a dead guest's directory, or a live QEMU from an earlier node
// manager that was never recovered (it is killed, after checking that
// the pid still is that QEMU).
func (d *Driver) cleanupUnmanaged(id int64) error {
	p := guestDir(d.cfg.RunDir, id)
	if st, err := readState(p.state()); err == nil && isOurQEMU(st.PID, st.QMPSocket, st.StartTicks) {
		if err := signalOurs(st.PID, st.QMPSocket, st.StartTicks, syscall.SIGKILL); err != nil {
			return fmt.Errorf("destroy instance %d: %w", id, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for isOurQEMU(st.PID, st.QMPSocket, st.StartTicks) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("destroy instance %d: remove run dir: %w", id, err)
	}
	d.mu.Lock()
	delete(d.tombstones, id)
	d.mu.Unlock()
	return nil
}

// waitClosed waits up to limit (and ctx) for ch to close.
func waitClosed(ctx context.Context, ch <-chan struct{}, limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
