package moosefstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// emptyMetadata is the fresh file system the Debian package ships.
const emptyMetadata = "/var/lib/mfs/metadata.mfs.empty"

func (c *Cluster) startMaster(ctx context.Context) error {
	dir := filepath.Join(c.dir, "master")
	addr := c.MasterAddr()
	meta, err := os.ReadFile(emptyMetadata)
	if err != nil {
		return fmt.Errorf("start mfsmaster: read empty metadata: %w", err)
	}
	files := map[string]string{
		"metadata.mfs":    string(meta),
		"mfsmaster.cfg":   masterConfig(dir, addr),
		"mfsexports.cfg":  exportsConfig(c.net.addr(0)),
		"mfstopology.cfg": "",
	}
	if err := writeFiles(dir, files); err != nil {
		return fmt.Errorf("start mfsmaster: %w", err)
	}
	d, err := c.startInNamespace("mfsmaster", "mfsmaster", "-c", filepath.Join(dir, "mfsmaster.cfg"), "-f")
	if err != nil {
		return err
	}
	c.master = d
	// The master opens all its ports together; probing the chunkserver port
	// would log a phantom chunkserver, so probe the client port.
	hp := net.JoinHostPort(addr, strconv.Itoa(masterClientPort))
	return poll(ctx, "mfsmaster to listen on "+hp, func() (bool, error) {
		return dialable(hp), d.failure()
	})
}

func (c *Cluster) startChunkservers(ctx context.Context) error {
	for i, label := range Labels {
		cs := Chunkserver{Label: label, Addr: c.net.addr(csHostBase + i), Port: chunkserverPort}
		dir := filepath.Join(c.dir, "cs"+label)
		hdd := filepath.Join(dir, "hdd")
		if err := os.MkdirAll(hdd, 0o755); err != nil {
			return fmt.Errorf("start chunkserver %s: %w", label, err)
		}
		files := map[string]string{
			"mfshdd.cfg":         hdd + "\n",
			"mfschunkserver.cfg": chunkserverConfig(dir, filepath.Join(dir, "mfshdd.cfg"), cs.Addr, label, c.MasterAddr()),
		}
		if err := writeFiles(dir, files); err != nil {
			return fmt.Errorf("start chunkserver %s: %w", label, err)
		}
		d, err := c.startInNamespace("chunkserver "+label, "mfschunkserver", "-c", filepath.Join(dir, "mfschunkserver.cfg"), "-f")
		if err != nil {
			return err
		}
		c.csDaemons[label] = d
		c.chunkservers = append(c.chunkservers, cs)
	}
	return c.waitRegistered(ctx)
}

// waitRegistered waits until the master lists every chunkserver as
// connected. mfscli (a Python program) is authoritative but costly, so it is
// asked once a second until the master's log shows the registrations, then
// on every poll.
func (c *Cluster) waitRegistered(ctx context.Context) error {
	var last error // the latest mfscli failure, reported on time-out
	var asked time.Time
	err := poll(ctx, "chunkservers to register with the master", func() (bool, error) {
		for _, d := range c.csDaemons {
			if err := d.failure(); err != nil {
				return false, err
			}
		}
		if !c.logShows("register end", c.chunkservers...) && time.Since(asked) < time.Second {
			return false, nil
		}
		asked = time.Now()
		up, err := c.connectedChunkservers(ctx)
		last = err
		return err == nil && len(up) == len(Labels), nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last mfscli error: %v)", err, last)
	}
	return err
}

// logShows reports whether the master's log has, for every chunkserver
// given, a line with marker and "ip: ADDR" ("chunkserver register end (packet
// version: 6) - ip: 10.213.7.11 / port: 9422, ...").
func (c *Cluster) logShows(marker string, servers ...Chunkserver) bool {
	b, err := os.ReadFile(c.master.log)
	if err != nil {
		return false
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if _, after, ok := strings.Cut(line, marker); ok {
			if _, ip, ok := strings.Cut(after, "ip: "); ok && len(strings.Fields(ip)) > 0 {
				seen[strings.Fields(ip)[0]] = true
			}
		}
	}
	for _, cs := range servers {
		if !seen[cs.Addr] {
			return false
		}
	}
	return true
}

