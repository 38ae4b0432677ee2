package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/agents"
	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
	"github.com/tashi-go/tashi/images"
	"github.com/tashi-go/tashi/internal/pki"
	"github.com/tashi-go/tashi/nodemanager"
	"github.com/tashi-go/tashi/nodemanager/simvmm"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

const (
	actTarget = 20 * time.Millisecond // p50, createVm commit → instantiate
	actImage  = "sim.img"
	actHost   = "act-host"
	actLimit  = 30 * time.Second // one activation may take this long before the figure fails
)

// stampVMM is the simulated back end with a clock: it notes when Start
// is entered, per instance, before the Sim's own (fake) start latency.
type stampVMM struct {
	vmm.VMM
	mu sync.Mutex
	at map[int64]time.Time
}

func (s *stampVMM) Start(ctx context.Context, spec vmm.Spec) (vmm.Info, error) {
	now := time.Now()
	s.mu.Lock()
	if _, ok := s.at[spec.InstanceID]; !ok {
		s.at[spec.InstanceID] = now
	}
	s.mu.Unlock()
	return s.VMM.Start(ctx, spec)
}

func (s *stampVMM) startedAt(id int64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[id]
	return t, ok
}

// callTrace records when each of the agent's calls to the CM was sent and
// answered: the round's timeline between the createVm and the Start.
type callTrace struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []traced
}

type traced struct {
	what       string // method and path
	sent, done time.Time
}

func (c *callTrace) RoundTrip(r *http.Request) (*http.Response, error) {
	sent := time.Now()
	resp, err := c.next.RoundTrip(r)
	// The agent reads the body right after; the headers' arrival is when
	// the CM answered.
	c.mu.Lock()
	c.log = append(c.log, traced{what: r.Method + " " + r.URL.Path, sent: sent, done: time.Now()})
	c.mu.Unlock()
	return resp, err
}

// firstAfter is the first call matching what (a prefix of method and
// path) answered after t, and whether there is one.
func (c *callTrace) firstAfter(t time.Time, what string) (traced, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.log {
		if x.done.After(t) && len(x.what) >= len(what) && x.what[:len(what)] == what {
			return x, true
		}
	}
	return traced{}, false
}

// actSample is one createVm's way to its node manager.
type actSample struct {
	send, ret, start, running time.Time
	wake, plan, claim         time.Time // agent's watch answered, plan answered, claim granted
}

