package nodemanager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/images"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Version is the node manager's version string, sent at registration;
// set at build time with -ldflags (it must match the CM's).
var Version = "dev"

// Config is what a node manager needs.
type Config struct {
	HostName          string        // the host's name in the record
	Listen            string        // NM API address, host:port
	Advertise         string        // address agents use to reach us; "" = Listen
	CM                *api.Client   // the cluster manager, with a nodemanager token
	TLS               *tls.Config   // mutual TLS for the NM API; nil = plain HTTP (tests only)
	VMM               vmm.VMM       // the back end
	Images            images.Store  // [Vfs] prefix
	BridgePrefix      string        // bridges are <prefix><network id>
	TapPrefix         string        // taps are <prefix><instance id>.<nic>
	RegisterFrequency time.Duration // heartbeat interval
	ReservedMemory    int           // MiB kept for the host itself (Tashi's reservedMem)
	ShutdownTimeout   time.Duration // ACPI wait before destroy
	Logger            *slog.Logger
	// Cores and MemoryMiB, when set, replace what the machine has in the
	// registration: overcommit for benchmarks and tests. The NM still
	// refuses a guest the machine's free memory cannot hold.
	Cores     int
	MemoryMiB int
	// SuspendRaw writes suspend files uncompressed (suspend/<id>_<name>)
	// instead of Tashi's gzip (suspend/<id>_<name>.gz): 3-4x faster, 3-4x
	// bigger. Resume reads whichever of the two exists.
	SuspendRaw bool
	// Network is how guests' networks are set up and served here.
	Network NetConfig
}

// NodeManager runs guests for the cluster manager.
type NodeManager struct {
	cfg    Config
	log    *slog.Logger
	net    *netstack
	ops    *opCache
	hostID int64

	mu        sync.Mutex
	expecting map[int64]bool // guests we stop on purpose: their exit is not news
	changes   chan api.StateChange
}

// New checks the config and builds a node manager.
func New(cfg Config) (*NodeManager, error) {
	if cfg.HostName == "" || cfg.CM == nil || cfg.VMM == nil {
		return nil, errors.New("node manager: host name, CM client and VMM are required")
	}
	if cfg.RegisterFrequency <= 0 {
		cfg.RegisterFrequency = 10 * time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("subsystem", "nm", "host", cfg.HostName)
	ns, err := newNetstack(cfg.BridgePrefix, cfg.TapPrefix, cfg.Network, log.With("part", "net"))
	if err != nil {
		return nil, err
	}
	return &NodeManager{cfg: cfg, log: log, net: ns,
		ops: newOpCache(4096), expecting: map[int64]bool{}, changes: make(chan api.StateChange, 1024)}, nil
}

// Run recovers running guests, registers with the CM, serves the NM API
// and reports until ctx ends. Guests keep running after it returns.
func (n *NodeManager) Run(ctx context.Context, ready func(addr string)) error {
	if err := n.cfg.Images.Init(); err != nil {
		return fmt.Errorf("prepare the image store: %w", err)
	}
	recovered, err := n.cfg.VMM.Recover(ctx)
	if err != nil {
		return fmt.Errorf("recover guests: %w", err)
	}
	n.log.Info("recovered guests", "count", len(recovered))
	alive := map[int64]bool{}
	for _, g := range recovered {
		alive[g.InstanceID] = g.State != vmm.StateExited
	}
	if err := n.net.recoverNets(alive); err != nil {
		return err
	}
	defer n.net.close()
	n.net.ctx = ctx
	ln, err := net.Listen("tcp", n.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", n.cfg.Listen, err)
	}
	if n.cfg.Advertise == "" {
		n.cfg.Advertise = ln.Addr().String()
	}
	if err := n.register(ctx); err != nil {
		ln.Close()
		return err
	}
	for _, g := range recovered {
		n.queueChange(g.InstanceID, apiState(g.State), "recovered after node manager restart")
	}
	srv := &http.Server{Handler: n.routes(), TLSConfig: n.cfg.TLS, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); n.follow(ctx) }()
	go func() { defer wg.Done(); n.heartbeatLoop(ctx) }()
	go func() { defer wg.Done(); n.eventLoop(ctx) }()
	go func() { defer wg.Done(); n.changeLoop(ctx) }()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	n.log.Info("node manager listening", "addr", n.cfg.Advertise, "tls", n.cfg.TLS != nil)
	if ready != nil {
		ready(n.cfg.Advertise)
	}
	if n.cfg.TLS != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// expect marks (or unmarks) a guest whose exit we cause ourselves.
func (n *NodeManager) expect(id int64, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if on {
		n.expecting[id] = true
	} else {
		delete(n.expecting, id)
	}
}

func (n *NodeManager) expected(id int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.expecting[id]
}

// apiState maps what a back end sees to the record's states.
func apiState(s vmm.State) api.InstanceState {
	switch s {
	case vmm.StateRunning:
		return api.Running
	case vmm.StatePaused:
		return api.Paused
	case vmm.StateIncoming, vmm.StateMigrating:
		return api.MigrateTrans
	}
	return api.Exited
}

func toVMInfo(g vmm.Info) api.VMInfo {
	return api.VMInfo{InstanceID: g.InstanceID, VMID: g.VMID, State: apiState(g.State), Accel: g.Accel,
		SerialLog: g.SerialLog, CPUSeconds: g.CPUSeconds, RSS: g.RSSBytes}
}