// startInNamespace starts a daemon inside the cluster's namespace; Close
// kills it.
func (c *Cluster) startInNamespace(name, prog string, args ...string) (*daemon, error) {
	path, err := lookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	argv := append([]string{"ip", "netns", "exec", c.net.ns, path}, args...)
	logName := strings.ReplaceAll(name, " ", "-") + ".log"
	d, err := startDaemon(name, filepath.Join(c.dir, logName), argv...)
	if err != nil {
		return nil, err
	}
	c.onClose(d.kill)
	return d, nil
}

// connectedChunkservers asks the master (mfscli -SCS) which chunkserver
// addresses are connected.
func (c *Cluster) connectedChunkservers(ctx context.Context) (map[string]bool, error) {
	out, err := run(ctx, "mfscli", "-H", c.MasterAddr(), "-P", strconv.Itoa(masterClientPort), "-SCS")
	if err != nil {
		return nil, err
	}
	return parseConnected(out), nil
}

// parseConnected reads mfscli -SCS plain output: connected servers are lines
// "chunk servers:\tIP\tPORT\t..."; disconnected ones are listed under
// "Disconnected chunk servers:".
func parseConnected(out string) map[string]bool {
	up := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "chunk servers:")
		if !ok {
			continue
		}
		if f := strings.Fields(rest); len(f) > 0 {
			up[f[0]] = true
		}
	}
	return up
}

func (c *Cluster) startMount(ctx context.Context) error {
	d, err := startDaemon("mfsmount", filepath.Join(c.dir, "mfsmount.log"),
		"mfsmount", c.Mount, "-f", "-H", c.MasterAddr(), "-P", strconv.Itoa(masterClientPort))
	if err != nil {
		return err
	}
	c.mount = d
	c.onClose(func() error { return c.unmount(d) })
	return poll(ctx, "mfsmount to mount "+c.Mount, func() (bool, error) {
		return mounted(c.Mount), d.failure()
	})
}

// unmount unmounts the file system (lazily if it stays busy), then kills
// mfsmount.
func (c *Cluster) unmount(d *daemon) error {
	var err error
	for deadline := time.Now().Add(2 * time.Second); mounted(c.Mount); time.Sleep(50 * time.Millisecond) {
		err = syscall.Unmount(c.Mount, 0)
		if errors.Is(err, syscall.EBUSY) && time.Now().After(deadline) {
			err = syscall.Unmount(c.Mount, syscall.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, syscall.EBUSY) {
			break
		}
	}
	if mounted(c.Mount) {
		return errors.Join(fmt.Errorf("unmount %s: %w", c.Mount, err), d.kill())
	}
	// mfsmount lingers for seconds after the unmount; nothing is left to flush.
	return d.kill()
}

// mounted reports whether path is a mount point: its device differs from its
// parent's, or it cannot be examined (a FUSE mount whose daemon died answers
// ENOTCONN).
func mounted(path string) bool {
	var st, parent syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return !errors.Is(err, syscall.ENOENT)
	}
	if syscall.Stat(filepath.Dir(path), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// failure is non-nil once the daemon has exited: start-up waits stop early.
func (d *daemon) failure() error {
	if !d.exited() {
		return nil
	}
	return fmt.Errorf("%s exited (%v); %s", d.name, d.err, d.logTail())
}

func dialable(hostport string) bool {
	conn, err := net.DialTimeout("tcp", hostport, 200*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// poll calls check every 20 ms until it reports done, fails, or ctx ends.
func poll(ctx context.Context, what string, check func() (done bool, err error)) error {
	for {
		done, err := check()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// writeFiles creates dir and writes the named files into it.
func writeFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}