// runActivation is figure 5: latency from a createVm commit to the node
// manager's instantiate (the simulated back end's Start), with a real
// node manager on simvmm, over mutual TLS, and one in-process agent.
func runActivation(ctx context.Context, e *env, sz sizes) (t table, err error) {
	const name = "bench_activation"
	c, err := e.startCM(ctx, name)
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
	st := images.Store{Prefix: e.vfsDir(name)}
	if err := actImageStore(ctx, c, st); err != nil {
		return t, err
	}
	nmUser, err := c.admin.AddUser(ctx, api.AddUserRequest{Name: "bench-nm", Role: api.RoleNodeManager})
	if err != nil {
		return t, fmt.Errorf("add node manager user: %w", err)
	}
	agUser, err := c.admin.AddUser(ctx, api.AddUserRequest{Name: "bench-agent", Role: api.RoleAgent})
	if err != nil {
		return t, fmt.Errorf("add agent user: %w", err)
	}
	u, err := c.user(ctx, "bench-user", api.RoleUser)
	if err != nil {
		return t, err
	}
	if _, err := c.admin.AddHost(ctx, api.AddHostRequest{Name: actHost}); err != nil {
		return t, fmt.Errorf("add host %s: %w", actHost, err)
	}
	pkiDir := filepath.Join(e.dir, name+".pki")
	nmLogs, agLogs := newLogCount(), newLogCount()
	stamp := &stampVMM{VMM: simvmm.New(simvmm.Config{CheckDisks: true, Logger: nmLogs.logger()}), at: map[int64]time.Time{}}
	defer stamp.VMM.(*simvmm.Sim).Close()
	rctx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() { stop(); running.Wait() }()
	if err := startActNM(rctx, &running, c, pkiDir, nmUser.Token, st, stamp, nmLogs); err != nil {
		return t, err
	}
	trace := &callTrace{next: c.tr}
	if err := startActAgent(rctx, &running, c, pkiDir, agUser.Token, trace, agLogs); err != nil {
		return t, err
	}
	if err := c.waitWatchers(ctx, 1, 30*time.Second); err != nil {
		return t, err
	}
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		return t, fmt.Errorf("connect to watch the record: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+store.Channel); err != nil {
		return t, fmt.Errorf("listen on %s: %w", store.Channel, err)
	}
	e.progress("activation: %d createVm rounds after %d warm-up rounds", sz.actRounds, sz.actWarmup)
	before, err := readCPU(c.pid, pm)
	if err != nil {
		return t, err
	}
	var got []actSample
	for i := range sz.actWarmup + sz.actRounds {
		s, err := actRound(ctx, c, conn, u, stamp, trace, fmt.Sprintf("act-%d", i), api.Disk{URI: actImage})
		if err != nil {
			return t, err
		}
		if i >= sz.actWarmup {
			got = append(got, s)
		}
	}
	after, err := readCPU(c.pid, pm)
	if err != nil {
		return t, err
	}
	e.progress("activation: diagnostic, %d rounds with a persistent disk (no overlay)", sz.actDiagRounds)
	var pers []actSample
	for i := range sz.actDiagRounds {
		img := fmt.Sprintf("act-p-%d.img", i)
		if err := actPersistentImage(ctx, c, st, img); err != nil {
			return t, err
		}
		s, err := actRound(ctx, c, conn, u, stamp, trace, fmt.Sprintf("act-p-%d", i), api.Disk{URI: img, Persistent: true})
		if err != nil {
			return t, err
		}
		pers = append(pers, s)
	}
	prep := overlayCost(ctx, st, sz.actWarmup+sz.actRounds)
	return activationTable(sz, got, pers, before.to(after), prep, nmLogs, agLogs), nil
}

// actImageStore makes the image store the node manager overlays from (the
// CM's own [Vfs] prefix) with a 1 MiB raw base image, and registers it.
func actImageStore(ctx context.Context, c *cm, st images.Store) error {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		return fmt.Errorf("the node manager makes disk overlays with qemu-img, which is not on PATH (scripts/setup.sh installs it): %w", err)
	}
	if err := st.Init(); err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	base := filepath.Join(st.ImagesDir(), actImage)
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "raw", base, "1M").CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-img create %s: %w\n%s", base, err, out)
	}
	_, err := c.admin.AddImage(ctx, api.AddImageRequest{Name: actImage, Size: 1 << 20})
	if err != nil && !api.IsCode(err, api.CodeDuplicate) {
		return fmt.Errorf("add image %s: %w", actImage, err)
	}
	return nil
}

// actPersistentImage makes and registers a 1 MiB raw image (a sparse
// file, which qemu-img reads as raw) for one persistent disk.
func actPersistentImage(ctx context.Context, c *cm, st images.Store, name string) error {
	f, err := os.Create(filepath.Join(st.ImagesDir(), name))
	if err == nil {
		err = errors.Join(f.Truncate(1<<20), f.Close())
	}
	if err != nil {
		return fmt.Errorf("make image %s: %w", name, err)
	}
	if _, err := c.admin.AddImage(ctx, api.AddImageRequest{Name: name, Size: 1 << 20}); err != nil && !api.IsCode(err, api.CodeDuplicate) {
		return fmt.Errorf("add image %s: %w", name, err)
	}
	return nil
}

