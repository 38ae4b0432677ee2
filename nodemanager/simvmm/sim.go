package simvmm

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Delay is a fake latency, drawn uniformly from [Min, Max] on every call.
type Delay struct{ Min, Max time.Duration }

// Latency holds the fake latency of each operation.
type Latency struct {
	Start, Pause, Shutdown, Destroy, Suspend, Resume, Migrate Delay
}

// DefaultLatency is a few milliseconds at most per operation.
func DefaultLatency() Latency {
	ms := time.Millisecond
	return Latency{Start: Delay{ms, 3 * ms}, Pause: Delay{0, ms}, Shutdown: Delay{0, ms},
		Destroy: Delay{0, ms}, Suspend: Delay{2 * ms, 5 * ms}, Resume: Delay{2 * ms, 5 * ms},
		Migrate: Delay{2 * ms, 5 * ms}}
}

// Config is what a Sim needs; the zero value works.
type Config struct {
	// RunDir keys the process-wide table of guests: a Sim made with the
	// RunDir of an earlier one (a node manager restarted in the same
	// process) holds the same guests. No directory is created; "" gives
	// a private table that no later Sim sees.
	RunDir string
	// Latency of each operation; nil means DefaultLatency(), &Latency{}
	// means none.
	Latency *Latency
	// Accel is the accelerator reported to the node manager ("sim").
	Accel string
	// CheckDisks makes Start, Suspend, Resume and Migrate fail when a
	// disk file of the guest is missing, or holds another file than the
	// guest started with (see LostDisks).
	CheckDisks bool
	// Group names the simulated cluster the Sim belongs to, for the
	// knobs that act on all its Sims (FailStartInGroup).
	Group string
	// EventBuffer is the Events channel's capacity (default 1024).
	EventBuffer int
	Logger      *slog.Logger
}

// Sim is a simulated VMM. Every method is safe for concurrent use.
type Sim struct {
	cfg     Config
	lat     Latency
	log     *slog.Logger
	t       *table
	events  chan vmm.Event
	closing chan struct{}
	once    sync.Once
}

var _ vmm.VMM = (*Sim)(nil)

// guest is one simulated guest.
type guest struct {
	spec    vmm.Spec
	vmid    string
	state   vmm.State
	started time.Time
	listen  string   // migration address while waiting for one
	disks   []diskID // with CheckDisks: the disk files it started with
}

// table holds the guests of one RunDir; it outlives the Sims using it.
type table struct {
	mu       sync.Mutex
	guests   map[int64]*guest
	tombs    map[int64]vmm.Info // exited guests, for Info
	starting map[int64]bool
	owner    *Sim // the newest Sim on this table: it receives the events
	faults   map[fault]int
	starts   map[int64]int // Start calls that made a guest, per instance
}

var (
	tablesMu sync.Mutex
	tables   = map[string]*table{}
	seq      atomic.Int64 // fake VMIDs and migration ports
)

func newTable() *table {
	return &table{guests: map[int64]*guest{}, tombs: map[int64]vmm.Info{}, starting: map[int64]bool{},
		faults: map[fault]int{}, starts: map[int64]int{}}
}

