package qemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

var _ vmm.VMM = (*Driver)(nil)

// Config configures a Driver. Zero values get the documented defaults.
type Config struct {
	QemuBin string // default qemu-system-x86_64 from PATH
	RunDir  string // required: state files, sockets, logs in RunDir/<instance id>/
	Accel   string // kvm, tcg, or "" to detect (DetectAccel)
	Machine string // default q35
	CPU     string // default DefaultCPU(accel)
	Debug   bool   // QMP transcripts in RunDir/<id>/qmp.log

	SuspendBandwidth   int64         // bytes/s while suspending; default 8 GiB/s
	MigrationBandwidth int64         // bytes/s for live migration; default 1 GiB/s
	DowntimeLimit      time.Duration // live migration downtime limit; default QEMU's (300 ms)

	StartTimeout  time.Duration // until QMP answers; default 30 s
	AllowReboot   bool          // omit -no-reboot: a guest reboot restarts it instead of exiting
	NoCDROM       bool          // do not give q35/pc guests an empty cdrom for changeCdrom
	VGA           string        // display adapter for VNC (std, virtio); default none
	ConsoleListen string        // host for the VNC and console relays; default 127.0.0.1
	ImageDir      string        // where changeCdrom finds ISO names; changeCdrom is refused without it
}

// Defaults for Config.
const (
	DefaultSuspendBandwidth   = 8 << 30
	DefaultMigrationBandwidth = 1 << 30
	DefaultStartTimeout       = 30 * time.Second
	eventBuffer               = 256
	maxTombstones             = 1024
)

// Driver runs QEMU guests as direct child processes (in their own
// session, so they outlive the node manager) and drives them over QMP.
// It implements vmm.VMM.
type Driver struct {
	cfg      Config
	log      *slog.Logger
	accel    string
	accelWhy string
	events   chan vmm.Event
	closing  chan struct{}
	closeMu  sync.Once
	wg       sync.WaitGroup

	mu         sync.Mutex
	guests     map[int64]*guest
	starting   map[int64]bool
	tombstones map[int64]tombstone // guests that exited, for Info
}

type tombstone struct {
	info vmm.Info
	at   time.Time
}

// New checks cfg, creates RunDir and picks the accelerator.
func New(cfg Config, log *slog.Logger) (*Driver, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.RunDir == "" {
		return nil, errors.New("qemu driver: Config.RunDir is required")
	}
	dir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return nil, fmt.Errorf("qemu driver: run dir %q: %w", cfg.RunDir, err)
	}
	cfg.RunDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("qemu driver: create run dir: %w", err)
	}
	// RunDir/<id>/console.sock must fit a unix socket path.
	if n := len(filepath.Join(dir, "999999999999", consoleName)); n > MaxSocketPath {
		return nil, fmt.Errorf("qemu driver: run dir %s is too long for unix sockets (%d > %d bytes)", dir, n, MaxSocketPath)
	}
	if cfg.QemuBin == "" {
		cfg.QemuBin = DefaultBinary
	}
	bin, err := exec.LookPath(cfg.QemuBin)
	if err != nil {
		return nil, fmt.Errorf("qemu driver: %w", err)
	}
	cfg.QemuBin = bin
	applyDefaults(&cfg)
	d := &Driver{cfg: cfg, log: log.With("subsystem", "qemu"), events: make(chan vmm.Event, eventBuffer),
		closing: make(chan struct{}), guests: map[int64]*guest{}, starting: map[int64]bool{},
		tombstones: map[int64]tombstone{}}
	switch cfg.Accel {
	case "":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d.accel, d.accelWhy = DetectAccel(ctx, bin)
		cancel()
	case "kvm", "tcg":
		d.accel, d.accelWhy = cfg.Accel, "set in the configuration"
	default:
		return nil, fmt.Errorf("qemu driver: Config.Accel %q: accepted are kvm, tcg or empty to detect", cfg.Accel)
	}
	d.log.Info("accelerator chosen", "accel", d.accel, "why", d.accelWhy, "qemu", bin)
	return d, nil
}

