// Package daemon holds what tashi-nm and tashi-agent share at start-up:
// flags that override config keys, the logger, the CM client and the
// cluster PKI.
package daemon

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/configs"
)

// Flags are the common flags; Set lists "section.key=value" overrides.
type Flags struct {
	FS     *flag.FlagSet
	files  multi
	sets   multi
	debug  *bool
	Pretty string
}

// NewFlags makes the common flag set of a daemon.
func NewFlags(name string, stderr io.Writer) *Flags {
	f := &Flags{FS: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.FS.SetOutput(stderr)
	f.FS.Var(&f.files, "config", "extra config `file`, read after the layered ones (repeatable)")
	f.FS.Var(&f.sets, "set", "override a config key: `Section.key=value` (repeatable)")
	f.debug = f.FS.Bool("debug", false, "log at debug level")
	return f
}

// Load reads the layered config for program and applies --set overrides.
func (f *Flags) Load(program string) (*configs.Config, error) {
	c, err := configs.Load(program, configs.LoadOptions{Files: f.files})
	if err != nil {
		return nil, err
	}
	for _, s := range f.sets {
		key, val, ok := strings.Cut(s, "=")
		sec, k, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 {
			return nil, fmt.Errorf("--set %q: accepted form is Section.key=value", s)
		}
		c.Set(sec, k, val)
	}
	return c, nil
}

// Logger is a text slog logger at the chosen level.
func (f *Flags) Logger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if *f.debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// CMClient is a client of the CM named in [Client], with the token read
// from tokenFile (a path from the daemon's own section).
func CMClient(c *configs.Config, tokenFile string) (*api.Client, error) {
	tok := c.String("Client", "token")
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return nil, fmt.Errorf("no API token: set tokenFile in the daemon's section or [Client] token")
	}
	timeout, err := c.Duration("Client", "clusterManagerTimeout")
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(c.String("Client", "clusterManagerHost"), c.String("Client", "clusterManagerPort"))
	cl := api.NewClient("http://"+addr, tok)
	cl.HTTP.Timeout = timeout + time.Minute // watches wait up to 30 s by themselves
	return cl, nil
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
