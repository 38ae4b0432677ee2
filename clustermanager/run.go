package clustermanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tashi-go/tashi/clustermanager/pgembed"
	"github.com/tashi-go/tashi/clustermanager/store"
	"github.com/tashi-go/tashi/configs"
	"github.com/tashi-go/tashi/images"
)

// Version is the CM's version string; node managers must report the same
// one unless allowMismatchedVersions. Set at build time with -ldflags.
var Version = "dev"

// Options is everything Run needs, read from the layered config.
type Options struct {
	DSN            string // empty: run an embedded PostgreSQL under StateDir
	StateDir       string
	Listen         string       // host:port
	Images         images.Store // [Vfs] prefix
	AdminUser      string
	BootstrapUsers string // name:role,... made with token files in StateDir
	Limits         store.Limits
	HeartbeatFlush time.Duration
	IdempotencyTTL time.Duration
	ClientConfig   string    // if set, write a Client.cfg for the admin there
	Telemetry      Telemetry // [Telemetry]: topology, link model, sensors
	Logger         *slog.Logger
	Ready          func(addr string) // called once the API listens (tests)
}

// OptionsFromConfig reads the CM's keys from a loaded config.
func OptionsFromConfig(c *configs.Config) (Options, error) {
	o := Options{DSN: c.String("ClusterManager", "dsn"), StateDir: c.String("ClusterManager", "stateDir"),
		AdminUser: c.String("ClusterManager", "adminUser"), Limits: store.DefaultLimits(),
		BootstrapUsers: c.String("ClusterManager", "bootstrapUsers"),
		Images:         images.Store{Prefix: c.String("Vfs", "prefix")}}
	o.Limits.DefaultNetwork = c.String("ClusterManagerService", "defaultNetwork")
	o.Limits.Version = Version
	port, err := c.Int("ClusterManagerService", "port")
	errs := []error{err}
	o.Listen = net.JoinHostPort(c.String("ClusterManager", "listenAddress"), fmt.Sprint(port))
	get := func(f func(string, string) (int, error), sec, key string, dst *int) {
		v, err := f(sec, key)
		*dst = v
		errs = append(errs, err)
	}
	get(c.Int, "ClusterManagerService", "maxCores", &o.Limits.MaxCores)
	get(c.Int, "ClusterManagerService", "maxMemory", &o.Limits.MaxMemory)
	dur := func(sec, key string, dst *time.Duration) {
		v, err := c.Duration(sec, key)
		*dst = v
		errs = append(errs, err)
	}
	dur("ClusterManagerService", "expireHostTime", &o.Limits.ExpireHostTime)
	dur("ClusterManager", "claimTtl", &o.Limits.ClaimTTL)
	dur("ClusterManager", "heartbeatFlush", &o.HeartbeatFlush)
	dur("ClusterManager", "idempotencyTtl", &o.IdempotencyTTL)
	b := func(key string, dst *bool) {
		v, err := c.Bool("ClusterManagerService", key)
		*dst = v
		errs = append(errs, err)
	}
	b("allowDuplicateNames", &o.Limits.AllowDuplicateNames)
	b("allowMismatchedVersions", &o.Limits.AllowMismatched)
	o.Telemetry, err = telemetryFromConfig(c)
	errs = append(errs, err)
	return o, errors.Join(errs...)
}

// Run starts the record (embedded or external), the API and the
// background loops, and serves until ctx ends; then it stops everything
// it started, the embedded PostgreSQL last.
func Run(ctx context.Context, o Options) (err error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	dsn := o.DSN
	if dsn == "" {
		pg, err := startEmbedded(ctx, o, log)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, pg.Stop(context.WithoutCancel(ctx))) }()
		dsn = pg.DSN("tashi")
	}
	st, err := store.Open(ctx, dsn, o.Limits)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := bootstrapAdmin(ctx, st, o, log); err != nil {
		return err
	}
	return serve(ctx, st, o, log)
}

func startEmbedded(ctx context.Context, o Options, log *slog.Logger) (*pgembed.Server, error) {
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", o.StateDir, err)
	}
	pg, err := pgembed.Start(ctx, pgembed.Options{DataDir: filepath.Join(o.StateDir, "pgdata"), Fsync: true, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("start embedded PostgreSQL: %w", err)
	}
	if err := pg.CreateDatabase(ctx, "tashi", ""); err != nil && !isDuplicateDB(err) {
		_ = pg.Stop(ctx)
		return nil, fmt.Errorf("create the tashi database: %w", err)
	}
	log.Info("embedded PostgreSQL running", "data", pg.DataDir(), "socket", pg.SocketDir())
	return pg, nil
}

func serve(ctx context.Context, st *store.Store, o Options, log *slog.Logger) error {
	srv := NewServer(st, log, o.Images, WithTelemetry(o.Telemetry))
	log.Info("telemetry", o.Telemetry.describe()...)
	srv.syncImages(ctx)
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	loops, stop := context.WithCancel(ctx)
	wait := srv.Start(loops, o.HeartbeatFlush)
	go pruneLoop(loops, st, o.IdempotencyTTL, log)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	log.Info("cluster manager listening", "addr", ln.Addr().String(), "version", Version)
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	err = hs.Serve(ln)
	stop()
	wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func pruneLoop(ctx context.Context, st *store.Store, ttl time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := st.PruneRequests(ctx, ttl); err != nil && ctx.Err() == nil {
			log.Warn("prune idempotency keys", "err", err)
		} else if n > 0 {
			log.Info("pruned idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
