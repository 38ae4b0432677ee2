package clustermanager

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/tashi-go/tashi/configs"
)

// Main is tashi-cm's command line: flags override config keys.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("tashi-cm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files multiFlag
	fs.Var(&files, "config", "extra config `file`, read after the layered ones (repeatable)")
	stateDir := fs.String("state-dir", "", "state directory: [ClusterManager] stateDir")
	dsn := fs.String("dsn", "", "PostgreSQL DSN; empty runs an embedded PostgreSQL: [ClusterManager] dsn")
	listen := fs.String("listen", "", "listen address: [ClusterManager] listenAddress")
	port := fs.String("port", "", "listen port: [ClusterManagerService] port")
	clientCfg := fs.String("client-config", "", "write a Client.cfg for the admin to this `path` (make up uses ~/.tashi/Client.cfg)")
	debug := fs.Bool("debug", false, "log at debug level")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *version {
		fmt.Fprintln(stderr, "tashi-cm", Version)
		return 0
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("subsystem", "cm")
	c, err := configs.Load("ClusterManager", configs.LoadOptions{Files: files})
	if err != nil {
		log.Error("read config", "err", err)
		return 2
	}
	set(c, "ClusterManager", "stateDir", *stateDir)
	set(c, "ClusterManager", "dsn", *dsn)
	set(c, "ClusterManager", "listenAddress", *listen)
	set(c, "ClusterManagerService", "port", *port)
	o, err := OptionsFromConfig(c)
	if err != nil {
		log.Error("bad config", "err", err)
		return 2
	}
	o.ClientConfig, o.Logger = *clientCfg, log
	log.Info("config read", "sources", c.Sources())
	if err := Run(ctx, o); err != nil {
		log.Error("cluster manager stopped", "err", err)
		return 1
	}
	log.Info("cluster manager stopped")
	return 0
}

func set(c *configs.Config, section, key, v string) {
	if v != "" {
		c.Set(section, key, v)
	}
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