// startActNM runs a real node manager on the stamped Sim, with mutual TLS
// from a private CA, and returns once it has registered.
func startActNM(ctx context.Context, wg *sync.WaitGroup, c *cm, pkiDir, token string, st images.Store, v vmm.VMM, lc *logCount) error {
	cert, key, err := pki.Ensure(pkiDir, "nm-"+actHost, nil)
	if err != nil {
		return fmt.Errorf("node manager certificate: %w", err)
	}
	tlsCfg, err := pki.ServerConfig(pkiDir, cert, key)
	if err != nil {
		return err
	}
	cl := &api.Client{BaseURL: c.url, Token: token, HTTP: &http.Client{Transport: c.tr}, RetryFor: 5 * time.Second}
	nm, err := nodemanager.New(nodemanager.Config{HostName: actHost, Listen: "127.0.0.1:0", CM: cl, TLS: tlsCfg,
		VMM: v, Images: st, BridgePrefix: "tbbr", TapPrefix: "tbtap", RegisterFrequency: 10 * time.Second,
		ShutdownTimeout: 2 * time.Second, Logger: lc.logger(), Cores: 1024, MemoryMiB: 1 << 20})
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	wg.Go(func() { done <- nm.Run(ctx, func(string) { close(ready) }) })
	select {
	case <-ready:
		return nil
	case err := <-done:
		return fmt.Errorf("node manager: %w", err)
	case <-time.After(30 * time.Second):
		return errors.New("node manager did not register within 30 s")
	}
}

// startActAgent runs one full agent (placing and actuating) whose CM
// calls are traced.
func startActAgent(ctx context.Context, wg *sync.WaitGroup, c *cm, pkiDir, token string, trace *callTrace, lc *logCount) error {
	cert, key, err := pki.Ensure(pkiDir, "agent-bench", nil)
	if err != nil {
		return fmt.Errorf("agent certificate: %w", err)
	}
	tlsCfg, err := pki.ClientConfig(pkiDir, cert, key)
	if err != nil {
		return err
	}
	cl := &api.Client{BaseURL: c.url, Token: token, HTTP: &http.Client{Transport: trace}}
	a, err := agents.New(agents.Config{Name: "bench-agent", CM: cl, NMTLS: tlsCfg, Logger: lc.logger()})
	if err != nil {
		return err
	}
	wg.Go(func() { _ = a.Run(ctx) })
	return nil
}

// actRound waits until the agent is idle (its watch parked), commits one
// createVm, and waits until the record shows the instance Running.
func actRound(ctx context.Context, c *cm, conn *pgx.Conn, u *api.Client, stamp *stampVMM, trace *callTrace, name string, disk api.Disk) (actSample, error) {
	time.Sleep(30 * time.Millisecond) // let the previous round's late changes (the NM's reports) wake the agent first
	if err := c.waitWatchers(ctx, 1, 10*time.Second); err != nil {
		return actSample{}, err
	}
	var s actSample
	s.send = time.Now()
	in, err := u.CreateVM(ctx, api.InstanceSpec{Name: name, Cores: 1, Memory: 128, Disks: []api.Disk{disk}})
	s.ret = time.Now()
	if err != nil {
		return s, fmt.Errorf("createVm %s: %w", name, err)
	}
	if s.running, err = waitRunning(ctx, conn, in.ID); err != nil {
		return s, err
	}
	var ok bool
	if s.start, ok = stamp.startedAt(in.ID); !ok {
		return s, fmt.Errorf("instance %d (%s) is Running but the back end's Start was never called", in.ID, name)
	}
	if x, ok := trace.firstAfter(s.send, "GET /v1/agent/watch"); ok {
		s.wake = x.done
	}
	if x, ok := trace.firstAfter(s.send, "POST /v1/agent/plans"); ok {
		s.plan = x.done
	}
	if x, ok := trace.firstAfter(s.send, "POST /v1/agent/claims"); ok {
		s.claim = x.done
	}
	return s, nil
}

