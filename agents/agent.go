package agents

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/plugins/telemetry"
	"github.com/tashi-go/tashi/scheduler"
)

// Config is what an agent needs.
type Config struct {
	Name     string        // claim owner, shown in the event log
	CM       *api.Client   // with an agent token
	NMTLS    *tls.Config   // client certificate for the NM API; nil = plain HTTP (tests only)
	ClaimTTL time.Duration // how long a claim lasts
	Wait     time.Duration // longest watch
	Logger   *slog.Logger
	Policy   scheduler.Policy // densePack and friends; the zero value spreads
	// HeldBackoff is how long a Held instance waits before it is placed
	// again (doubling with each failed host); HeldRetries caps the tries.
	HeldBackoff time.Duration
	HeldRetries int
	// PlaceOnly makes a scheduling-only agent: it places Pending VMs and
	// leaves transitions and vmmSpecificCalls to other agents.
	PlaceOnly bool
	// Hooks run after a guest starts and after it is destroyed (DNS
	// updates to a site's BIND, for one).
	Hooks []Hook
	// Locator finds the blocks of the files named by the hint dfsFiles
	// ([DataLocation] plugin); nil: such files are not resolved, and their
	// instances are placed without locality.
	Locator datalocation.Locator
	// HostMap maps the Locator's storage hosts to compute hosts
	// ([DataLocation] hostMap); the zero value matches by host name and by
	// the host part of Address and TunnelAddress.
	HostMap datalocation.HostMap
	// DataCacheTTL is how long a file's block list is reused
	// ([DataLocation] cacheSeconds); 0: it is asked for on every wake-up.
	DataCacheTTL time.Duration
	// DataTimeout bounds the lookups of one wake-up (default
	// DefaultDataTimeout); files not resolved in time are placed without
	// locality.
	DataTimeout time.Duration
	// Topology gives the hosts their racks ([Telemetry] topologyFile);
	// nil: no racks, so no rack-local credit.
	Topology *telemetry.Topology
}

// Agent watches the CM, places pending instances and carries out
// transitions on node managers.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	nmHTTP *http.Client

	mu       sync.Mutex
	inFlight map[int64]bool   // instances this agent is working on
	calls    map[int64]bool   // vmmSpecificCalls this agent is carrying
	said     map[int64]string // the last explanation recorded per instance
	data     *dataResolver
	wg       sync.WaitGroup
	// retrySoon: a claim was refused (another agent holds it); watch
	// briefly, since its expiry wakes no one.
	retrySoon atomic.Bool
}

// New builds an agent.
func New(cfg Config) (*Agent, error) {
	if cfg.CM == nil {
		return nil, errors.New("agent: a CM client is required")
	}
	if cfg.Name == "" {
		cfg.Name = "agent"
	}
	if cfg.ClaimTTL <= 0 {
		cfg.ClaimTTL = 2 * time.Minute
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HeldBackoff <= 0 {
		cfg.HeldBackoff = 30 * time.Second
	}
	if cfg.HeldRetries <= 0 {
		cfg.HeldRetries = 3
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = DefaultDataTimeout
	}
	tr := &http.Transport{TLSClientConfig: cfg.NMTLS, MaxIdleConnsPerHost: 16}
	log := cfg.Logger.With("subsystem", "agent", "agent", cfg.Name)
	return &Agent{cfg: cfg, log: log,
		nmHTTP:   &http.Client{Transport: tr, Timeout: 10 * time.Minute},
		inFlight: map[int64]bool{}, calls: map[int64]bool{}, said: map[int64]string{},
		data: newDataResolver(cfg, log)}, nil
}

// Run loops until ctx ends: snapshot, place, actuate, watch. Work in
// flight is waited for; a cancelled worker hands its claim back.
func (a *Agent) Run(ctx context.Context) error {
	defer a.wg.Wait()
	for ctx.Err() == nil {
		snap, err := a.cfg.CM.Snapshot(ctx)
		if err != nil {
			a.log.Warn("snapshot failed; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		a.place(ctx, snap)
		if !a.cfg.PlaceOnly {
			a.releaseHeld(ctx, snap)
			a.actuate(ctx, snap)
			a.carryCalls(ctx, snap)
		}
		wait := a.cfg.Wait
		if a.retrySoon.Swap(false) || inTransition(snap) {
			// Work in flight may be another agent's, and its claim's expiry
			// announces nothing: look again within a claim's lifetime.
			wait = min(wait, max(time.Second, a.cfg.ClaimTTL/2))
		}
		if _, err := a.cfg.CM.Watch(ctx, snap.Index, wait); err != nil && ctx.Err() == nil {
			a.log.Warn("watch failed", "err", err)
			sleep(ctx, time.Second)
		}
	}
	return nil
}

// inTransition reports whether any instance is in a transitional state.
func inTransition(snap api.Snapshot) bool {
	for _, in := range snap.Instances {
		switch in.State {
		case api.Activating, api.Pausing, api.Unpausing, api.Suspending, api.Resuming,
			api.MigratePrep, api.MigrateTrans, api.ShuttingDown, api.Destroying:
			return true
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// start runs fn for an instance unless this agent already works on it.
func (a *Agent) start(id int64, fn func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight[id] {
		return
	}
	a.inFlight[id] = true
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() { a.mu.Lock(); delete(a.inFlight, id); a.mu.Unlock() }()
		fn()
	}()
}

func (a *Agent) nm(h *api.Host) *api.NMClient {
	scheme := "https://"
	if a.cfg.NMTLS == nil {
		scheme = "http://"
	}
	return &api.NMClient{BaseURL: scheme + h.Address, HTTP: a.nmHTTP}
}
