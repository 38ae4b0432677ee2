package moosefstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// Labels are the chunkservers' labels, one chunkserver each, in order.
var Labels = []string{"A", "B", "C"}

// Chunkserver is one chunkserver of the cluster.
type Chunkserver struct {
	Label string // its only label: "A", "B" or "C"
	Addr  string // IP address, as mfsfileinfo and Block.Hosts name it
	Port  int    // port clients reach it on
}

// Cluster is a running MooseFS. Its methods may be called from any goroutine.
type Cluster struct {
	// Mount is the mfsmount point in the root namespace. File "/x" of the
	// file system is Mount+"/x".
	Mount string

	dir          string
	net          network
	master       *daemon
	chunkservers []Chunkserver
	csDaemons    map[string]*daemon // by label
	mount        *daemon

	mu      sync.Mutex
	classes map[string]bool // storage classes created so far
	undo    []func() error  // teardown steps, run last first
	closed  bool
}

// StartTimeout bounds New inside Start.
const StartTimeout = 60 * time.Second

// Start starts a cluster for a test and closes it when the test ends. It
// skips the test (with the reason) when Available says the machine cannot
// run one, and fails it when start-up fails.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	c, err := New(ctx)
	if errors.Is(err, ErrUnavailable) {
		tb.Skipf("moosefstest: %v", err)
	}
	if err != nil {
		tb.Fatalf("start moosefs test cluster: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close moosefs test cluster: %v", err)
		}
	})
	return c
}

// New starts a cluster; the caller must Close it. Use it where no testing.TB
// is at hand (TestMain). Errors wrap ErrUnavailable when the machine cannot
// run one.
func New(ctx context.Context) (c *Cluster, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	c = &Cluster{csDaemons: map[string]*daemon{}, classes: map[string]bool{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()
	for _, step := range []func(context.Context) error{
		c.makeDir, c.makeNetwork, c.startMaster, c.startChunkservers, c.startMount,
	} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Chunkservers lists the chunkservers in label order.
func (c *Cluster) Chunkservers() []Chunkserver {
	return append([]Chunkserver(nil), c.chunkservers...)
}

// Addr is the IP address of the chunkserver with label, or "" if none has it.
func (c *Cluster) Addr(label string) string {
	for _, cs := range c.chunkservers {
		if cs.Label == label {
			return cs.Addr
		}
	}
	return ""
}

// MasterAddr is the master's IP address; clients use port 9421.
func (c *Cluster) MasterAddr() string { return c.net.addr(masterHost) }

// Path is where file name (e.g. "/data/a") lives under the mount point;
// ".." cannot climb above the mount point.
func (c *Cluster) Path(name string) string {
	return filepath.Join(c.Mount, filepath.Clean("/"+filepath.FromSlash(name)))
}

// LocatorConfig is the configuration of a moosefs Locator (registry name
// "moosefs") that names files as this cluster's file system does.
func (c *Cluster) LocatorConfig() datalocation.Config {
	return datalocation.Config{"mount": c.Mount, "prefix": "/"}
}

// Close unmounts, kills the daemons, deletes the network and removes the
// directory. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for i := len(c.undo) - 1; i >= 0; i-- {
		if err := c.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	c.undo = nil
	return errors.Join(errs...)
}

func (c *Cluster) onClose(f func() error) { c.undo = append(c.undo, f) }

// makeDir creates the cluster's directory; Close removes it unless the file
// system is still mounted inside it.
func (c *Cluster) makeDir(context.Context) error {
	dir, err := os.MkdirTemp("", "moosefstest-")
	if err != nil {
		return fmt.Errorf("create cluster directory: %w", err)
	}
	c.dir = dir
	c.Mount = filepath.Join(dir, "mnt")
	c.onClose(func() error {
		if mounted(c.Mount) {
			return fmt.Errorf("keep %s: %s is still mounted", dir, c.Mount)
		}
		return os.RemoveAll(dir)
	})
	return os.Mkdir(c.Mount, 0o755)
}

func (c *Cluster) makeNetwork(ctx context.Context) error {
	hosts := []int{masterHost}
	for i := range Labels {
		hosts = append(hosts, csHostBase+i)
	}
	n, err := setupNetwork(ctx, randomID(), hosts)
	if err != nil {
		return err
	}
	c.net = n
	c.onClose(func() error { return n.teardown(context.Background()) })
	return nil
}

// randomID is 6 hex digits: short enough for interface names (15 bytes).
func randomID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}
