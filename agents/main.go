package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tashi-go/tashi/configs"
	"github.com/tashi-go/tashi/internal/daemon"
	"github.com/tashi-go/tashi/internal/pki"
	"github.com/tashi-go/tashi/scheduler"
)

// policy is the scheduler's site configuration: Tashi's [Primitive]
// densePack, and [Scheduler] candidateLimit and gangTimeout.
func policy(c *configs.Config) (scheduler.Policy, error) {
	dense, err1 := c.Bool("Primitive", "densePack")
	limit, err2 := c.Int("Scheduler", "candidateLimit")
	gang, err3 := c.Duration("Scheduler", "gangTimeout")
	return scheduler.Policy{DensePack: dense, CandidateLimit: limit, GangTimeout: gang}, errors.Join(err1, err2, err3)
}

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
	if err := errors.Join(err, err2, err3, err4, err5); err != nil {
		log.Error("agent config", "err", err)
		return 2
	}
	a, err := New(Config{Name: name, CM: cm, NMTLS: tlsCfg, ClaimTTL: ttl, Logger: log, Policy: pol,
		HeldBackoff: backoff, HeldRetries: retries})
	if err != nil {
		log.Error("agent", "err", err)
		return 2
	}
	log.Info("agent running", "name", name)
	_ = a.Run(ctx)
	log.Info("agent stopped")
	return 0
}
