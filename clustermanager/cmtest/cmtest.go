// Package cmtest starts a real cluster manager for tests and benchmarks:
// the HTTP API on a loopback port over a fresh PostgreSQL database of the
// package's throwaway cluster (internal/pgtest).
package cmtest

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager"
	"github.com/tashi-go/tashi/clustermanager/store"
	"github.com/tashi-go/tashi/images"
	"github.com/tashi-go/tashi/internal/pgtest"
)

// Main is TestMain for packages that use cmtest: migrations are applied
// once to a template database that every test clones.
func Main(m *testing.M) {
	pgtest.SetTemplate(func(ctx context.Context, dsn string) error {
		return store.Migrate(ctx, dsn)
	})
	pgtest.Main(m)
}

// Cluster is a running CM with an admin client.
type Cluster struct {
	URL    string
	DSN    string
	Store  *store.Store
	Admin  *api.Client
	Server *clustermanager.Server
}

// Option changes the limits before the CM starts.
type Option func(*store.Limits)

// New starts a CM on a fresh database; everything stops at test cleanup.
func New(t testing.TB, opts ...Option) *Cluster {
	return NewWithImages(t, images.Store{}, opts...)
}

// NewWithImages is New with an image store the CM lists and works on.
func NewWithImages(t testing.TB, imgs images.Store, opts ...Option) *Cluster {
	t.Helper()
	return start(t, imgs, nil, opts)
}

// NewWithTelemetry is New with the topology, link model and sensors the
// CM computes metrics from; the sensors are read from the start.
func NewWithTelemetry(t testing.TB, tel clustermanager.Telemetry, opts ...Option) *Cluster {
	t.Helper()
	return start(t, images.Store{}, []clustermanager.ServerOption{clustermanager.WithTelemetry(tel)}, opts)
}

func start(t testing.TB, imgs images.Store, srvOpts []clustermanager.ServerOption, opts []Option) *Cluster {
	t.Helper()
	dsn := pgtest.NewDB(t)
	l := store.DefaultLimits()
	l.ExpireHostTime = 5 * time.Second
	for _, o := range opts {
		o(&l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, dsn, l)
	if err != nil {
		t.Fatal(err)
	}
	srv := clustermanager.NewServer(st, slog.New(slog.NewTextHandler(testWriter{t}, nil)), imgs, srvOpts...)
	wait := srv.Start(ctx, 50*time.Millisecond)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); cancel(); wait(); st.Close() })
	tok, err := st.EnsureAdmin(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	admin := api.NewClient(hs.URL, tok)
	admin.RetryFor = time.Millisecond
	return &Cluster{URL: hs.URL, DSN: dsn, Store: st, Admin: admin, Server: srv}
}

// User creates an account with the role and quota and returns its client.
func (c *Cluster) User(t testing.TB, name string, role api.Role, q api.AddUserRequest) *api.Client {
	t.Helper()
	q.Name, q.Role = name, role
	u, err := c.Admin.AddUser(context.Background(), q)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	cl := api.NewClient(c.URL, u.Token)
	cl.RetryFor = time.Millisecond
	return cl
}

// Image registers a base image.
func (c *Cluster) Image(t testing.TB, name string) {
	t.Helper()
	if _, err := c.Admin.AddImage(context.Background(), api.AddImageRequest{Name: name, Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
}

// Host adds a host and brings it up through a node manager registration.
func (c *Cluster) Host(t testing.TB, nm *api.Client, name string, cores, memory int) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Admin.AddHost(ctx, api.AddHostRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	r, err := nm.Register(ctx, api.RegisterRequest{Name: name, Version: "dev", Cores: cores, Memory: memory})
	if err != nil {
		t.Fatal(err)
	}
	return r.HostID
}

// Spec is a small valid createVm request.
func Spec(name string) api.InstanceSpec {
	return api.InstanceSpec{Name: name, Cores: 1, Memory: 128, Disks: []api.Disk{{URI: "tiny.qcow2"}}}
}

// testWriter sends the CM's log lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// CM started as a separate process.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
