package agents

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/tashi-go/tashi/internal/daemon"
	"github.com/tashi-go/tashi/internal/pki"
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
	if err != nil || err2 != nil {
		log.Error("agent config", "err", fmt.Sprint(err, err2))
		return 2
	}
	a, err := New(Config{Name: name, CM: cm, NMTLS: tlsCfg, ClaimTTL: ttl, Logger: log})
	if err != nil {
		log.Error("agent", "err", err)
		return 2
	}
	log.Info("agent running", "name", name)
	_ = a.Run(ctx)
	log.Info("agent stopped")
	return 0
}
