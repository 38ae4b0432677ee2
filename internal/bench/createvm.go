package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tashi-go/tashi/api"
)

const (
	benchImage    = "bench.qcow2"
	createTarget  = 10 * time.Millisecond // p99 at 32 clients
	sampleWaitsIn = 20 * time.Millisecond
)

// runCreateVM is figure 1: createVm through the API from concurrent
// keep-alive clients, one user without quota, unique names.
func runCreateVM(ctx context.Context, e *env, sz sizes) (t table, err error) {
	c, err := e.startCM(ctx, "bench_createvm")
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
	if err := catalog(ctx, c); err != nil {
		return t, err
	}
	u, err := c.user(ctx, "bench-user", api.RoleUser)
	if err != nil {
		return t, err
	}
	shared := repeat(u, sz.createClients)
	e.progress("createVm: warm-up, %d requests", sz.createWarmup)
	if w := createLoad(ctx, shared, sz.createWarmup, "warm"); w.errs > 0 {
		return t, fmt.Errorf("createVm warm-up: %d of %d failed, first: %w", w.errs, sz.createWarmup, w.firstErr)
	}
	res, cpu, waitNote, err := measureCreate(ctx, e, c, pm, shared, sz)
	if err != nil {
		return t, err
	}
	e.progress("createVm: open loop, %d clients offering %d requests/s", sz.createClients, pacedRate)
	paced := createPaced(ctx, shared, pacedRate, sz.createWarmup*2, "paced")
	e.progress("createVm: diagnostic run, one user per client")
	diag, err := createPerUser(ctx, c, sz)
	if err != nil {
		return t, err
	}
	e.progress("createVm: PostgreSQL floor run, no CM")
	floor, floorPG, err := measureFloor(ctx, e, pm, sz)
	if err != nil {
		return t, err
	}
	t = createTable(sz, res, cpu, diag, floor, floorPG, waitNote)
	pd := summarize(paced.lat)
	t.check(fmt.Sprintf("latency p99, open loop: %d clients offering %d requests/s", sz.createClients, pacedRate),
		"< "+ms(createTarget), fmt.Sprintf("%s (p50 %s, %d errors)", ms(pd.p99), ms(pd.p50), paced.errs),
		pd.p99 < createTarget && paced.errs == 0)
	t.note("The open-loop row sends requests on a fixed schedule (%d/s spread over the %d clients) and measures each from its scheduled start, so queueing behind a slow request counts; the closed-loop rows above keep %d requests in flight at all times, which on 2 cores saturates the CPU (about 2 ms of CPU per request across CM, PostgreSQL and the load generator), so their latency is mostly queueing (Little's law: 32 in flight / ~1,000 per s = ~32 ms).", pacedRate, sz.createClients, sz.createClients)
	return t, nil
}

// pacedRate is the open-loop offered load: about a third of what this
// machine completes when saturated.
const pacedRate = 300

