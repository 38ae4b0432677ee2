package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/agents"
	"github.com/tashi-go/tashi/api"
)

const (
	placeTarget = 2000.0 // placements/s committed end to end
	// placeExpire is the placement CM's expireHostTime: the simulated
	// hosts register once and send no heartbeat (figure 2 measures that
	// load), so they must stay up for the whole figure.
	placeExpire = "[ClusterManagerService]\nexpireHostTime = 3600"
	placePoll   = 20 * time.Millisecond // how often the pending count is read
)

// placeRun is one measured run: k agents placing the instances of
// sz.placeBatches createMany requests.
type placeRun struct {
	agents int
	burst  bool // agents held until every instance was committed, then released
	n      int  // instances created (and to be placed)
	// Times from just before the first createMany was sent:
	created         time.Duration // the last createMany answered (all committed Pending)
	placed          time.Duration // no instance Pending
	pendingAtCommit int           // still Pending when the last createMany answered
	createErrs      int
	firstErr        error

	rejected, refused int            // from the agents' logs
	reasons           map[string]int // why the CM rejected placements
	warns             int
	firstWarn         string
	firstRefusal      string   // the first plan refused whole, with the CM's error
	inFlight          int      // placements in plans still unanswered when the run ended
	inFlightPlans     int      // and those plans
	plans, snaps      routeUse // CM requests served during the window
	creates           routeUse
	perAgent          map[string]int // place events by agent account
	placeEvents       int
	distinct          int     // instances with a place event
	dbSpan            float64 // first instance's created_at → last place event, seconds
	cpu               cpuUse  // over the window
	waits             string  // what the CM's PostgreSQL backends did in a burst's window
}

// window is what the rate is over: in a burst, from the agents' release
// (every instance committed Pending) until none is Pending; streaming,
// from the first createMany sent until none is Pending.
func (r placeRun) window() time.Duration {
	if r.burst {
		return r.placed - r.created
	}
	return r.placed
}

// rate counts the instances placed in the window.
func (r placeRun) rate() float64 {
	if r.burst {
		return float64(r.pendingAtCommit) / r.window().Seconds()
	}
	return float64(r.n) / r.window().Seconds()
}

func (r placeRun) who() string {
	if r.agents == 1 {
		return "1 agent"
	}
	return fmt.Sprintf("%d agents", r.agents)
}

func (r placeRun) mode() string {
	if r.burst {
		return "burst"
	}
	return "streaming"
}

// runPlacement is figure 4: end-to-end placements/s committed through the
// CM and PostgreSQL, with 1 and with 4 scheduling-only agents, on
// sz.placeHosts simulated (registered, never heartbeating) hosts.
func runPlacement(ctx context.Context, e *env, sz sizes) (t table, err error) {
	c, err := e.startCMWith(ctx, "bench_placement", placeExpire)
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
	nm, err := c.user(ctx, "bench-nm", api.RoleNodeManager)
	if err != nil {
		return t, err
	}
	u, err := c.user(ctx, "bench-user", api.RoleUser)
	if err != nil {
		return t, err
	}
	var tokens []string
	for i := range slices.Max(sz.placeAgents) {
		a, err := c.admin.AddUser(ctx, api.AddUserRequest{Name: fmt.Sprintf("bench-agent-%d", i), Role: api.RoleAgent})
		if err != nil {
			return t, fmt.Errorf("add agent user: %w", err)
		}
		tokens = append(tokens, a.Token)
	}
	e.progress("placement: adding and registering %d hosts through the API", sz.placeHosts)
	setup := time.Now()
	if _, err := addHosts(ctx, c, nm, sz.placeHosts); err != nil {
		return t, err
	}
	hostsTook := time.Since(setup)
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		return t, fmt.Errorf("connect to watch placements: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var runs []placeRun
	round := 0
	for _, k := range sz.placeAgents {
		for _, burst := range []bool{true, false} {
			if err := resetInstances(ctx, conn); err != nil {
				return t, err
			}
			e.progress("placement: %d agent(s), %d × createMany of %d, burst %v", k, sz.placeBatches, sz.placeBatch, burst)
			r, err := placeOnce(ctx, e, c, pm, conn, u, tokens[:k], burst, round, sz)
			if err != nil {
				return t, err
			}
			round++
			e.progress("placement: %d agent(s), %s: %.0f placements/s over %s, %d placements rejected",
				k, r.mode(), r.rate(), secs(r.window()), r.rejected)
			runs = append(runs, r)
		}
	}
	return placementTable(sz, runs, hostsTook), nil
}

// resetInstances empties the record of instances (set-up between runs,
// straight in the database) so that every run starts from the same
// record: the hosts, the catalog and the users, no instance. The event
// log is append-only (a rule turns DELETE into nothing): runs read only
// the events after their own start.
func resetInstances(ctx context.Context, conn *pgx.Conn) error {
	for _, sql := range []string{`DELETE FROM instances`, `DELETE FROM instance_groups`,
		`VACUUM ANALYZE instances`, `VACUUM ANALYZE instance_groups`, `VACUUM ANALYZE events`,
		`VACUUM ANALYZE leases`, `VACUUM ANALYZE hosts`} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("reset the record (%s): %w", sql, err)
		}
	}
	return nil
}