// New makes a Sim on the table of cfg.RunDir (creating the table if it
// is the first).
func New(cfg Config) *Sim {
	lat := DefaultLatency()
	if cfg.Latency != nil {
		lat = *cfg.Latency
	}
	if cfg.Accel == "" {
		cfg.Accel = "sim"
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Sim{cfg: cfg, lat: lat, log: cfg.Logger.With("subsystem", "simvmm"),
		events: make(chan vmm.Event, cfg.EventBuffer), closing: make(chan struct{})}
	t := newTable()
	if cfg.RunDir != "" {
		tablesMu.Lock()
		if old := tables[cfg.RunDir]; old != nil {
			t = old
		} else {
			tables[cfg.RunDir] = t
		}
		tablesMu.Unlock()
	}
	t.mu.Lock()
	t.owner = s
	t.mu.Unlock()
	s.t = t
	return s
}

// Forget drops the table of runDir: its guests vanish, as if the machine
// had been wiped. Sims still using it keep working on their own copy.
func Forget(runDir string) {
	tablesMu.Lock()
	defer tablesMu.Unlock()
	delete(tables, runDir)
}

// Close stops event delivery (a blocked sender gives up). Guests stay in
// the table, as QEMU guests outlive their node manager.
func (s *Sim) Close() error {
	s.once.Do(func() { close(s.closing) })
	return nil
}

// Accel says which accelerator the simulated guests get.
func (s *Sim) Accel() (name, why string) {
	return s.cfg.Accel, "simulated back end (benchmarks and scale tests only)"
}

// Events delivers the guests' state changes: an Exited event for every
// guest that ends (reasons "destroyed", "shutdown", "suspended",
// "migrated", "crashed: ..."), and Running or Paused when an incoming
// migration lands.
func (s *Sim) Events() <-chan vmm.Event { return s.events }

// emit sends ev to the table's newest Sim; it never holds a table lock.
func (t *table) emit(ev vmm.Event) {
	t.mu.Lock()
	s := t.owner
	t.mu.Unlock()
	select {
	case s.events <- ev:
		return
	default:
	}
	s.log.Warn("event buffer full: waiting for the node manager to read events", "instance_id", ev.InstanceID, "state", ev.State)
	select {
	case s.events <- ev:
	case <-s.closing:
		s.log.Error("event not delivered: back end closed", "instance_id", ev.InstanceID, "state", ev.State, "reason", ev.Reason)
	}
}

// sleep waits a delay drawn from d, or until ctx ends.
func sleep(ctx context.Context, d Delay) error {
	wait := d.Min
	if d.Max > d.Min {
		wait += rand.N(d.Max - d.Min + 1)
	}
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (g *guest) info(accel string) vmm.Info {
	inf := vmm.Info{InstanceID: g.spec.InstanceID, VMID: g.vmid, State: g.state, Accel: accel,
		RSSBytes: int64(g.spec.MemoryMiB) << 20}
	if g.state == vmm.StateRunning {
		inf.CPUSeconds = time.Since(g.started).Seconds() * float64(g.spec.Cores) / 100
	}
	return inf
}

// Start makes a guest (waiting for its state when s.Incoming is set).
// Starting an instance that already runs returns its Info.
func (s *Sim) Start(ctx context.Context, spec vmm.Spec) (vmm.Info, error) {
	id := spec.InstanceID
	if id <= 0 || spec.Cores < 1 || spec.MemoryMiB < 1 {
		return vmm.Info{}, fmt.Errorf("start instance %d: instance id, cores and memory must be positive (got %d cores, %d MiB)",
			id, spec.Cores, spec.MemoryMiB)
	}
	t := s.t
	t.mu.Lock()
	if g := t.guests[id]; g != nil {
		defer t.mu.Unlock()
		return g.info(s.cfg.Accel), nil
	}
	if t.starting[id] {
		t.mu.Unlock()
		return vmm.Info{}, fmt.Errorf("start instance %d: %w: a start is already in progress", id, ErrBadState)
	}
	t.starting[id] = true
	injected := t.take(fault{id, opStart}) || takeGroup(s.cfg.Group, id)
	t.mu.Unlock()
	defer func() { t.mu.Lock(); delete(t.starting, id); t.mu.Unlock() }()

	if err := sleep(ctx, s.lat.Start); err != nil {
		return vmm.Info{}, fmt.Errorf("start instance %d: %w", id, err)
	}
	if injected {
		return vmm.Info{}, fmt.Errorf("start instance %d: %w", id, ErrInjected)
	}
	disks, err := s.diskIDs(spec)
	if err != nil {
		return vmm.Info{}, fmt.Errorf("start instance %d: %w", id, err)
	}
	g := &guest{spec: spec, vmid: fmt.Sprintf("sim-%d", seq.Add(1)), state: vmm.StateRunning, started: time.Now(), disks: disks}
	if spec.Incoming != "" {
		g.state = vmm.StateIncoming
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.guests[id] = g
	delete(t.tombs, id)
	t.starts[id]++
	return g.info(s.cfg.Accel), nil
}

// Pause stops the guest's vCPUs (idempotent).
func (s *Sim) Pause(ctx context.Context, id int64) error {
	return s.setRunning(ctx, id, "pause", vmm.StatePaused)
}

// Unpause continues the guest's vCPUs (idempotent).
func (s *Sim) Unpause(ctx context.Context, id int64) error {
	return s.setRunning(ctx, id, "unpause", vmm.StateRunning)
}

func (s *Sim) setRunning(ctx context.Context, id int64, what string, want vmm.State) error {
	if err := sleep(ctx, s.lat.Pause); err != nil {
		return fmt.Errorf("%s instance %d: %w", what, id, err)
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	g := s.t.guests[id]
	if g == nil {
		return vmm.ErrNoSuchGuest{InstanceID: id}
	}
	if g.state != vmm.StateRunning && g.state != vmm.StatePaused {
		return fmt.Errorf("%s instance %d: %w: it is %s", what, id, ErrBadState, g.state)
	}
	g.state = want
	return nil
}

// Shutdown powers the guest off; it returns when the guest is gone. An
// instance that already exited is not an error.
func (s *Sim) Shutdown(ctx context.Context, id int64, timeout time.Duration) error {
	if _, ok := s.live(id); !ok {
		if _, err := s.Info(ctx, id); err == nil {
			return nil
		}
		return vmm.ErrNoSuchGuest{InstanceID: id}
	}
	if err := sleep(ctx, s.lat.Shutdown); err != nil {
		return fmt.Errorf("shutdown instance %d: %w", id, err)
	}
	s.t.exit(id, nil, "shutdown")
	return nil
}

// Destroy ends the guest (idempotent: an unknown or exited instance is
// forgotten and nil returned).
func (s *Sim) Destroy(ctx context.Context, id int64) error {
	s.t.mu.Lock()
	starting := s.t.starting[id]
	s.t.mu.Unlock()
	if starting {
		return fmt.Errorf("destroy instance %d: %w: it is starting", id, ErrBadState)
	}
	if _, ok := s.live(id); ok {
		if err := sleep(ctx, s.lat.Destroy); err != nil {
			return fmt.Errorf("destroy instance %d: %w", id, err)
		}
		s.t.exit(id, nil, "destroyed")
	}
	s.t.mu.Lock()
	delete(s.t.tombs, id)
	s.t.mu.Unlock()
	return nil
}

// live returns the guest if it runs (in any state but Exited).
func (s *Sim) live(id int64) (*guest, bool) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	g := s.t.guests[id]
	return g, g != nil
}

// exit ends a guest with reason and sends its Exited event. With want
// set, only that incarnation of the guest is ended.
func (t *table) exit(id int64, want *guest, reason string) bool {
	t.mu.Lock()
	g := t.guests[id]
	if g == nil || (want != nil && g != want) {
		t.mu.Unlock()
		return false
	}
	delete(t.guests, id)
	inf := g.info(t.owner.cfg.Accel)
	inf.State, inf.ExitReason, inf.CPUSeconds = vmm.StateExited, reason, 0
	t.tombs[id] = inf
	listen := g.listen
	t.mu.Unlock()
	unlisten(listen, g)
	t.emit(vmm.Event{InstanceID: id, State: vmm.StateExited, Reason: reason})
	return true
}
