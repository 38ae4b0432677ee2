package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startCMWith starts a CM for one figure on its own database, with extra
// config text appended to its config file (sections and keys as in
// TashiDefaults.cfg) for figures that need a non-default key.
func (e *env) startCMWith(ctx context.Context, name, extra string) (_ *cm, err error) {
	dsn, err := e.database(ctx, name)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	state := filepath.Join(e.dir, name+".state")
	cfg, err := writeCMConfig(e.dir, name)
	if err != nil {
		return nil, err
	}
	if extra != "" {
		if err := appendFile(cfg, "\n"+extra+"\n"); err != nil {
			return nil, fmt.Errorf("write CM config: %w", err)
		}
	}
	c := &cm{name: name, dsn: dsn, url: "http://127.0.0.1:" + strconv.Itoa(port),
		logPath: filepath.Join(e.dir, name+".cm.log"), pidPath: filepath.Join(e.dir, name+".cm.pid"),
		exited: make(chan struct{}), tr: newTransport()}
	if err := c.start(e.cmBin, cfg, state, port); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.stop())
		}
	}()
	if err := c.waitHealthy(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	tok, err := os.ReadFile(filepath.Join(state, "admin.token"))
	if err != nil {
		return nil, fmt.Errorf("read the CM's admin token: %w", err)
	}
	c.admin = c.client(strings.TrimSpace(string(tok)))
	e.progress("CM for %s running: pid %d on %s (config adds %q)", name, c.pid, c.url, extra)
	return c, nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// vfsDir is the image store prefix the CM of figure name was given.
func (e *env) vfsDir(name string) string { return filepath.Join(e.dir, name+".vfs") }
