package qemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// ListenMigration makes a guest started with Incoming "defer" listen for
// a live migration on addr (host:port). With port 0 QEMU picks a free
// port and reports it (query-migrate socket-address), so there is no
// race. The answer keeps addr's host: pass the host the source can
// reach, not 0.0.0.0. Idempotent while the guest waits.
func (d *Driver) ListenMigration(ctx context.Context, id int64, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen for migration of instance %d: %w", id, badOption("addr", addr, "must be host:port"))
	}
	g, err := d.mustGuest(id)
	if err != nil {
		return "", err
	}
	var out string
	err = g.op(func() error {
		if s := g.getState(); s != vmm.StateIncoming {
			return fmt.Errorf("%w: it is %s, not started with Incoming \"defer\"", ErrBadState, s)
		}
		g.mu.Lock()
		out = g.listenAddr
		g.mu.Unlock()
		if out != "" {
			return nil
		}
		mon, err := g.monitor()
		if err != nil {
			return err
		}
		if err := mon.MigrateIncoming(ctx, "tcp:"+net.JoinHostPort(host, port)); err != nil {
			return err
		}
		if port == "0" {
			mi, err := mon.QueryMigrate(ctx)
			if err != nil {
				return err
			}
			if len(mi.SocketAddress) == 0 || mi.SocketAddress[0].Port == "" {
				return errors.New("QEMU did not report the port it listens on")
			}
			port = mi.SocketAddress[0].Port
		}
		out = net.JoinHostPort(host, port)
		g.mu.Lock()
		g.listenAddr = out
		g.mu.Unlock()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("listen for migration of instance %d on %s: %w", id, addr, err)
	}
	return out, nil
}

// Migrate sends the guest live to target (host:port of a guest in
// ListenMigration). The downtime limit and bandwidth default to the
// driver's Config. On success the local QEMU (in postmigrate) is quit.
// Stats are QEMU's: total-time, downtime and RAM bytes transferred.
func (d *Driver) Migrate(ctx context.Context, id int64, target string, downtime time.Duration, bandwidth int64) (vmm.MigrationStats, error) {
	var stats vmm.MigrationStats
	if _, _, err := net.SplitHostPort(target); err != nil {
		return stats, fmt.Errorf("migrate instance %d: %w", id, badOption("target", target, "must be host:port"))
	}
	g, err := d.mustGuest(id)
	if err != nil {
		return stats, err
	}
	err = g.op(func() error {
		stats, err = g.migrate(ctx, target, downtime, bandwidth)
		return err
	})
	if err != nil {
		return stats, fmt.Errorf("migrate instance %d to %s: %w", id, target, err)
	}
	d.endAfterMigration(ctx, g, "migrated")
	return stats, nil
}

func (g *guest) migrate(ctx context.Context, target string, downtime time.Duration, bandwidth int64) (vmm.MigrationStats, error) {
	var stats vmm.MigrationStats
	prev := g.getState()
	if prev != vmm.StateRunning && prev != vmm.StatePaused {
		return stats, fmt.Errorf("%w: it is %s", ErrBadState, prev)
	}
	mon, err := g.monitor()
	if err != nil {
		return stats, err
	}
	if bandwidth <= 0 {
		bandwidth = g.d.cfg.MigrationBandwidth
	}
	if downtime <= 0 {
		downtime = g.d.cfg.DowntimeLimit
	}
	p := qmp.MigrationParameters{MaxBandwidth: &bandwidth}
	if downtime > 0 {
		ms := max(downtime.Milliseconds(), 1)
		p.DowntimeLimit = &ms
	}
	if err := mon.MigrateSetParameters(ctx, p); err != nil {
		return stats, err
	}
	g.setState(vmm.StateMigrating)
	if err := mon.Migrate(ctx, "tcp:"+target); err != nil {
		g.setState(prev)
		return stats, err
	}
	mi, err := g.waitMigration(ctx, mon, true)
	if err != nil {
		// A failed migration leaves the source as it was.
		if st, qerr := mon.QueryStatus(context.WithoutCancel(ctx)); qerr == nil {
			g.setState(stateOf(st.Status))
		} else {
			g.setState(prev)
		}
		return stats, err
	}
	stats = vmm.MigrationStats{Total: time.Duration(mi.TotalTime) * time.Millisecond,
		Downtime: time.Duration(mi.Downtime) * time.Millisecond}
	if mi.RAM != nil {
		stats.Bytes = mi.RAM.Transferred
	}
	g.log.Info("guest migrated", "target", target, "total_ms", mi.TotalTime, "downtime_ms", mi.Downtime,
		"bytes", stats.Bytes)
	return stats, nil
}

// waitMigration waits for the current migration to end, woken by
// MIGRATION events and checking query-migrate at least every 20 ms. If
// ctx ends first an outgoing migration is cancelled.
//
// QEMU 7.2 shows an outgoing migration "completed" a moment before it
// fills in total-time and downtime (zero until then), so for outgoing
// migrations a completed status without total-time is asked again.
func (g *guest) waitMigration(ctx context.Context, mon *qmp.Monitor, outgoing bool) (qmp.MigrationInfo, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for early := 0; ; {
		mi, err := mon.QueryMigrate(ctx)
		if err != nil {
			return mi, err
		}
		switch mi.Status {
		case "completed":
			if outgoing && mi.TotalTime == 0 && early < 100 {
				early++
				time.Sleep(2 * time.Millisecond)
				continue
			}
			return mi, nil
		case "failed", "cancelled":
			desc := mi.ErrorDesc
			if desc == "" {
				desc = "no reason given"
			}
			return mi, fmt.Errorf("migration %s: %s", mi.Status, desc)
		}
		select {
		case <-g.migSignal:
		case <-tick.C:
		case <-g.procDone:
			return mi, fmt.Errorf("qemu exited during the migration: %s", tailFile(g.p.stderr(), 512))
		case <-ctx.Done():
			mon.MigrateCancel(context.WithoutCancel(ctx))
			return mi, ctx.Err()
		}
	}
}

// endAfterMigration quits a guest whose state went elsewhere (suspend
// file or live target) and waits until its exit is handled.
func (d *Driver) endAfterMigration(ctx context.Context, g *guest, cause string) {
	if err := d.destroy(context.WithoutCancel(ctx), g, cause); err != nil {
		d.log.Error("ending the source guest after migration failed", "instance_id", g.id, "err", err)
	}
}

func (g *guest) machine() string {
	if g.st.Spec.Machine != "" {
		return g.st.Spec.Machine
	}
	return g.d.cfg.Machine
}
