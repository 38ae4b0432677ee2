package nodemanager

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/tashi-go/tashi/configs"
	"github.com/tashi-go/tashi/images"
	"github.com/tashi-go/tashi/internal/daemon"
	"github.com/tashi-go/tashi/internal/pki"
	"github.com/tashi-go/tashi/nodemanager/qemu"
)

// Main is tashi-nm's command line.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	f := daemon.NewFlags("tashi-nm", stderr)
	if err := f.FS.Parse(args); err != nil {
		return 2
	}
	log := f.Logger(stderr)
	c, err := f.Load("NodeManager")
	if err != nil {
		log.Error("read config", "err", err)
		return 2
	}
	cfg, err := configFrom(c, log)
	if err != nil {
		log.Error("node manager config", "err", err)
		return 2
	}
	nm, err := New(cfg)
	if err != nil {
		log.Error("node manager", "err", err)
		return 2
	}
	if err := nm.Run(ctx, nil); err != nil {
		log.Error("node manager stopped", "err", err)
		return 1
	}
	log.Info("node manager stopped; guests keep running")
	return 0
}

// configFrom reads the NM's keys and builds the QEMU back end and TLS.
func configFrom(c *configs.Config, log *slog.Logger) (Config, error) {
	host := c.String("NodeManager", "hostName")
	if host == "" {
		host, _ = os.Hostname()
	}
	port := c.String("NodeManagerService", "port")
	cfg := Config{HostName: host, Listen: net.JoinHostPort(c.String("NodeManager", "listenAddress"), port),
		Advertise: c.String("NodeManager", "advertise"), Images: images.Store{Prefix: c.String("Vfs", "prefix")},
		BridgePrefix: c.String("NodeManager", "bridgePrefix"), TapPrefix: c.String("NodeManager", "tapPrefix"),
		Logger: log}
	if cfg.Advertise == "" {
		cfg.Advertise = net.JoinHostPort(host, port)
	}
	var errs []error
	cfg.RegisterFrequency, errs = dur(c, errs, "NodeManagerService", "registerFrequency")
	cfg.ShutdownTimeout, errs = dur(c, errs, "NodeManager", "shutdownTimeout")
	raw, err := c.Bool("NodeManager", "suspendRaw")
	cfg.SuspendRaw, errs = raw, append(errs, err)
	reserved, err := c.Int("NodeManager", "reservedMem")
	cfg.ReservedMemory, errs = reserved, append(errs, err)
	cfg.Network, errs = netConfigFrom(c, errs)
	if cfg.CM, err = daemon.CMClient(c, c.String("NodeManager", "tokenFile")); err != nil {
		return cfg, err
	}
	if cfg.VMM, err = qemuFrom(c, log); err != nil {
		return cfg, err
	}
	dir := c.String("Security", "pkiDir")
	cert, key, err := pki.Ensure(dir, "nm-"+host, certNames(host, cfg.Advertise, c.String("NodeManager", "listenAddress")))
	if err == nil {
		cfg.TLS, err = pki.ServerConfig(dir, cert, key)
	}
	return cfg, errors.Join(append(errs, err)...)
}

func qemuFrom(c *configs.Config, log *slog.Logger) (*qemu.Driver, error) {
	var errs []error
	debug, err := c.Bool("Qemu", "debug")
	downtime, errs := dur(c, append(errs, err), "Qemu", "migrationDowntime")
	mig, err1 := c.Int("Qemu", "migrationBandwidth")
	sus, err2 := c.Int("Qemu", "suspendBandwidth")
	if err := errors.Join(append(errs, err1, err2)...); err != nil {
		return nil, err
	}
	return qemu.New(qemu.Config{QemuBin: c.String("Qemu", "qemuBin"), RunDir: c.String("NodeManager", "runDir"),
		Accel: c.String("Qemu", "accel"), Machine: c.String("Qemu", "machine"), CPU: c.String("Qemu", "cpu"),
		Debug: debug, DowntimeLimit: downtime, MigrationBandwidth: int64(mig) << 20,
		SuspendBandwidth: int64(sus) << 20}, log)
}

func dur(c *configs.Config, errs []error, sec, key string) (time.Duration, []error) {
	d, err := c.Duration(sec, key)
	return d, append(errs, err)
}

// netConfigFrom reads the [NodeManager] network keys.
func netConfigFrom(c *configs.Config, errs []error) (NetConfig, []error) {
	n := NetConfig{TunnelAddress: c.String("NodeManager", "tunnelAddress"), Uplink: c.String("NodeManager", "uplink")}
	dhcpOn, err := c.Bool("NodeManager", "dhcp")
	errs = append(errs, err)
	dnsOn, err := c.Bool("NodeManager", "dns")
	errs = append(errs, err)
	n.NoDHCP, n.NoDNS = !dhcpOn, !dnsOn
	n.LeaseTime, errs = dur(c, errs, "NodeManager", "leaseTime")
	n.DNSTTL, errs = dur(c, errs, "NodeManager", "dnsExpire")
	return n, errs
}

// certNames are the names and addresses agents may reach this node
// manager by: its host name, the advertised host and the listen address.
func certNames(host, advertise, listen string) []string {
	out := []string{host}
	if h, _, err := net.SplitHostPort(advertise); err == nil && h != host {
		out = append(out, h)
	}
	if ip := net.ParseIP(listen); ip != nil && !ip.IsUnspecified() {
		out = append(out, listen)
	}
	return out
}
