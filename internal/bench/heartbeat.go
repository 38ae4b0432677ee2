package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
)

const hbTargetCores = 0.25 // of one core, at 10,000 hosts every 10 s

// simHost is one simulated node manager: the heartbeat it sends, the
// same every time.
type simHost struct {
	hb api.Heartbeat
}

// runHeartbeat is figure 2: many hosts, each heartbeating its VMs.
func runHeartbeat(ctx context.Context, e *env, sz sizes) (t table, err error) {
	c, err := e.startCM(ctx, "bench_heartbeat")
	if err != nil {
		return t, err
	}
	defer func() {
		err = errors.Join(err, c.stop())
		t.note("%s", c.logSummary())
	}()
	pm, err := e.postmaster()
	if err != nil {
		return t, err
	}
	nm, err := c.user(ctx, "bench-nm", api.RoleNodeManager)
	if err != nil {
		return t, err
	}
	if _, err := c.user(ctx, "bench-owner", api.RoleUser); err != nil {
		return t, err
	}
	setupStart := time.Now()
	e.progress("heartbeat: adding and registering %d hosts through the API", sz.hbHosts)
	ids, err := addHosts(ctx, c, nm, sz.hbHosts)
	if err != nil {
		return t, err
	}
	hostsTook := time.Since(setupStart)
	e.progress("heartbeat: placing %d instances with SQL", sz.hbHosts*sz.hbVMs)
	hosts, err := placeInstances(ctx, c.dsn, ids, sz.hbVMs)
	if err != nil {
		return t, err
	}
	run := hbRun{sz: sz, hosts: hosts, nm: nm, cmPID: c.pid, pm: pm, hostsTook: hostsTook, setupTook: time.Since(setupStart)}
	if err := run.coldStart(ctx, e, c.dsn); err != nil {
		return t, err
	}
	e.progress("heartbeat: measured window of %s at %.0f heartbeats/s", sz.hbWindow, run.offered())
	if run.steady, err = run.measure(ctx, func() paced {
		return run.send(ctx, run.interval(), int(sz.hbWindow/run.interval()))
	}); err != nil {
		return t, err
	}
	return run.table(), nil
}

// addHosts adds and registers n hosts from 32 goroutines; it returns
// their ids in name order.
func addHosts(ctx context.Context, c *cm, nm *api.Client, n int) ([]int64, error) {
	ids := make([]int64, n)
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for k := next.Add(1) - 1; k < int64(n) && ctx.Err() == nil; k = next.Add(1) - 1 {
				id, err := addHost(ctx, c, nm, fmt.Sprintf("hb-%05d", k))
				if err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					return
				}
				ids[k] = id
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return ids, first
}

func addHost(ctx context.Context, c *cm, nm *api.Client, name string) (int64, error) {
	if _, err := c.admin.AddHost(ctx, api.AddHostRequest{Name: name}); err != nil {
		return 0, fmt.Errorf("add host %s: %w", name, err)
	}
	r, err := nm.Register(ctx, api.RegisterRequest{Name: name, Version: "dev", Cores: 64, Memory: 256 * 1024,
		Stats: api.HostStats{Load1: 0.5, FreeMemory: 200 * 1024, Accel: "kvm"}})
	if err != nil {
		return 0, fmt.Errorf("register host %s: %w", name, err)
	}
	return r.HostID, nil
}