// gate holds the agents' calls to the CM (requests not yet sent, and the
// answers of those in flight, such as a parked watch) while it is closed.
type gate struct {
	next http.RoundTripper
	mu   sync.Mutex
	open chan struct{} // closed when the gate is open
}

func newGate(next http.RoundTripper, open bool) *gate {
	g := &gate{next: next, open: make(chan struct{})}
	if open {
		close(g.open)
	}
	return g
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := g.wait(r.Context()); err != nil {
		return nil, err
	}
	resp, err := g.next.RoundTrip(r)
	if err == nil {
		if werr := g.wait(r.Context()); werr != nil {
			resp.Body.Close()
			return nil, werr
		}
	}
	return resp, err
}

// placeOnce starts k agents and waits until every one has parked its
// watch; then sends the createMany requests from sz.placeLoaders
// goroutines and waits until no instance is Pending. In a burst the
// agents' calls are held (a gate in their HTTP transport) until the last
// createMany has answered, so that they wake up to every instance
// committed Pending at once; streaming, they place while the creates go on.
func placeOnce(ctx context.Context, e *env, c *cm, pm int, conn *pgx.Conn, u *api.Client, tokens []string, burst bool, round int, sz sizes) (placeRun, error) {
	r := placeRun{agents: len(tokens), burst: burst, n: sz.placeBatches * sz.placeBatch}
	lc := newLogCount()
	var mark int64 // the event log's last id before this run
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&mark); err != nil {
		return r, fmt.Errorf("read the event log: %w", err)
	}
	g := newGate(c.tr, true)
	actx, stop := context.WithCancel(ctx)
	var agentsDone sync.WaitGroup
	defer func() { stop(); agentsDone.Wait() }()
	for i, tok := range tokens {
		cl := &api.Client{BaseURL: c.url, Token: tok, HTTP: &http.Client{Transport: g}}
		a, err := agents.New(agents.Config{Name: fmt.Sprintf("bench-place-%d", i), CM: cl, PlaceOnly: true,
			Logger: lc.logger()})
		if err != nil {
			return r, err
		}
		agentsDone.Go(func() { _ = a.Run(actx) })
	}
	if err := c.waitWatchers(ctx, len(tokens), 2*time.Minute); err != nil {
		return r, err
	}
	if burst {
		g = closeGate(g)
	}
	mBefore, err := c.readMetrics(ctx)
	if err != nil {
		return r, err
	}
	before, err := readCPU(c.pid, pm)
	if err != nil {
		return r, err
	}
	var waits *waitSampler
	start := time.Now()
	r.createErrs, r.firstErr = createBatches(ctx, u, round, sz)
	r.created = time.Since(start)
	if r.createErrs > 0 {
		return r, fmt.Errorf("createMany: %d of %d failed, first: %w", r.createErrs, sz.placeBatches, r.firstErr)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM instances WHERE state = 'Pending'`).Scan(&r.pendingAtCommit); err != nil {
		return r, fmt.Errorf("count pending instances: %w", err)
	}
	if burst {
		mid, err := c.readMetrics(ctx)
		if err != nil {
			return r, err
		}
		r.creates = routeDelta(mBefore, mid, "POST /v1/groups")
		mBefore = mid
		if before, err = readCPU(c.pid, pm); err != nil {
			return r, err
		}
		if waits, err = startWaitSampler(ctx, e.pg.DSN("postgres"), c.name, sampleWaitsIn); err != nil {
			return r, err
		}
		defer waits.finish()
		r.created = time.Since(start)
		g.release()
	}
	pending := r.pendingAtCommit
	timedOut := false
	for pending > 0 {
		if time.Since(start) > sz.placeLimit {
			timedOut = true
			break
		}
		time.Sleep(placePoll)
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM instances WHERE state = 'Pending'`).Scan(&pending); err != nil {
			return r, fmt.Errorf("count pending instances: %w", err)
		}
	}
	r.placed = time.Since(start)
	if waits != nil {
		r.waits = waits.finish()
	}
	r.rejected, r.refused, r.warns, r.firstWarn, r.reasons = lc.snapshot()
	r.firstRefusal = lc.firstRefusal()
	refusedPlans := lc.refusedPlans()
	after, err := readCPU(c.pid, pm)
	if err != nil {
		return r, err
	}
	r.cpu = before.to(after)
	mAfter, err := c.readMetrics(ctx)
	if err != nil {
		return r, err
	}
	stop()
	agentsDone.Wait()
	r.plans = routeDelta(mBefore, mAfter, "POST /v1/agent/plans")
	r.snaps = routeDelta(mBefore, mAfter, "GET /v1/agent/snapshot")
	if !burst {
		r.creates = routeDelta(mBefore, mAfter, "POST /v1/groups")
	}
	_, refused, _, _, _ := lc.snapshot()
	r.inFlight = refused - r.refused // plans cut short by stopping the agents
	r.inFlightPlans = lc.refusedPlans() - refusedPlans
	if timedOut {
		return r, fmt.Errorf("%d agent(s), %s: %d of %d instances still Pending after %s", r.agents, r.mode(), pending, r.n, sz.placeLimit)
	}
	return r, r.readRecord(ctx, conn, mark)
}