// waitRunning returns when the record shows instance id Running: it reads
// the state at every NOTIFY on the CM's change channel.
func waitRunning(ctx context.Context, conn *pgx.Conn, id int64) (time.Time, error) {
	deadline := time.Now().Add(actLimit)
	for {
		var state, why string
		if err := conn.QueryRow(ctx, `SELECT state, error FROM instances WHERE id = $1`, id).Scan(&state, &why); err != nil {
			return time.Time{}, fmt.Errorf("read instance %d: %w", id, err)
		}
		if state == string(api.Running) {
			return time.Now(), nil
		}
		if state == string(api.Held) || time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("instance %d is %s (error %q), not Running, %s after its createVm", id, state, why, actLimit)
		}
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
	}
}

// prepCost is what the node manager's disk preparation before Start
// costs, timed in this process on scratch instance ids: the NM runs
// images.Store.CreateOverlay (qemu-img info on the base to learn its
// format, then qemu-img create) and then Format on the overlay (qemu-img
// info again), one process each.
type prepCost struct {
	total, create, probeBase, probeOverlay dist
	err                                    error
}

func overlayCost(ctx context.Context, st images.Store, n int) prepCost {
	var total, create, probeBase, probeOverlay []time.Duration
	base, err := st.Path(actImage)
	if err != nil {
		return prepCost{err: err}
	}
	for i := range n {
		id := int64(1<<40 + i)
		t0 := time.Now()
		p, err := st.CreateOverlay(ctx, id, 0, actImage)
		t1 := time.Now()
		if err == nil {
			_, err = st.Format(p)
		}
		t2 := time.Now()
		_ = st.RemoveOverlays(id)
		if err != nil {
			return prepCost{err: err}
		}
		if _, err := st.Format(base); err != nil {
			return prepCost{err: err}
		}
		t3 := time.Now()
		total, create, probeOverlay, probeBase = append(total, t2.Sub(t0)), append(create, t1.Sub(t0)),
			append(probeOverlay, t2.Sub(t1)), append(probeBase, t3.Sub(t2))
	}
	return prepCost{total: summarize(total), create: summarize(create), probeBase: summarize(probeBase), probeOverlay: summarize(probeOverlay)}
}

// segments are the consecutive parts of createVm return → Start, for the
// rounds whose agent calls were all traced.
type segments struct{ wake, plan, claim, call []time.Duration }

func split(got []actSample) segments {
	var sg segments
	for _, s := range got {
		if !s.wake.IsZero() && !s.plan.IsZero() && !s.claim.IsZero() {
			sg.wake = append(sg.wake, s.wake.Sub(s.ret))
			sg.plan = append(sg.plan, s.plan.Sub(s.wake))
			sg.claim = append(sg.claim, s.claim.Sub(s.plan))
			sg.call = append(sg.call, s.start.Sub(s.claim))
		}
	}
	return sg
}

