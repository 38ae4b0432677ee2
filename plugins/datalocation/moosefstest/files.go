package moosefstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// chunkSize is MooseFS's chunk size.
const chunkSize = 64 << 20

// PlaceTimeout bounds the wait in WriteFile for the chunk copies.
const PlaceTimeout = 30 * time.Second

// WriteFile creates file name (e.g. "/data/a", with its directories; an
// existing file is deleted first), size bytes long with every 64 MiB chunk allocated (see
// writeChunkStarts: the content is zeros), and waits until mfsfileinfo shows
// every chunk's valid copies on exactly the chunkservers with the given
// labels: WriteFile("/a", n, "B") keeps one copy on B; ("/bc", n, "B", "C")
// one on B and one on C. With no labels the file gets the default storage
// class and WriteFile only waits for each chunk to have a valid copy.
// Labels pin through a strict storage class set on the file itself, so files
// in one directory may be pinned differently.
func (c *Cluster) WriteFile(name string, size int64, labels ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), PlaceTimeout)
	defer cancel()
	if err := c.writeFile(ctx, name, size, labels); err != nil {
		return fmt.Errorf("write %s (%d bytes, labels %v) to moosefs: %w", name, size, labels, err)
	}
	return nil
}

func (c *Cluster) writeFile(ctx context.Context, name string, size int64, labels []string) error {
	want, err := c.labelAddrs(labels)
	if err != nil {
		return err
	}
	local := c.Path(name)
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return err
	}
	// A new inode, so no storage class of an earlier file of the name sticks.
	if err := os.Remove(local); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(local, nil, 0o644); err != nil {
		return err
	}
	if len(labels) > 0 {
		class, err := c.storageClass(ctx, labels)
		if err != nil {
			return err
		}
		if _, err := run(ctx, "mfssetsclass", class, local); err != nil {
			return fmt.Errorf("pin to %v: %w", labels, err)
		}
	}
	if err := writeChunkStarts(local, size); err != nil {
		return err
	}
	return c.waitPlaced(ctx, local, size, want)
}

// labelAddrs checks labels (distinct, each one of Labels) and returns the
// addresses of their chunkservers.
func (c *Cluster) labelAddrs(labels []string) ([]string, error) {
	var addrs []string
	for i, l := range labels {
		a := c.Addr(l)
		if a == "" {
			return nil, fmt.Errorf("label %q: accepted labels are %v", l, Labels)
		}
		if slices.Contains(labels[:i], l) {
			return nil, fmt.Errorf("label %q given twice: one copy per chunkserver", l)
		}
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return addrs, nil
}

// storageClass returns a strict storage class keeping one copy on each
// labelled chunkserver, creating it on first use.
func (c *Cluster) storageClass(ctx context.Context, labels []string) (string, error) {
	name := "tashi_" + strings.Join(labels, "")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.classes[name] {
		return name, nil
	}
	expr := strings.Join(labels, ",")
	if _, err := run(ctx, "mfsscadmin", c.Mount, "create", "-m", "s", "-K", expr, name); err != nil {
		return "", fmt.Errorf("create storage class %s (-K %s): %w", name, expr, err)
	}
	c.classes[name] = true
	return name, nil
}

// writeChunkStarts makes the (empty) file size bytes long with every chunk
// allocated: it writes one zero byte at the start of each chunk and at the
// last byte, so a 130 MiB file costs four one-byte writes. The rest reads as
// zeros.
func writeChunkStarts(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	zero := []byte{0}
	for off := int64(0); off < size; off += chunkSize {
		if _, err := f.WriteAt(zero, off); err != nil {
			f.Close()
			return err
		}
	}
	if size > 0 {
		if _, err := f.WriteAt(zero, size-1); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// waitPlaced polls mfsfileinfo until each of the file's chunks has valid
// copies on exactly want (or, if want is empty, on at least one server).
func (c *Cluster) waitPlaced(ctx context.Context, local string, size int64, want []string) error {
	chunks := int((size + chunkSize - 1) / chunkSize)
	var last string
	err := poll(ctx, "chunk copies of "+local, func() (bool, error) {
		copies, err := validCopies(ctx, local)
		if err != nil {
			return false, err
		}
		last = fmt.Sprint(copies)
		return placed(copies, chunks, want), nil
	})
	if err != nil {
		return fmt.Errorf("%w (want %d chunks on %v; last seen %s)", err, chunks, want, last)
	}
	return nil
}

func placed(copies [][]string, chunks int, want []string) bool {
	if len(copies) != chunks {
		return false
	}
	for _, got := range copies {
		if len(got) == 0 || (len(want) > 0 && !slices.Equal(got, want)) {
			return false
		}
	}
	return true
}

// validCopies runs mfsfileinfo and returns, per chunk, the sorted addresses
// of its VALID copies. This small reader is independent of package moosefs
// on purpose: tests of that package rely on it.
func validCopies(ctx context.Context, local string) ([][]string, error) {
	path, err := lookPath("mfsfileinfo")
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, path, local).Output()
	if err != nil {
		return nil, fmt.Errorf("mfsfileinfo %s: %w: %s", local, err, out)
	}
	var copies [][]string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "chunk":
			copies = append(copies, nil)
		case len(f) >= 3 && f[0] == "copy" && len(copies) > 0 && validStatus(f[3:]):
			host, _, err := net.SplitHostPort(f[2])
			if err != nil {
				return nil, fmt.Errorf("mfsfileinfo %s: copy line %q: %w", local, sc.Text(), err)
			}
			copies[len(copies)-1] = append(copies[len(copies)-1], host)
		}
	}
	for _, c := range copies {
		slices.Sort(c)
	}
	return copies, nil
}

func validStatus(rest []string) bool {
	return len(rest) == 0 || strings.HasPrefix(rest[0], "(status:VALID")
}

// StopChunkserver kills the chunkserver with label and waits until the
// master no longer lists it as connected, so its copies stop being valid.
func (c *Cluster) StopChunkserver(label string) error {
	d, ok := c.csDaemons[label]
	if !ok {
		return fmt.Errorf("stop chunkserver %q: accepted labels are %v", label, Labels)
	}
	if err := d.kill(); err != nil {
		return fmt.Errorf("stop chunkserver %s: %w", label, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := Chunkserver{Label: label, Addr: c.Addr(label), Port: chunkserverPort}
	var asked time.Time // mfscli is costly: see waitRegistered
	return poll(ctx, "the master to drop chunkserver "+label+" at "+cs.Addr, func() (bool, error) {
		if !c.logShows("chunkserver disconnected", cs) && time.Since(asked) < time.Second {
			return false, nil
		}
		asked = time.Now()
		up, err := c.connectedChunkservers(ctx)
		return err == nil && !up[cs.Addr], nil
	})
}
