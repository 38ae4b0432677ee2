package agenttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/cmtest"
	"github.com/tashi-go/tashi/clustermanager/store"
	"github.com/tashi-go/tashi/images"
	"github.com/tashi-go/tashi/internal/pki"
	"github.com/tashi-go/tashi/nodemanager"
	"github.com/tashi-go/tashi/nodemanager/simvmm"
)

// Image is the base image every simulated instance boots from: an empty
// raw file in the shared image store, registered with the CM.
const Image = "sim.img"

// Main is the TestMain of packages that use agenttest (it is cmtest's).
func Main(m *testing.M) { cmtest.Main(m) }

// Spec is a createVm request for a simulated instance: no NIC, one
// non-persistent disk on Image.
func Spec(name string, cores, memory int) api.InstanceSpec {
	return api.InstanceSpec{Name: name, Cores: cores, Memory: memory, Disks: []api.Disk{{URI: Image}}}
}

// Options shape a Cluster; zero fields take the defaults.
type Options struct {
	Hosts      int             // simulated hosts started by New, named sim01, sim02, ... (default 4)
	Cores      int             // cores each of them registers (default 4)
	MemoryMiB  int             // memory each of them registers (default 4096)
	Latency    *simvmm.Latency // back-end latency; nil = simvmm.DefaultLatency()
	Heartbeat  time.Duration   // node managers' registerFrequency (default 500 ms)
	ExpireHost time.Duration   // the CM's expireHostTime (default 5 s)
}

// Cluster is a CM, simulated hosts and agents, all stopped at test cleanup.
type Cluster struct {
	CM         *cmtest.Cluster
	User       *api.Client // a user without quota, owner of the test's instances
	Agent      *api.Client // an agent-role client (snapshots for the checks)
	NMToken    string
	AgentToken string
	Prefix     string // the image store every simulated host shares
	PKIDir     string // cluster CA and every daemon's certificate

	t    testing.TB
	opts Options
	logs *logs

	mu    sync.Mutex
	hosts []*Host
}

// New starts a CM, the image, the users and opts.Hosts simulated hosts.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Hosts == 0 {
		opts.Hosts = 4
	}
	if opts.Cores == 0 {
		opts.Cores = 4
	}
	if opts.MemoryMiB == 0 {
		opts.MemoryMiB = 4096
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 500 * time.Millisecond
	}
	if opts.ExpireHost == 0 {
		opts.ExpireHost = 5 * time.Second
	}
	cmOpts := []cmtest.Option{func(l *store.Limits) { l.ExpireHostTime = opts.ExpireHost }}
	c := &Cluster{CM: cmtest.New(t, cmOpts...), t: t, opts: opts, logs: newLogs(t),
		Prefix: t.TempDir(), PKIDir: t.TempDir()}
	st := images.Store{Prefix: c.Prefix}
	if err := st.Init(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(st.ImagesDir(), Image), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.CM.Image(t, Image)
	c.User = c.CM.User(t, "user", api.RoleUser, api.AddUserRequest{})
	c.User.RetryFor = 5 * time.Second
	c.NMToken = c.CM.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{}).Token
	c.AgentToken = c.CM.User(t, "agent", api.RoleAgent, api.AddUserRequest{}).Token
	c.Agent = c.client(c.AgentToken)
	t.Cleanup(c.stopHosts)
	for i := 1; i <= opts.Hosts; i++ {
		c.AddHost(fmt.Sprintf("sim%02d", i), opts.Cores, opts.MemoryMiB)
	}
	return c
}

func (c *Cluster) client(token string) *api.Client {
	cl := api.NewClient(c.CM.URL, token)
	cl.RetryFor = 5 * time.Second
	return cl
}

// Logs returns the log lines (of agents, node managers and back ends)
// that contain every one of subs.
func (c *Cluster) Logs(subs ...string) []string { return c.logs.Lines(subs...) }

// Host is one simulated host: a real node manager over a simvmm.Sim.
type Host struct {
	Name   string
	ID     int64  // in the record
	RunDir string // the Sim's table key: a restarted node manager recovers its guests
	Cores  int
	Memory int

	c      *Cluster
	mu     sync.Mutex
	sim    *simvmm.Sim
	addr   string
	cancel context.CancelFunc
	done   chan error
	downs  []interval // when its node manager was stopped
}

// interval is a span of time; a zero To is still open.
type interval struct{ From, To time.Time }