// placeInstances inserts vms Running instances on every host straight
// into the record (set-up only: 100,000 createVm + placements through the
// API would take minutes) and builds each host's heartbeat.
func placeInstances(ctx context.Context, dsn string, ids []int64, vms int) ([]simHost, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to place instances: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, `INSERT INTO instances (name, user_id, state, host_id, cores, memory, disks, vm_id)
		SELECT h.name || '-vm' || g, u.id, 'Running', h.id, 1, 128, '[{"uri":"bench.qcow2"}]', 'qemu-' || h.id || '-' || g
		FROM hosts h CROSS JOIN generate_series(0, $1::int - 1) g JOIN users u ON u.name = 'bench-owner'
		ORDER BY h.id, g`, vms)
	if err != nil {
		return nil, fmt.Errorf("insert instances: %w", err)
	}
	for _, sql := range []string{`VACUUM ANALYZE instances`, `ANALYZE hosts`} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("%s: %w", sql, err)
		}
	}
	rows, err := conn.Query(ctx, `SELECT host_id, id, vm_id FROM instances WHERE host_id IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read placed instances: %w", err)
	}
	reports := map[int64][]api.VMReport{}
	for rows.Next() {
		var host int64
		var r api.VMReport
		if err := rows.Scan(&host, &r.InstanceID, &r.VMID); err != nil {
			return nil, err
		}
		r.State, r.CPUSeconds, r.RSS = api.Running, 12.5, 100<<20
		reports[host] = append(reports[host], r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	hosts := make([]simHost, len(ids))
	for i, id := range ids {
		hosts[i] = simHost{hb: api.Heartbeat{HostID: id, VMs: reports[id],
			Stats: api.HostStats{Load1: 0.5, FreeMemory: 200 * 1024, Accel: "kvm"}}}
	}
	return hosts, nil
}

func (r *hbRun) table() table {
	sz, s, c := r.sz, r.steady, r.cold
	t := table{title: fmt.Sprintf("Figure 2: heartbeats, %d hosts × %d VMs every %.0f s", len(r.hosts), sz.hbVMs, sz.hbPeriod.Seconds())}
	d := summarize(s.lat)
	both := s.cpu.cores(s.cpu.cm + s.cpu.pg)
	t.check("heartbeats answered 200", "all", fmt.Sprintf("%d of %d", s.sent-s.errs, s.sent), s.errs == 0)
	t.check("heartbeats/s absorbed", fmt.Sprintf("%.0f/s offered", r.offered()), fmt.Sprintf("%.0f/s", s.rate()),
		s.errs == 0 && s.rate() >= 0.97*r.offered())
	t.check("CPU, CM + PostgreSQL (compared to the target)", fmt.Sprintf("< %.2f core", hbTargetCores), coreShare(both), both < hbTargetCores)
	t.check("CPU, CM process alone (the CM-only reading)", fmt.Sprintf("< %.2f core", hbTargetCores), coreShare(s.cpu.cores(s.cpu.cm)), s.cpu.cores(s.cpu.cm) < hbTargetCores)
	t.info("CPU, PostgreSQL alone", coreShare(s.cpu.cores(s.cpu.pg)))
	t.info("CPU, load generator (same machine)", coreShare(s.cpu.cores(s.cpu.lg)))
	t.info("heartbeat call latency p50 / p99 / max", ms(d.p50)+" / "+ms(d.p99)+" / "+ms(d.max))
	t.info("worst start behind schedule", ms(s.maxLag))
	absorbed := secs(r.absorbed)
	if !r.settled {
		absorbed = "not within " + secs(r.absorbed)
	}
	t.info("first round after a CM start: absorbed after", absorbed)
	t.info("first round after a CM start: CPU, CM / PostgreSQL", fmt.Sprintf("%s / %s (%s / %s over %s)",
		coreShare(c.cpu.cores(c.cpu.cm)), coreShare(c.cpu.cores(c.cpu.pg)), secs(c.cpu.cm), secs(c.cpu.pg), secs(c.cpu.wall)))
	if s.firstErr != nil || c.firstErr != nil {
		t.note("first errors: measured window %v; first round %v", s.firstErr, c.firstErr)
	}
	t.note("Set-up: %d hosts added (AddHost) and registered (Register, version \"dev\") through the API from 32 goroutines in %s; then %d Running instances (%d per host) inserted on their hosts with SQL straight into the database (set-up only), then VACUUM ANALYZE; set-up total %s.",
		len(r.hosts), secs(r.hostsTook), len(r.hosts)*sz.hbVMs, sz.hbVMs, secs(r.setupTook))
	t.note("Each heartbeat carries the host's stats and its %d VMs as Running (as recorded): api.Client.SendHeartbeat with one nodemanager token for all hosts, from %d goroutines over keep-alive connections, slots paced evenly (one every %s).",
		sz.hbVMs, sz.hbWorkers, r.interval())
	t.note("First round: every host sends once (over %s), as after a CM start, when the CM has seen no VM report yet and reconciles each against the record; the hosts then keep heartbeating at the steady rate until the CM has absorbed the round (it stopped reading the instances table for %s, per pg_stat_user_tables, and holds no transaction open longer than %s; %d heartbeats, %d errors in that phase). Then the measured window (%s wall, %d heartbeats) gives the steady state compared to the target.",
		sz.hbColdFor, settleQuiet, settleLongTx, c.sent, c.errs, secs(s.cpu.wall), s.sent)
	t.note("During the measured window %s.", s.cpu.contention())
	t.note("The target bounds the record keeper's cost, so CM + PostgreSQL is what is compared; the CM process alone is shown against the same bound in case the target means the CM only. The load generator shares the %d cores with both.", runtime.NumCPU())
	return t
}
