package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tashi-go/tashi/internal/daemon"
	"github.com/tashi-go/tashi/internal/pki"
	"github.com/tashi-go/tashi/plugins/datalocation/builtin"
)

// Main is tashi-agent's command line.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	f := daemon.NewFlags("tashi-agent", stderr)
	if err := f.FS.Parse(args); err != nil {
		return 2
	}
	log := f.Logger(stderr)
	cfg, err := f.Load("Agent")
	if err != nil {
		log.Error("read config", "err", err)
		return 2
	}
	cm, err := daemon.CMClient(cfg, cfg.String("Agent", "tokenFile"))
	if err != nil {
		log.Error("cluster manager client", "err", err)
		return 2
	}
	name := cfg.String("Agent", "name")
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	dir := cfg.String("Security", "pkiDir")
	cert, key, err := pki.Ensure(dir, "agent-"+name, nil)
	if err != nil {
		log.Error("agent certificate", "err", err)
		return 2
	}
	tlsCfg, err := pki.ClientConfig(dir, cert, key)
	ttl, err2 := cfg.Duration("Agent", "claimTtl")
	pol, err3 := policy(cfg)
	backoff, err4 := cfg.Duration("Agent", "heldBackoff")
	retries, err5 := cfg.Int("Agent", "heldRetries")
	data, err6 := dataLocation(cfg, builtin.NewRegistry())
	topo, err7 := topology(cfg)
	hooks, err8 := hooksFrom(cfg)
	if err := errors.Join(err, err2, err3, err4, err5, err6, err7, err8); err != nil {
		log.Error("agent config", "err", err)
		return 2
	}
	a, err := New(Config{Name: name, CM: cm, NMTLS: tlsCfg, ClaimTTL: ttl, Logger: log, Policy: pol,
		HeldBackoff: backoff, HeldRetries: retries, Locator: data.locator, HostMap: data.hostMap,
		DataCacheTTL: data.cacheTTL, Topology: topo, Hooks: hooks})
	if err != nil {
		log.Error("agent", "err", err)
		return 2
	}
	log.Info("agent running", "name", name, "data_location", cfg.String("DataLocation", "plugin"),
		"topology_hosts", len(topo.Hosts()))
	_ = a.Run(ctx)
	log.Info("agent stopped")
	return 0
}