func activationTable(sz sizes, got, pers []actSample, cpu cpuUse, prep prepCost, nmLogs, agLogs *logCount) table {
	var fromRet, fromSend, toRun, start2run, persRet []time.Duration
	for _, s := range got {
		fromRet = append(fromRet, s.start.Sub(s.ret))
		fromSend = append(fromSend, s.start.Sub(s.send))
		toRun = append(toRun, s.running.Sub(s.ret))
		start2run = append(start2run, s.running.Sub(s.start))
	}
	for _, s := range pers {
		persRet = append(persRet, s.start.Sub(s.ret))
	}
	sg, ps := split(got), split(pers)
	wake, plan, claim, call := sg.wake, sg.plan, sg.claim, sg.call
	a, b, r, p := summarize(fromRet), summarize(fromSend), summarize(toRun), summarize(persRet)
	three := func(d dist) string { return ms(d.p50) + " / " + ms(d.p99) + " / " + ms(d.max) }
	t := table{title: "Figure 5: activation latency, createVm commit → the node manager's instantiate"}
	t.info("rounds", fmt.Sprintf("%d (after %d warm-up rounds)", len(got), sz.actWarmup))
	t.check("createVm return → back end Start entered: p50", "< "+ms(actTarget), ms(a.p50), a.p50 < actTarget)
	t.info("createVm return → back end Start entered: p50 / p99 / max", three(a))
	t.info("createVm send → back end Start entered (bound from above): p50 / p99 / max", three(b))
	t.info("createVm return → record Running: p50 / p99 / max", three(r))
	t.info("breakdown p50: return → agent's watch answered", ms(summarize(wake).p50))
	t.info("breakdown p50: watch answered → plan answered (snapshot, scheduler.Place, plan transaction)", ms(summarize(plan).p50))
	t.info("breakdown p50: plan answered → claim granted (watch, snapshot, claim transaction)", ms(summarize(claim).p50))
	t.info("breakdown p50: claim granted → Start entered (NM call over mutual TLS: overlay, probes, spec)", ms(summarize(call).p50))
	t.info("breakdown p50: Start entered → record Running (simulated start, outcome report, commit)", ms(summarize(start2run).p50))
	t.info(fmt.Sprintf("diagnostic: %d more rounds with a persistent disk (no overlay: 1 qemu-img process instead of 3): return → Start p50 / p99 / max; of which claim granted → Start p50", len(pers)),
		three(p)+"; "+ms(summarize(ps.call).p50))
	if prep.err != nil {
		t.info("diagnostic: the NM's disk preparation, timed alone", "failed: "+prep.err.Error())
	} else {
		t.info("diagnostic: the NM's disk preparation, timed alone (CreateOverlay + Format of the overlay): p50 / p99 / max", three(prep.total))
		t.info("diagnostic: of which p50: CreateOverlay (qemu-img info on the base, qemu-img create) / Format of the overlay (qemu-img info); a lone qemu-img info on the base",
			ms(prep.create.p50)+" / "+ms(prep.probeOverlay.p50)+"; "+ms(prep.probeBase.p50))
	}
	_, _, nmWarns, nmFirst, _ := nmLogs.snapshot()
	_, _, agWarns, agFirst, _ := agLogs.snapshot()
	t.note("Set-up: one real nodemanager.NodeManager in this process on 127.0.0.1:0, serving its API over mutual TLS (certificates from internal/pki in a scratch directory), registered with the CM as host %s (1,024 cores, 1 TiB: never full); its back end is simvmm.Sim (default fake latencies: Start takes 1-3 ms) wrapped in a decorator that notes when Start is entered. Its image store is the CM's [Vfs] prefix, with a 1 MiB raw base image %s registered with addImage; every VM has one non-persistent disk on it (so the NM makes a qcow2 overlay with qemu-img) and no NIC (no default network). One agents.Agent (placing and actuating), in this process, with an agent-role account.", actHost, actImage)
	t.note("Each round waits until the agent has parked its watch (tashi_cm_watches), then one createVm commits; the round ends when the record shows the instance Running (read at each NOTIFY on the CM's change channel from a connection of the bench's own). The commit happens between the createVm's send and its return, so 'return → Start' is the figure (it leaves out the request's way back) and 'send → Start' bounds the true commit → Start from above.")
	t.note("Breakdown: the agent's calls to the CM go through a tracing http.RoundTripper that notes when each was answered; the segments are consecutive and add up to 'return → Start'. The wake-up segment can be slightly negative: the NOTIFY → watch path races the createVm's own answer (figure 3).")
	t.note("During the rounds %s; CPU: CM %s, PostgreSQL %s, bench (agent, node manager, clients) %s over %s.", cpu.contention(), secs(cpu.cm), secs(cpu.pg), secs(cpu.lg), secs(cpu.wall))
	t.note("Warnings logged: node manager and back end %d%s; agent %d%s.", nmWarns, firstText(nmFirst), agWarns, firstText(agFirst))
	return t
}