// closeGate closes an open gate.
func closeGate(g *gate) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
	return g
}

// createBatches sends sz.placeBatches createMany requests of
// sz.placeBatch instances from sz.placeLoaders goroutines.
func createBatches(ctx context.Context, u *api.Client, round int, sz sizes) (int, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var errs int
	var first error
	var wg sync.WaitGroup
	spec := api.InstanceSpec{Cores: 1, Memory: 128, Disks: []api.Disk{{URI: benchImage}}}
	for range sz.placeLoaders {
		wg.Go(func() {
			for b := next.Add(1) - 1; b < int64(sz.placeBatches) && ctx.Err() == nil; b = next.Add(1) - 1 {
				_, err := u.CreateMany(ctx, api.ManySpec{Basename: fmt.Sprintf("p%d-%d", round, b), Count: sz.placeBatch, Spec: spec})
				if err != nil {
					mu.Lock()
					errs++
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return sz.placeBatches, ctx.Err()
	}
	return errs, first
}

// readRecord reads from the event log who placed what and when.
func (r *placeRun) readRecord(ctx context.Context, conn *pgx.Conn, mark int64) error {
	rows, err := conn.Query(ctx, `SELECT actor, count(*) FROM events WHERE kind = 'place' AND id > $1
		GROUP BY actor ORDER BY actor`, mark)
	if err != nil {
		return fmt.Errorf("read place events: %w", err)
	}
	r.perAgent = map[string]int{}
	for rows.Next() {
		var actor string
		var n int
		if err := rows.Scan(&actor, &n); err != nil {
			return err
		}
		r.perAgent[actor] = n
		r.placeEvents += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return conn.QueryRow(ctx, `SELECT (SELECT count(DISTINCT instance_id) FROM events WHERE kind = 'place' AND id > $1),
		coalesce(extract(epoch FROM (SELECT max(at) FROM events WHERE kind = 'place' AND id > $1)
			- (SELECT min(created_at) FROM instances)), 0)::float8`, mark).
		Scan(&r.distinct, &r.dbSpan)
}

func placementTable(sz sizes, runs []placeRun, hostsTook time.Duration) table {
	t := table{title: fmt.Sprintf("Figure 4: end-to-end placements through the CM and PostgreSQL, %d simulated hosts", sz.placeHosts)}
	for _, r := range runs {
		w := r.who()
		if !r.burst {
			t.info(w+", streaming (placing while the creates go on): placements/s, first createMany sent → none Pending",
				fmt.Sprintf("%.0f/s (%d in %s; all committed after %s, %d still Pending then; %d placements rejected%s; %s)",
					r.rate(), r.n, secs(r.window()), secs(r.created), r.pendingAtCommit, r.rejected,
					inFlightText(r.inFlightPlans, r.inFlight), onceText(r)))
			if r.placeEvents != r.n || r.distinct != r.n {
				t.check(w+", streaming: every instance placed exactly once", fmt.Sprintf("%d / %d", r.n, r.n),
					fmt.Sprintf("%d / %d", r.placeEvents, r.distinct), false)
			}
			continue
		}
		t.check(w+", burst: placements/s, all committed Pending → none Pending", fmt.Sprintf("≥ %.0f/s", placeTarget),
			fmt.Sprintf("%.0f/s (%d in %s)", r.rate(), r.pendingAtCommit, secs(r.window())), r.rate() >= placeTarget && r.pendingAtCommit == r.n)
		t.check(w+", burst: every instance placed exactly once (place events / distinct instances)", fmt.Sprintf("%d / %d", r.n, r.n),
			fmt.Sprintf("%d / %d", r.placeEvents, r.distinct), r.placeEvents == r.n && r.distinct == r.n)
		t.info(w+", burst: plans; placements the CM rejected", fmt.Sprintf("%.0f plans (mean CM time %s); %d rejected%s%s",
			r.plans.calls, ms(r.plans.mean()), r.rejected, reasonText(r.reasons), refusedText(r.refused, r.firstRefusal))+inFlightText(r.inFlightPlans, r.inFlight))
		t.info(w+", burst: snapshots served (mean CM time)", fmt.Sprintf("%.0f (%s)", r.snaps.calls, ms(r.snaps.mean())))
		if r.agents > 1 {
			t.info(w+", burst: placements committed per agent", perAgentText(r.perAgent))
		}
		t.info(w+", burst: CPU, CM / PostgreSQL / bench (agents)", cpuText(r.cpu))
		t.info(w+", burst: the CM's PostgreSQL backends, sampled every "+sampleWaitsIn.String(), r.waits)
	}
	t.note("Set-up: %d hosts added (AddHost) and registered (Register: 64 cores, 256 GiB, version \"dev\") through the API from 32 goroutines in %s. They send no heartbeat: this CM runs with expireHostTime = 3600 s (a config file passed with --config) so they stay up; the heartbeat load is figure 2's. Before each run the instances of the previous one are deleted with SQL (set-up only) and the tables vacuumed, so every run starts from the same record: hosts, catalog, users, no instance.",
		sz.placeHosts, secs(hostsTook))
	t.note("Agents: agents.New(agents.Config{PlaceOnly: true}) in this process, each with its own agent-role account and the shipped scheduler policy (spread, default candidate limit), started before the load; the load starts once every one has parked its watch (tashi_cm_watches). Each wake-up takes a full snapshot (every host and instance), runs scheduler.Place on it and submits the plans; the CM re-verifies every placement of a plan in one transaction. Placing ends in Activating (no node manager acts here).")
	t.note("Load: %d createMany requests of %d instances (1 core, 128 MiB, one disk of a registered image, one NIC on the default network) from %d goroutines of one user without quota. Burst (the compared figure): the agents' HTTP transport holds their calls (and the answer of their parked watch) until the last createMany has answered, then releases them: the window runs from that release, every instance committed Pending, until a count of Pending instances (read every %s from a connection of the bench's own) is 0. Streaming: no hold; the window runs from just before the first createMany is sent, so it includes the creates (about %s of CM time per createMany of %d) competing with the placing for the same cores.",
		sz.placeBatches, sz.placeBatch, sz.placeLoaders, placePoll, ms(runs[0].creates.mean()), sz.placeBatch)
	t.note("Several agents that read the same snapshot compute the same plan (scheduler.Place is deterministic for a given record), so all but one of their plans are duplicates: the CM's plan transactions lock the plan's hosts in id order, a duplicate waits for the first plan to commit and then has every placement rejected as 'instance changed'. Plans still waiting when the last instance was placed are cut short when the agents are stopped.")
	t.note("Rejected placements are counted from the agents' logs (each 'placement not accepted' line is one placement the CM's re-verification turned down, e.g. an instance another agent placed first); plans and snapshots from the CM's tashi_cm_request_seconds series over the window; per-agent counts and the exactly-once check from the 'place' events in the record (actor = agent account).")
	for _, r := range runs {
		t.note("%s, %s: the record's own times (first instance's created_at → last place event's transaction start) span %.2f s; CPU over the window %s; %s; agent warnings: %d%s.",
			r.who(), r.mode(), r.dbSpan, cpuText(r.cpu), r.cpu.contention(), r.warns, firstText(r.firstWarn))
	}
	t.note("CPU: the bench process runs the agents (and, streaming, the createMany clients); all share the %d cores with the CM and PostgreSQL.", runtime.NumCPU())
	return t
}

func cpuText(u cpuUse) string {
	return fmt.Sprintf("%.2f / %.2f / %.2f core (%s / %s / %s over %s)",
		u.cores(u.cm), u.cores(u.pg), u.cores(u.lg), secs(u.cm), secs(u.pg), secs(u.lg), secs(u.wall))
}

func onceText(r placeRun) string {
	if r.placeEvents == r.n && r.distinct == r.n {
		return "each placed exactly once"
	}
	return fmt.Sprintf("**%d place events for %d distinct instances of %d**", r.placeEvents, r.distinct, r.n)
}

func reasonText(rs map[string]int) string {
	if len(rs) == 0 {
		return ""
	}
	var parts []string
	for k, v := range rs {
		parts = append(parts, fmt.Sprintf("%d %q", v, k))
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}

func refusedText(n int, first string) string {
	if n == 0 {
		return ""
	}
	if len(first) > 200 {
		first = first[:200] + "…"
	}
	return fmt.Sprintf("; %d more in plans refused whole (first: %s)", n, first)
}

func inFlightText(plans, n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d more plans (%d placements) still unanswered when the last instance was placed, cancelled with their agent", plans, n)
}

func perAgentText(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func firstText(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return " (first: `" + s + "`)"
}