func applyDefaults(c *Config) {
	if c.Machine == "" {
		c.Machine = DefaultMachine
	}
	if c.SuspendBandwidth <= 0 {
		c.SuspendBandwidth = DefaultSuspendBandwidth
	}
	if c.MigrationBandwidth <= 0 {
		c.MigrationBandwidth = DefaultMigrationBandwidth
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.ConsoleListen == "" {
		c.ConsoleListen = "127.0.0.1"
	}
}

// Accel says which accelerator guests get and why.
func (d *Driver) Accel() (name, why string) { return d.accel, d.accelWhy }

// Events delivers state changes guests made by themselves, and one
// Exited event for every guest process that ends (whoever ended it; the
// reason says: "destroyed", "suspended", "migrated", "shutdown",
// "killed: ...", "crashed: ..."). Paused and Running come from QEMU's
// STOP and RESUME events that no driver call caused (for example a
// guest finishing an incoming live migration).
func (d *Driver) Events() <-chan vmm.Event { return d.events }

// Close detaches from all guests, which keep running (as when the node
// manager exits), and stops the driver's goroutines.
func (d *Driver) Close() error {
	d.closeMu.Do(func() {
		close(d.closing)
		d.mu.Lock()
		gs := make([]*guest, 0, len(d.guests))
		for _, g := range d.guests {
			gs = append(gs, g)
		}
		d.mu.Unlock()
		for _, g := range gs {
			g.detach()
		}
		d.wg.Wait()
	})
	return nil
}

func (d *Driver) emit(ev vmm.Event) {
	select {
	case d.events <- ev:
		return
	default:
	}
	d.log.Warn("event buffer full: waiting for the node manager to read events",
		"instance_id", ev.InstanceID, "state", ev.State, "reason", ev.Reason)
	select {
	case d.events <- ev:
	case <-d.closing:
		d.log.Error("event not delivered: driver closed", "instance_id", ev.InstanceID, "state", ev.State, "reason", ev.Reason)
	}
}

// register makes g known and starts watching it, unless the driver is
// closing (then g is let go, still running).
func (d *Driver) register(g *guest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.closing:
		g.detach()
		return fmt.Errorf("driver closed; guest left running (pid %d)", g.st.PID)
	default:
	}
	d.guests[g.id] = g
	g.run()
	return nil
}

func (d *Driver) lookup(id int64) *guest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.guests[id]
}

func (d *Driver) mustGuest(id int64) (*guest, error) {
	if g := d.lookup(id); g != nil {
		return g, nil
	}
	return nil, vmm.ErrNoSuchGuest{InstanceID: id}
}

// tombstone remembers an exited guest for Info (the oldest of more than
// maxTombstones are forgotten).
func (d *Driver) tombstone(inf vmm.Info) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tombstones[inf.InstanceID] = tombstone{info: inf, at: time.Now()}
	if len(d.tombstones) <= maxTombstones {
		return
	}
	var oldest int64
	var at time.Time
	for id, t := range d.tombstones {
		if at.IsZero() || t.at.Before(at) {
			oldest, at = id, t.at
		}
	}
	delete(d.tombstones, oldest)
}

// Info reports one guest. A guest that exited is reported as Exited with
// its reason until it is started again or destroyed.
func (d *Driver) Info(ctx context.Context, id int64) (vmm.Info, error) {
	if g := d.lookup(id); g != nil {
		return g.info(), nil
	}
	d.mu.Lock()
	t, ok := d.tombstones[id]
	d.mu.Unlock()
	if ok {
		return t.info, nil
	}
	return vmm.Info{}, vmm.ErrNoSuchGuest{InstanceID: id}
}

// List reports the guests that run (exited ones are not listed).
func (d *Driver) List(ctx context.Context) ([]vmm.Info, error) {
	d.mu.Lock()
	gs := make([]*guest, 0, len(d.guests))
	for _, g := range d.guests {
		gs = append(gs, g)
	}
	d.mu.Unlock()
	out := make([]vmm.Info, 0, len(gs))
	for _, g := range gs {
		if inf := g.info(); inf.State != vmm.StateExited {
			out = append(out, inf)
		}
	}
	return out, nil
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