// AddHost adds a host to the record and starts its node manager; it
// returns once the host is registered (up and Normal).
func (c *Cluster) AddHost(name string, cores, memory int) *Host {
	c.t.Helper()
	h, err := c.CM.Admin.AddHost(context.Background(), api.AddHostRequest{Name: name})
	if err != nil {
		c.t.Fatalf("add host %s: %v", name, err)
	}
	host := &Host{Name: name, ID: h.ID, RunDir: c.group() + "/" + name,
		Cores: cores, Memory: memory, c: c}
	c.mu.Lock()
	c.hosts = append(c.hosts, host)
	c.mu.Unlock()
	host.Start()
	return host
}

// Hosts lists the simulated hosts in the order they were added.
func (c *Cluster) Hosts() []*Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Host(nil), c.hosts...)
}

// HostByID returns the simulated host with that record id, or nil.
func (c *Cluster) HostByID(id int64) *Host {
	for _, h := range c.Hosts() {
		if h.ID == id {
			return h
		}
	}
	return nil
}

// Start starts (or restarts) the host's node manager on a new Sim over
// the host's guest table; it returns once the node manager registered.
func (h *Host) Start() {
	c := h.c
	c.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		c.t.Fatalf("host %s: node manager already running", h.Name)
	}
	if n := len(h.downs); n > 0 && h.downs[n-1].To.IsZero() {
		h.downs[n-1].To = time.Now() // before it registers again
	}
	sim := simvmm.New(simvmm.Config{RunDir: h.RunDir, Group: c.group(), Latency: c.opts.Latency, CheckDisks: true,
		Logger: c.logs.logger(h.Name + "/sim")})
	cert, key, err := pki.Ensure(c.PKIDir, "nm-"+h.Name, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	tlsCfg, err := pki.ServerConfig(c.PKIDir, cert, key)
	if err != nil {
		c.t.Fatal(err)
	}
	nm, err := nodemanager.New(nodemanager.Config{HostName: h.Name, Listen: "127.0.0.1:0", CM: c.client(c.NMToken),
		TLS: tlsCfg, VMM: sim, Images: images.Store{Prefix: c.Prefix}, BridgePrefix: "simbr", TapPrefix: "simtap",
		RegisterFrequency: c.opts.Heartbeat, ShutdownTimeout: 2 * time.Second, Logger: c.logs.logger(h.Name),
		Cores: h.Cores, MemoryMiB: h.Memory})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- nm.Run(ctx, func(addr string) { ready <- addr }) }()
	select {
	case h.addr = <-ready:
	case err := <-done:
		cancel()
		c.t.Fatalf("node manager of %s: %v", h.Name, err)
	case <-time.After(30 * time.Second):
		cancel()
		c.t.Fatalf("node manager of %s did not register within 30 s", h.Name)
	}
	h.sim, h.cancel, h.done = sim, cancel, done
}

// Stop stops the host's node manager; its guests stay in the Sim's table
// (as QEMU guests outlive tashi-nm), and the host goes down in the record
// after expireHostTime.
func (h *Host) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.c.t.Errorf("node manager of %s: %v", h.Name, err)
	}
	h.sim.Close()
	h.cancel, h.done = nil, nil
	h.downs = append(h.downs, interval{From: time.Now()}) // after its last heartbeat
}

// surelyDown reports whether the CM must have seen the host down at t:
// its node manager had been stopped for longer than expireHostTime
// (plus a margin for the CM's heartbeat batching) and not started again.
func (h *Host) surelyDown(t time.Time, expire time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.downs {
		if !t.Before(d.From.Add(expire+300*time.Millisecond)) && (d.To.IsZero() || t.Before(d.To)) {
			return true
		}
	}
	return false
}

// Sim is the host's current simulated back end (for fault knobs and
// direct inspection).
func (h *Host) Sim() *simvmm.Sim {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sim
}

// Addr is the node manager's API address.
func (h *Host) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

func (c *Cluster) stopHosts() {
	for _, h := range c.Hosts() {
		h.Stop()
		simvmm.Forget(h.RunDir)
	}
	simvmm.ClearGroupFaults(c.group())
}

// group is the simvmm.Config.Group of the cluster's Sims.
func (c *Cluster) group() string { return fmt.Sprintf("agenttest/%p", c) }

// FailStart makes the next times starts of the instance fail with
// simvmm.ErrInjected on whichever simulated host of the cluster they
// happen (its activation goes Held); simvmm.Forever fails all of them.
func (c *Cluster) FailStart(id int64, times int) { simvmm.FailStartInGroup(c.group(), id, times) }