// createPaced sends n createVm requests at rate per second on a fixed
// schedule, round-robin over the clients; latency runs from each
// request's scheduled time.
func createPaced(ctx context.Context, clients []*api.Client, rate, n int, prefix string) loadResult {
	res := loadResult{n: n, lat: make([]time.Duration, n)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	gap := time.Second / time.Duration(rate)
	start := time.Now().Add(10 * time.Millisecond)
	for c, cl := range clients {
		wg.Go(func() {
			for k := c; k < n && ctx.Err() == nil; k += len(clients) {
				due := start.Add(time.Duration(k) * gap)
				time.Sleep(time.Until(due))
				spec := api.InstanceSpec{Name: fmt.Sprintf("%s-%d", prefix, k), Cores: 1, Memory: 128,
					Disks: []api.Disk{{URI: benchImage}}}
				_, err := cl.CreateVM(ctx, spec)
				res.lat[k] = time.Since(due)
				if err != nil {
					mu.Lock()
					res.errs++
					res.firstErr = cmpErr(res.firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res
}

// measureCreate is the measured run: the requests, the CPU used meanwhile
// and what PostgreSQL's backends were doing.
func measureCreate(ctx context.Context, e *env, c *cm, pm int, clients []*api.Client, sz sizes) (loadResult, cpuUse, string, error) {
	e.progress("createVm: %d requests from %d clients", sz.createRequests, len(clients))
	waits, err := startWaitSampler(ctx, e.pg.DSN("postgres"), c.name, sampleWaitsIn)
	if err != nil {
		return loadResult{}, cpuUse{}, "", err
	}
	defer waits.finish()
	before, err := readCPU(c.pid, pm)
	if err != nil {
		return loadResult{}, cpuUse{}, "", err
	}
	res := createLoad(ctx, clients, sz.createRequests, "vm")
	after, err := readCPU(c.pid, pm)
	return res, before.to(after), waits.finish(), err
}

// measureFloor runs floorRun and reads PostgreSQL's CPU around it.
func measureFloor(ctx context.Context, e *env, pm int, sz sizes) (loadResult, time.Duration, error) {
	before, err := serverCPU(pm)
	if err != nil {
		return loadResult{}, 0, err
	}
	r, err := floorRun(ctx, e, sz.createClients, sz.createRequests)
	if err != nil {
		return r, 0, err
	}
	after, err := serverCPU(pm)
	return r, after - before, err
}

// catalog adds what a createVm needs: an image and the default network.
func catalog(ctx context.Context, c *cm) error {
	if _, err := c.admin.AddImage(ctx, api.AddImageRequest{Name: benchImage, Size: 1 << 30}); err != nil {
		return fmt.Errorf("add image: %w", err)
	}
	n := api.Network{Name: "default", Kind: "bridge", CIDR: "10.128.0.0/16", Default: true}
	if _, err := c.admin.AddNetwork(ctx, n); err != nil {
		return fmt.Errorf("add the default network: %w", err)
	}
	return nil
}

func repeat(cl *api.Client, n int) []*api.Client {
	out := make([]*api.Client, n)
	for i := range out {
		out[i] = cl
	}
	return out
}

// createPerUser repeats the run with one user per client: the CM locks
// the owner's row for the quota check, so this shows what that lock costs.
func createPerUser(ctx context.Context, c *cm, sz sizes) (loadResult, error) {
	clients := make([]*api.Client, sz.createClients)
	for i := range clients {
		u, err := c.user(ctx, fmt.Sprintf("bench-user-%d", i), api.RoleUser)
		if err != nil {
			return loadResult{}, err
		}
		clients[i] = u
	}
	return createLoad(ctx, clients, sz.createRequests, "per-user"), nil
}

// loadResult is one run of concurrent requests.
type loadResult struct {
	n        int
	lat      []time.Duration
	errs     int
	firstErr error
	wall     time.Duration
}

func (r loadResult) rate() float64 { return float64(r.n) / r.wall.Seconds() }

// createLoad sends n createVm requests from one goroutine per client,
// each taking the next request number until all are sent.
func createLoad(ctx context.Context, clients []*api.Client, n int, prefix string) loadResult {
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{n: n, lat: make([]time.Duration, 0, n)}
	var wg sync.WaitGroup
	start := time.Now()
	for _, cl := range clients {
		wg.Go(func() {
			var lat []time.Duration
			var errs int
			var first error
			for k := next.Add(1) - 1; k < int64(n) && ctx.Err() == nil; k = next.Add(1) - 1 {
				spec := api.InstanceSpec{Name: fmt.Sprintf("%s-%d", prefix, k), Cores: 1, Memory: 128,
					Disks: []api.Disk{{URI: benchImage}}}
				t0 := time.Now()
				_, err := cl.CreateVM(ctx, spec)
				lat = append(lat, time.Since(t0))
				if err != nil {
					errs++
					first = cmpErr(first, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.lat = append(res.lat, lat...)
			res.errs += errs
			res.firstErr = cmpErr(res.firstErr, first)
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func createTable(sz sizes, r loadResult, cpu cpuUse, diag, floor loadResult, floorPG time.Duration, waits string) table {
	t := table{title: fmt.Sprintf("Figure 1: createVm through the API, %d concurrent clients", sz.createClients)}
	d := summarize(r.lat)
	t.check("requests that succeeded", "all", fmt.Sprintf("%d of %d", r.n-r.errs, r.n), r.errs == 0)
	t.info("throughput", fmt.Sprintf("%.0f requests/s", r.rate()))
	t.info("latency p50", ms(d.p50))
	t.check("latency p99", "< "+ms(createTarget), ms(d.p99), d.p99 < createTarget && r.errs == 0)
	t.info("latency max", ms(d.max))
	per := func(x time.Duration) string {
		return fmt.Sprintf("%.2f CPU-s (%.0f µs/request)", x.Seconds()*1000/float64(r.n), float64(x.Microseconds())/float64(r.n))
	}
	t.info("CM CPU per 1,000 requests", per(cpu.cm))
	t.info("PostgreSQL CPU per 1,000 requests", per(cpu.pg))
	t.info("load generator CPU per 1,000 requests", per(cpu.lg))
	dd := summarize(diag.lat)
	t.info("diagnostic: same run with one user per client: p50 / p99 / throughput",
		fmt.Sprintf("%s / %s / %.0f requests/s (%d errors)", ms(dd.p50), ms(dd.p99), diag.rate(), diag.errs))
	fd := summarize(floor.lat)
	t.info("diagnostic: PostgreSQL floor, no CM (BEGIN; INSERT; pg_notify; COMMIT): p50 / p99 / throughput",
		fmt.Sprintf("%s / %s / %.0f transactions/s, PostgreSQL %s (%d errors)", ms(fd.p50), ms(fd.p99), floor.rate(), per(floorPG), floor.errs))
	if r.firstErr != nil {
		t.note("first error: %v", r.firstErr)
	}
	t.note("Each client is a goroutine with a keep-alive api.Client (shared http.Transport, MaxIdleConnsPerHost 1024, no retries); requests go to one user with no quota, each with a new name (createVm of 1 core, 128 MiB, one disk of a registered image, one NIC on the default network).")
	t.note("Latency is from just before api.Client.CreateVM to its return: JSON encoding, the HTTP round trip over loopback, the CM's one transaction with its commit (fsync), and decoding the answer. %d warm-up requests first fill the connection pools.", sz.createWarmup)
	t.note("CPU is over the %d measured requests (%s wall): CM %s, PostgreSQL %s, load generator %s; %s.", r.n, secs(cpu.wall), secs(cpu.cm), secs(cpu.pg), secs(cpu.lg), cpu.contention())
	t.note("PostgreSQL backends of the CM, sampled every %s from pg_stat_activity during the measured run: %s.", sampleWaitsIn, waits)
	t.note("Diagnostics (no target): the per-user row repeats the run with %d users, one per client, to show whether one owner's requests serialize (the quota check locks per owner). The floor row is the smallest durable, notifying transaction sent straight to PostgreSQL from %d pgx connections (same count, same machine, same fsync): no CM, no HTTP, 4 round trips instead of createVm's dozen or so; it bounds what createVm can reach on this machine.", sz.createClients, sz.createClients)
	return t
}
